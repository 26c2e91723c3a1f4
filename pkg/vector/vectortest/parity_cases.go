package vectortest

import "github.com/qdrant/go-client/qdrant"

// Where Qdrant's test checks the top N of a search, the case expects every
// point that passes the filter (the test's N are among them).

const (
	openapi   = "tests/openapi/"
	jsonPathT = "lib/segment/src/json_path/mod.rs::"
	checkerT  = "lib/segment/src/payload_storage/query_checker.rs::test_condition_checker"
	valueT    = "lib/segment/src/payload_storage/condition_checker.rs::"
)

// multiUnindexed is multiPoints without payload indexes.
var multiUnindexed = &parityFixture{name: "multipayload_collection_setup (no index)", points: multiPoints.points}

var everyBasic = []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

// anyEmptyPoints is tests/openapi/test_match_any_empty.py create_collection
// (test_match_except_empty.py loads the same points), with the indexes its
// test_create_indexes adds.
var anyEmptyPoints = &parityFixture{
	name: "test_match_any_empty",
	points: `[
		{"id": 1, "payload": {"n": 1, "tag": "a", "uid": "550e8400-e29b-41d4-a716-446655440001"}},
		{"id": 2, "payload": {"n": 2, "tag": "b", "uid": "550e8400-e29b-41d4-a716-446655440002"}},
		{"id": 3, "payload": {"n": 3, "tag": "c", "uid": "550e8400-e29b-41d4-a716-446655440003"}}
	]`,
	indexes: []parityIndex{
		{field: "n", typ: qdrant.FieldType_FieldTypeInteger},
		{field: "tag", typ: qdrant.FieldType_FieldTypeKeyword},
		{field: "uid", typ: qdrant.FieldType_FieldTypeUuid},
	},
}

// tagsPoints is tests/openapi/test_filter_values_count_missing_field.py.
var tagsPoints = &parityFixture{
	name: "test_filter_values_count_missing_field",
	points: `[
		{"id": 1, "payload": {"tags": ["a", "b", "c"]}},
		{"id": 2, "payload": {"tags": ["x"]}},
		{"id": 3, "payload": {"title": "no tags field"}}
	]`,
	indexes: []parityIndex{{field: "tags", typ: qdrant.FieldType_FieldTypeKeyword}},
}

// isEmptyPoints is tests/openapi/test_filter_is_empty.py: an indexed field no
// point has, then test_filter_is_empty_after_clear_and_rebuild's points.
var isEmptyPoints = &parityFixture{
	name: "test_filter_is_empty",
	points: `[
		{"id": 1, "payload": {"status": null}},
		{"id": 2, "payload": {}},
		{"id": 3, "payload": {"status": "live"}}
	]`,
	indexes: []parityIndex{{field: "a", typ: qdrant.FieldType_FieldTypeKeyword}, {field: "status", typ: qdrant.FieldType_FieldTypeKeyword}},
}

// checkerPoint is the payload of query_checker.rs test_condition_checker
// (its geo and datetime fields left out: the embedded store refuses those
// conditions, so the test's geo conditions are replaced by has_delivery and
// amount ones of the same truth), as point 1; point 10 has no payload, for
// the has_id checks.
var checkerPoint = &parityFixture{
	name: "test_condition_checker",
	points: `[
		{"id": 1, "payload": {"price": 499.90, "amount": 10, "rating": [3, 7, 9, 9], "color": "red",
			"has_delivery": true, "parts": [], "packaging": null, "not_null": [null]}},
		{"id": 10, "payload": null}
	]`,
	indexes: []parityIndex{{field: "color", typ: qdrant.FieldType_FieldTypeKeyword}, {field: "rating", typ: qdrant.FieldType_FieldTypeInteger}},
}

// valuePoints are the values of condition_checker.rs
// test_value_checker_for_null_or_empty, one point each under "v".
var valuePoints = &parityFixture{
	name: "test_value_checker_for_null_or_empty",
	points: `[
		{"id": 1, "payload": {"v": []}},
		{"id": 2, "payload": {"v": [null]}},
		{"id": 3, "payload": {"v": [true]}},
		{"id": 4, "payload": {"v": [true, null]}},
		{"id": 5, "payload": {"v": {}}},
		{"id": 6, "payload": {"v": "string"}},
		{"id": 7, "payload": {"v": 1}},
		{"id": 8, "payload": {"v": true}}
	]`,
}

