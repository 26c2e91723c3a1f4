package vectortest

import (
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func field(fc *qdrant.FieldCondition) *qdrant.Condition {
	return &qdrant.Condition{ConditionOneOf: &qdrant.Condition_Field{Field: fc}}
}

func TestRESTFilter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		js   string
		want *qdrant.Filter
	}{
		{"keyword", `{"must": [{"key": "city", "match": {"value": "London"}}]}`,
			&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("city", "London")}}},
		{"integer and bool", `{"should": [{"key": "n", "match": {"value": 3}}, {"key": "b", "match": {"value": true}}]}`,
			&qdrant.Filter{Should: []*qdrant.Condition{qdrant.NewMatchInt("n", 3), qdrant.NewMatchBool("b", true)}}},
		{"single condition instead of a list", `{"must_not": {"key": "city", "match": {"any": ["a", "b"]}}}`,
			&qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewMatchKeywords("city", "a", "b")}}},
		{"any integers and except", `{"must": [{"key": "n", "match": {"any": [1, 2]}}, {"key": "n", "match": {"except": [3]}}, {"key": "s", "match": {"except": ["x"]}}]}`,
			&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchInts("n", 1, 2), qdrant.NewMatchExceptInts("n", 3), qdrant.NewMatchExcept("s", "x")}}},
		{"empty any is an empty keyword list", `{"must": [{"key": "n", "match": {"any": []}}]}`,
			&qdrant.Filter{Must: []*qdrant.Condition{field(&qdrant.FieldCondition{Key: "n", Match: &qdrant.Match{MatchValue: &qdrant.Match_Keywords{Keywords: &qdrant.RepeatedStrings{Strings: []string{}}}}})}}},
		{"text kinds", `{"must": [{"key": "t", "match": {"text": "a b"}}, {"key": "t", "match": {"text_any": "a b"}}, {"key": "t", "match": {"phrase": "a b"}}]}`,
			&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchText("t", "a b"), qdrant.NewMatchTextAny("t", "a b"), qdrant.NewMatchPhrase("t", "a b")}}},
		{"range with null bounds", `{"must": [{"key": "price", "range": {"gt": null, "gte": 50.0, "lt": null, "lte": 200}}]}`,
			&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewRange("price", &qdrant.Range{Gte: qdrant.PtrOf(50.0), Lte: qdrant.PtrOf(200.0)})}}},
		{"values_count", `{"must": [{"key": "tags", "values_count": {"lt": 1, "gte": 0}}]}`,
			&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewValuesCount("tags", &qdrant.ValuesCount{Lt: qdrant.PtrOf(uint64(1)), Gte: qdrant.PtrOf(uint64(0))})}}},
		{"several clauses in one field condition", `{"must": [{"key": "a", "match": {"value": 1}, "range": {"gt": 5}, "is_null": false}]}`,
			&qdrant.Filter{Must: []*qdrant.Condition{field(&qdrant.FieldCondition{Key: "a", Match: &qdrant.Match{MatchValue: &qdrant.Match_Integer{Integer: 1}}, Range: &qdrant.Range{Gt: qdrant.PtrOf(5.0)}, IsNull: qdrant.PtrOf(false)})}}},
		{"is_empty and is_null conditions", `{"should": [{"is_empty": {"key": "a"}}, {"is_null": {"key": "b"}}, {"key": "c", "is_empty": true}]}`,
			&qdrant.Filter{Should: []*qdrant.Condition{qdrant.NewIsEmpty("a"), qdrant.NewIsNull("b"), field(&qdrant.FieldCondition{Key: "c", IsEmpty: qdrant.PtrOf(true)})}}},
		{"has_id and has_vector", `{"must": [{"has_id": [1, "b524a3c4-c568-4383-8019-c9ca08243d6a"]}, {"has_vector": "text"}]}`,
			&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewIDNum(1), qdrant.NewIDUUID("b524a3c4-c568-4383-8019-c9ca08243d6a")), qdrant.NewHasVector("text")}}},
		{"nested and sub-filters", `{"must": [{"nested": {"key": "a", "filter": {"must": [{"key": "x", "match": {"value": 1}}]}}}, {"should": [{"key": "y", "match": {"value": "z"}}]}]}`,
			&qdrant.Filter{Must: []*qdrant.Condition{
				qdrant.NewNestedFilter("a", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchInt("x", 1)}}),
				qdrant.NewFilterAsCondition(&qdrant.Filter{Should: []*qdrant.Condition{qdrant.NewMatchKeyword("y", "z")}}),
			}}},
		{"min_should, also as a condition", `{"min_should": {"conditions": [{"has_id": [1]}], "min_count": 1}, "must_not": [{"min_should": {"conditions": [{"has_id": [2]}], "min_count": 2}}]}`,
			&qdrant.Filter{
				MinShould: &qdrant.MinShould{Conditions: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewIDNum(1))}, MinCount: 1},
				MustNot: []*qdrant.Condition{qdrant.NewFilterAsCondition(&qdrant.Filter{
					MinShould: &qdrant.MinShould{Conditions: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewIDNum(2))}, MinCount: 2},
				})},
			}},
	}
	for _, tc := range cases {
		got, err := RESTFilter(tc.js)
		require.NoError(t, err, tc.name)
		require.True(t, proto.Equal(tc.want, got), "%s:\nwant %v\ngot  %v", tc.name, tc.want, got)
	}
}

func TestRESTFilterMapsIDs(t *testing.T) {
	t.Parallel()
	got, err := RESTFilter(`{"must": [{"has_id": [7]}]}`, MapIDs(func(id *qdrant.PointId) *qdrant.PointId {
		return qdrant.NewIDNum(id.GetNum() * 10)
	}))
	require.NoError(t, err)
	require.True(t, proto.Equal(&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewIDNum(70))}}, got))
}

func TestRESTFilterRefuses(t *testing.T) {
	t.Parallel()
	for _, js := range []string{
		`[]`,
		`{"must": [{"key": "a", "match": {"value": 1.5}}]}`,
		`{"must": [{"key": "a", "match": {"any": [1, "x"]}}]}`,
		`{"must": [{"key": "a", "geo_radius": {"center": {"lon": 1, "lat": 2}, "radius": 3}}]}`,
		`{"must": [{"key": "a", "range": {"gte": "2024-01-01"}}]}`,
		`{"must": [{"key": "a", "values_count": {"gt": -1}}]}`,
		`{"min_should": {"conditions": []}}`,
		`{"filter": {}}`,
		`{"must": [{"nested": {"key": "a"}}]}`,
		`{"must": [{"unknown": 1}]}`,
		`{"must": []} {}`,
	} {
		_, err := RESTFilter(js)
		require.Error(t, err, js)
	}
}

func TestPayloadFromJSON(t *testing.T) {
	t.Parallel()
	p, err := PayloadFromJSON(`{"i": 9, "f": 10.0, "l": [1, 2.5, null, "s"], "o": {"n": -3}}`)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"i": int64(9), "f": 10.0, "l": []any{int64(1), 2.5, nil, "s"}, "o": map[string]any{"n": int64(-3)}}, p)
	p, err = PayloadFromJSON(`null`)
	require.NoError(t, err)
	require.Nil(t, p)
}