// pathPoints are the JSON maps of the json_path/mod.rs value_get tests, one
// point each; the tests' expected values become filters that hold exactly
// when value_get returns them.
var pathPoints = &parityFixture{
	name: "json_path value_get",
	points: `[
		{"id": 1, "payload": {"a": {"b": {"c": 1}}, "d": 2}},
		{"id": 2, "payload": {"a": [{"b": 1}, {"b": 2}, {"b": null}, {"d": []}, {"d": []}, {"f": null}]}},
		{"id": 3, "payload": {"a": {"b": [{"c": 1}, {"c": 2}, {"d": {"e": 3}}]}, "f": 3, "g": ["g0", "g1", "g2"]}},
		{"id": 4, "payload": {"arr1": [{"arr2": [{"a": 1, "b": 2}]}, {"arr2": [{"a": 3, "b": 4}, {"a": 5, "b": 6}]}]}},
		{"id": 5, "payload": {"arr": [{"a": [1, 2, 3]}, {"a": 4}, {"b": 5}]}},
		{"id": 6, "payload": {"a": null, "b": [null, null], "c": []}}
	]`,
}

// textPoints check the full-text index: with one, Qdrant matches words
// (word tokenizer, lowercase), not substrings. Qdrant source:
// lib/segment/src/index/field_index/full_text_index (read_ops.rs
// special_check_condition, tokenizers/mod.rs WordTokenizer).
var textPoints = &parityFixture{
	name: "full-text index",
	points: `[
		{"id": 1, "payload": {"text": "The quick brown fox"}},
		{"id": 2, "payload": {"text": "a party of foxes"}},
		{"id": 3, "payload": {"text": ["Brown-bears", "quick"]}},
		{"id": 4, "payload": {"text": 7}}
	]`,
	indexes:     []parityIndex{{field: "text", typ: qdrant.FieldType_FieldTypeText}},
	indexedOnly: true,
}

func parityCases() []parityCase {
	var cs []parityCase
	add := func(source string, fx *parityFixture, filter string, want ...any) {
		cs = append(cs, parityCase{source: source, fixture: fx, filter: filter, want: want})
	}
	refuse := func(source string, fx *parityFixture, filter string) {
		cs = append(cs, parityCase{source: source, fixture: fx, filter: filter, wantErr: true})
	}

	// tests/openapi/test_filter.py
	add(openapi+"test_filter.py::test_match_any", basicPoints,
		`{"must": [{"key": "city", "match": {"any": ["London", "Moscow"]}}]}`, 2, 3, 4)
	refuse(openapi+"test_filter.py::test_just_key", basicPoints,
		`{"must": [{"key": "city"}]}`)

	// tests/openapi/test_filter_values_count.py::test_filter_values_count
	vc := openapi + "test_filter_values_count.py::test_filter_values_count"
	add(vc, basicPoints, `{"must": [{"key": "city", "values_count": {"gt": 2}}]}`)
	add(vc, basicPoints, `{"must": [{"key": "city", "values_count": {"gte": 2}}]}`, 2, 3, 4)
	add(vc, basicPoints, `{"must": [{"key": "city", "values_count": {"lt": 2}}]}`, 1, 5, 6, 7, 8, 9, 10)

	// tests/openapi/test_filter_values_count_missing_field.py
	vm := openapi + "test_filter_values_count_missing_field.py::test_filter_values_count_missing_field"
	add(vm, tagsPoints, `{"must": [{"key": "tags", "values_count": {"lt": 1}}]}`, 3)
	add(vm, tagsPoints, `{"must": [{"key": "tags", "values_count": {"gte": 0}}]}`, 1, 2, 3)
	add(vm, tagsPoints, `{"must": [{"key": "tags", "values_count": {"lte": 0}}]}`, 3)
	add(valueT+"test_value_count_missing_field", tagsPoints, `{"must": [{"key": "tags", "values_count": {"gte": 1}}]}`, 1, 2)

	// tests/openapi/test_count.py::test_exact_count_search
	add(openapi+"test_count.py::test_exact_count_search", basicPoints,
		`{"should": [{"key": "city", "match": {"value": "London"}}, {"key": "city", "match": {"value": "Berlin"}}]}`, 1, 2, 3, 4)

	// tests/openapi/test_basic_retrieve_api.py::test_is_null_condition
	isNull := openapi + "test_basic_retrieve_api.py::test_is_null_condition"
	add(isNull, basicPoints, `{"should": [{"is_null": {"key": "city"}}]}`, 7)
	add(isNull, basicPoints, `{"should": [{"key": "city", "is_null": true}]}`, 7)
	add(isNull, basicPoints, `{"must_not": [{"is_null": {"key": "city"}}]}`, 1, 2, 3, 4, 5, 6, 8, 9, 10)
	add(isNull, basicPoints, `{"must": [{"key": "city", "is_null": false}]}`, 1, 2, 3, 4, 5, 6, 8, 9, 10)
	// "city[]" on a null or a string finds no value at all, so nothing is
	// null there: every point passes both forms.
	add(isNull, basicPoints, `{"must_not": [{"is_null": {"key": "city[]"}}]}`, everyBasic...)
	add(isNull, basicPoints, `{"must": [{"key": "city[]", "is_null": false}]}`, everyBasic...)

	// tests/openapi/test_filter_min_should.py
	ms := openapi + "test_filter_min_should.py::"
	threeWays := `"conditions": [{"key": "city", "match": {"any": ["Berlin", "Moscow"]}}, {"key": "color", "match": {"value": "red"}}, {"key": "count", "match": {"value": 0}}], "min_count": 2`
	add(ms+"test_min_should_never", multiPoints,
		`{"min_should": {"conditions": [{"has_id": [1, 2]}, {"has_id": [4, 5, 6]}, {"has_id": [7, 8, 9, 10]}], "min_count": 2}}`)
	add(ms+"test_min_should", multiPoints, `{"min_should": {`+threeWays+`}}`, 1, 4, 5, 6, 7, 8)
	add(ms+"test_min_should_combined_with_must", multiPoints,
		`{"min_should": {`+threeWays+`}, "must": [{"key": "price", "range": {"gt": null, "gte": 50.0, "lt": null, "lte": 200.0}}]}`, 7, 8)
	add(ms+"test_nested_min_should", multiPoints, `{"must_not": [{"min_should": {`+threeWays+`}}]}`, 2, 3)

	// tests/openapi/test_match_any_empty.py and test_match_except_empty.py
	ma := openapi + "test_match_any_empty.py::"
	for _, key := range []string{"n", "tag", "uid"} {
		add(ma+"test_match_any_empty_"+map[string]string{"n": "integer", "tag": "keyword", "uid": "uuid"}[key]+"_no_index", anyEmptyPoints,
			`{"must": [{"key": "`+key+`", "match": {"any": []}}]}`)
		add(openapi+"test_match_except_empty.py::test_match_except_empty_"+map[string]string{"n": "integer", "tag": "keyword", "uid": "uuid"}[key]+"_no_index", anyEmptyPoints,
			`{"must": [{"key": "`+key+`", "match": {"except": []}}]}`, 1, 2, 3)
	}
	add(ma+"test_match_any_integers_no_index", anyEmptyPoints, `{"must": [{"key": "n", "match": {"any": [1]}}]}`, 1)
	add(ma+"test_match_any_strings_no_index", anyEmptyPoints, `{"must": [{"key": "tag", "match": {"any": ["a"]}}]}`, 1)
	add(ma+"test_match_any_integers_with_index", anyEmptyPoints, `{"must": [{"key": "n", "match": {"any": [1, 2]}}]}`, 1, 2)
	add(ma+"test_match_any_strings_with_index", anyEmptyPoints, `{"must": [{"key": "tag", "match": {"any": ["a", "b"]}}]}`, 1, 2)
	add(ma+"test_match_any_empty_with_strict_mode_in_must_not", anyEmptyPoints, `{"must_not": [{"key": "n", "match": {"any": []}}]}`, 1, 2, 3)
	me := openapi + "test_match_except_empty.py::"
	add(me+"test_match_except_integers_no_index", anyEmptyPoints, `{"must": [{"key": "n", "match": {"except": [1]}}]}`, 2, 3)
	add(me+"test_match_except_strings_no_index", anyEmptyPoints, `{"must": [{"key": "tag", "match": {"except": ["a"]}}]}`, 2, 3)
	add(me+"test_match_except_uuids_no_index", anyEmptyPoints,
		`{"must": [{"key": "uid", "match": {"except": ["550e8400-e29b-41d4-a716-446655440001"]}}]}`, 2, 3)

	// tests/openapi/test_filter_is_empty.py
	add(openapi+"test_filter_is_empty.py::test_filter_is_empty", isEmptyPoints, `{"must": [{"is_empty": {"key": "a"}}]}`, 1, 2, 3)
	add(openapi+"test_filter_is_empty.py::test_filter_is_empty_after_clear_and_rebuild", isEmptyPoints,
		`{"must": [{"is_empty": {"key": "status"}}]}`, 1, 2)

	// tests/openapi/test_nested_payload_query.py::test_nested_payload_indexing_operations
	nq := openapi + "test_nested_payload_query.py::test_nested_payload_indexing_operations"
	nest := func(key, filter string) string {
		return `{"must": [{"nested": {"key": "` + key + `", "filter": ` + filter + `}}]}`
	}
	add(nq, nestedPoints, nest("country.cities[]", `{"must": [{"key": "population", "range": {"gte": 9.0}}]}`), 4)
	add(nq, nestedPoints, nest("country.cities", `{"must": [{"key": "population", "range": {"gte": 9.0}}]}`), 4)
	add(nq, nestedPoints, nest("country.cities", `{"must": [{"must": [{"key": "sightseeing", "values_count": {"gt": 3}}]}]}`), 3)
	add(nq, nestedPoints, nest("country.cities",
		`{"must": [{"key": "population", "range": {"gte": 9.0}}], "must_not": [{"key": "sightseeing", "values_count": {"gt": 1}}]}`))
	add(nq, nestedPoints, nest("country.cities",
		`{"must": [{"key": "population", "range": {"gte": 9.0}}, {"key": "sightseeing", "values_count": {"gt": 2}}]}`))
	add(nq, nestedPoints, nest("country.cities",
		`{"must": [{"key": "population", "range": {"gte": 8.0}}, {"key": "sightseeing", "values_count": {"lt": 3}}]}`), 4)
	add(nq, nestedPoints, nest("country.cities",
		`{"must_not": [{"key": "population", "range": {"lt": 8.0}}, {"is_null": {"key": "name"}}]}`), 2, 4)
	add(nq, nestedPoints, nest("country.cities",
		`{"must_not": [{"key": "population", "range": {"lt": 8.0}}, {"key": "sightseeing", "values_count": {"gte": 3}}, {"is_null": {"key": "name"}}]}`), 4)
	add(nq, nestedPoints, nest("country.cities", `{"must": [{"is_null": {"key": "name"}}]}`), 5)
	// The indexes test_nested_payload_query.py creates, used as plain keys.
	add(nq, nestedPoints, `{"must": [{"key": "country.capital", "match": {"value": "Tokyo"}}]}`, 4)
	add(nq, nestedPoints, `{"must": [{"key": "country.cities[].population", "range": {"gte": 9.0}}]}`, 4)
	// A nested filter only looks at array elements: "country" is one object
	// (query_checker.rs check_payload, Condition::Nested uses array_key).
	add(nq, nestedPoints, nest("country", `{"must": [{"key": "name", "match": {"value": "Japan"}}]}`))
	// A dotted key does not look inside arrays: only "[]" does.
	add(nq, nestedPoints, `{"must": [{"key": "country.cities.name", "match": {"value": "Tokyo"}}]}`)
	add(nq, nestedPoints, `{"must": [{"key": "country.cities[].name", "match": {"value": "Tokyo"}}]}`, 4)
	add(nq, nestedPoints, `{"must": [{"key": "country.cities[0].name", "match": {"value": "Tokyo"}}]}`, 4)
	add(nq, nestedPoints, `{"must": [{"key": "country.cities[1].name", "match": {"value": "Tokyo"}}]}`)

	// lib/segment/src/payload_storage/query_checker.rs::test_condition_checker
	for _, c := range []struct {
		filter string
		want   []any
	}{
		{`{"must": [{"is_empty": {"key": "price"}}]}`, []any{10}},
		{`{"must": [{"is_empty": {"key": "something_new"}}]}`, []any{1, 10}},
		{`{"must": [{"is_empty": {"key": "parts"}}]}`, []any{1, 10}},
		{`{"must": [{"is_empty": {"key": "not_null"}}]}`, []any{10}},
		{`{"must": [{"is_null": {"key": "amount"}}]}`, nil},
		{`{"must": [{"is_null": {"key": "parts"}}]}`, nil},
		{`{"must": [{"is_null": {"key": "something_else"}}]}`, nil},
		{`{"must": [{"is_null": {"key": "packaging"}}]}`, []any{1}},
		{`{"must": [{"is_null": {"key": "not_null"}}]}`, nil},
		{`{"must": [{"key": "rating", "values_count": {"gte": 10}}]}`, nil},
		{`{"must": [{"key": "rating", "values_count": {"lt": 5}}]}`, []any{1, 10}},
		{`{"must": [{"key": "color", "match": {"value": "red"}}]}`, []any{1}},
		{`{"must": [{"key": "color", "match": {"value": "blue"}}]}`, nil},
		{`{"must_not": [{"key": "color", "match": {"value": "blue"}}]}`, []any{1, 10}},
		{`{"must_not": [{"key": "color", "match": {"value": "red"}}]}`, []any{10}},
		{`{"should": [{"key": "color", "match": {"value": "red"}}, {"key": "color", "match": {"value": "blue"}}], "must": [{"key": "has_delivery", "match": {"value": true}}]}`, []any{1}},
		{`{"must_not": [{"key": "rating", "range": {"lte": 5}}]}`, []any{10}},
		{`{"min_should": {"conditions": [{"key": "color", "match": {"value": "blue"}}, {"key": "amount", "match": {"value": 11}}], "min_count": 1}}`, nil},
		{`{"min_should": {"conditions": [{"key": "color", "match": {"value": "red"}}, {"key": "has_delivery", "match": {"value": true}}, {"key": "amount", "match": {"value": 11}}], "min_count": 2}}`, []any{1}},
		{`{"min_should": {"conditions": [{"must": [{"key": "color", "match": {"value": "blue"}}]}, {"must": [{"key": "color", "match": {"value": "red"}}, {"key": "has_delivery", "match": {"value": true}}]}], "min_count": 1}}`, []any{1}},
		{`{"must_not": [{"has_id": [1, 2, 3]}]}`, []any{10}},
		{`{"must": [{"has_id": [1, 2, 3]}]}`, []any{1}},
	} {
		add(checkerT, checkerPoint, c.filter, c.want...)
	}

	// lib/segment/src/payload_storage/condition_checker.rs
	nullOrEmpty := valueT + "test_value_checker_for_null_or_empty"
	add(nullOrEmpty, valuePoints, `{"must": [{"key": "v", "is_empty": true}]}`, 1)
	add(nullOrEmpty, valuePoints, `{"must": [{"key": "v", "is_empty": false}]}`, 2, 3, 4, 5, 6, 7, 8)
	add(nullOrEmpty, valuePoints, `{"must": [{"key": "v", "is_null": true}]}`, 2, 4)
	add(nullOrEmpty, valuePoints, `{"must": [{"key": "v", "is_null": false}]}`, 1, 3, 5, 6, 7, 8)
	// The is_empty and is_null conditions (not clauses) on the same values:
	// [null] is neither empty nor null (common/utils.rs check_is_empty,
	// check_is_null).
	add(nullOrEmpty, valuePoints, `{"must": [{"is_empty": {"key": "v"}}]}`, 1)
	add(nullOrEmpty, valuePoints, `{"must": [{"is_null": {"key": "v"}}]}`)
	add(valueT+"test_value_count", valuePoints, `{"must": [{"key": "v", "values_count": {"gt": 1}}]}`, 4)
	add(valueT+"test_value_count", valuePoints, `{"must": [{"key": "v", "values_count": {"lt": 1}}]}`, 1)
	// One field condition with several clauses: any clause may hold for a
	// value (condition_checker.rs ValueChecker for FieldCondition). Qdrant
	// only does so without an index on the field: its map and numeric index
	// checkers (map_index/payload_index_impl condition_checker_impl) look at
	// the match clause alone. The embedded store ORs with or without
	// indexes, so these cases run unindexed only.
	add(valueT+"ValueChecker::check_match", multiUnindexed,
		`{"must": [{"key": "count", "match": {"value": 0}, "range": {"gte": 1}}]}`, 5, 6, 7, 8)
	add(valueT+"ValueChecker::check_match", multiUnindexed,
		`{"must": [{"key": "price", "match": {"value": 7}, "range": {"gt": 20}}]}`, 7, 8)
	// values_count, when given, decides alone (ValueChecker::check).
	add(valueT+"ValueChecker::check", multiUnindexed,
		`{"must": [{"key": "city", "match": {"value": "Seoul"}, "values_count": {"gt": 1}}]}`, 2, 3, 4)

	// lib/segment/src/json_path/mod.rs
	add(jsonPathT+"test_get_nested_value_from_json_map", pathPoints, `{"must": [{"key": "a.b.c", "match": {"value": 1}}]}`, 1)
	add(jsonPathT+"test_get_nested_value_from_json_map", pathPoints, `{"must": [{"key": "a.b", "values_count": {"gte": 1}}, {"key": "a.b.c", "values_count": {"gte": 1}}]}`, 1)
	add(jsonPathT+"test_get_nested_value_from_json_map", pathPoints, `{"must": [{"is_empty": {"key": "a.b.c.d"}}, {"has_id": [1]}]}`, 1)
	add(jsonPathT+"test_is_empty", pathPoints, `{"must": [{"is_empty": {"key": "a[].b"}}, {"has_id": [2]}]}`)
	add(jsonPathT+"test_is_empty", pathPoints, `{"must": [{"is_empty": {"key": "a[].c"}}, {"is_empty": {"key": "a[].d"}}, {"is_empty": {"key": "a[].f"}}, {"has_id": [2]}]}`, 2)
	add(jsonPathT+"test_get_nested_array_value_from_json_map", pathPoints, `{"must": [{"key": "a.b", "values_count": {"gte": 3}}]}`, 3)
	add(jsonPathT+"test_get_nested_array_value_from_json_map", pathPoints, `{"must": [{"key": "a.b[]", "values_count": {"gte": 2}}]}`)
	add(jsonPathT+"test_get_nested_array_value_from_json_map", pathPoints, `{"must": [{"key": "a.b[].c", "match": {"any": [1, 2]}}]}`, 3)
	add(jsonPathT+"test_get_nested_array_value_from_json_map", pathPoints, `{"must": [{"key": "a.b[].d.e", "match": {"value": 3}}]}`, 3)
	add(jsonPathT+"test_get_nested_array_value_from_json_map", pathPoints, `{"must": [{"key": "a.b[1].c", "match": {"value": 2}}]}`, 3)
	add(jsonPathT+"test_get_nested_array_value_from_json_map", pathPoints, `{"must": [{"key": "a.b[0].c", "match": {"value": 2}}]}`)
	add(jsonPathT+"test_get_nested_array_value_from_json_map", pathPoints, `{"must": [{"key": "g[2]", "match": {"value": "g2"}}]}`, 3)
	add(jsonPathT+"test_get_nested_array_value_from_json_map", pathPoints, `{"must": [{"key": "a.b[2].d.e", "match": {"value": 3}}]}`, 3)
	add(jsonPathT+"test_get_nested_array_value_from_json_map", pathPoints, `{"must": [{"is_empty": {"key": "a.b[3]"}}, {"has_id": [3]}]}`, 3)
	add(jsonPathT+"test_get_deeply_nested_array_value_from_json_map", pathPoints, `{"must": [{"key": "arr1[].arr2[].a", "match": {"value": 5}}]}`, 4)
	add(jsonPathT+"test_get_deeply_nested_array_value_from_json_map", pathPoints, `{"must": [{"key": "arr1[].arr2[].a", "match": {"value": 6}}]}`)
	add(jsonPathT+"test_no_flatten_array_value_from_json_map", pathPoints, `{"must": [{"key": "arr[].a", "values_count": {"gt": 2}}]}`, 5)
	add(jsonPathT+"test_no_flatten_array_value_from_json_map", pathPoints, `{"must": [{"key": "arr[].a[]", "values_count": {"gt": 1}}]}`)
	add(jsonPathT+"test_no_flatten_array_value_from_json_map", pathPoints, `{"must": [{"key": "arr[].a[]", "match": {"any": [3, 4]}}]}`, 5)
	add(jsonPathT+"test_no_flatten_array_value_from_json_map", pathPoints, `{"must": [{"key": "arr[].a", "match": {"value": 4}}]}`, 5)
	nullAbsent := jsonPathT + "test_get_null_and_absent_values"
	add(nullAbsent, pathPoints, `{"must": [{"is_null": {"key": "a"}}]}`, 6)
	add(nullAbsent, pathPoints, `{"must": [{"is_null": {"key": "a[]"}}]}`)
	add(nullAbsent, pathPoints, `{"must": [{"is_empty": {"key": "a[]"}}, {"has_id": [6]}]}`, 6)
	add(nullAbsent, pathPoints, `{"must": [{"is_null": {"key": "b"}}]}`)
	add(nullAbsent, pathPoints, `{"must": [{"is_null": {"key": "b[]"}}]}`, 6)
	add(nullAbsent, pathPoints, `{"must": [{"key": "b", "values_count": {"gte": 2}}]}`, 6)
	add(nullAbsent, pathPoints, `{"must": [{"is_empty": {"key": "c"}}, {"is_empty": {"key": "c[]"}}, {"is_empty": {"key": "d"}}, {"is_empty": {"key": "d[]"}}, {"has_id": [6]}]}`, 6)
	refuse(jsonPathT+"test_parse (json_path/parse.rs)", pathPoints, `{"must": [{"key": "a..b", "match": {"value": 1}}]}`)
	refuse(jsonPathT+"test_parse (json_path/parse.rs)", pathPoints, `{"must": [{"key": "a[x]", "match": {"value": 1}}]}`)

	// Full-text index: words, not substrings.
	ft := "lib/segment/src/index/field_index/full_text_index/read_ops.rs::special_check_condition"
	add(ft, textPoints, `{"must": [{"key": "text", "match": {"text": "fox"}}]}`, 1)
	add(ft, textPoints, `{"must": [{"key": "text", "match": {"text": "QUICK brown"}}]}`, 1)
	// Each string of an array is a document of its own: no one string of
	// point 3 holds both words.
	add(ft, textPoints, `{"must": [{"key": "text", "match": {"text": "brown quick"}}]}`, 1)
	add(ft, textPoints, `{"must": [{"key": "text", "match": {"text": "bears"}}]}`, 3)
	add(ft, textPoints, `{"must": [{"key": "text", "match": {"text": "art"}}]}`)
	add(ft, textPoints, `{"must": [{"key": "text", "match": {"text_any": "foxes bears"}}]}`, 2, 3)
	add(ft, textPoints, `{"must": [{"key": "text", "match": {"phrase": "brown fox"}}]}`, 1)
	add(ft, textPoints, `{"must": [{"key": "text", "match": {"phrase": "fox brown"}}]}`)
	return cs
}
