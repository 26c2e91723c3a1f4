package qdrantlite

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
)

func TestFieldSemantics(t *testing.T) {
	t.Parallel()
	p := map[string]any{
		"tags":  []any{"a", "b", nil},
		"n":     int64(3),
		"f":     3.0,
		"none":  nil,
		"s":     "a party",
		"empty": []any{},
		"obj":   map[string]any{"k": "v", "arr": []any{map[string]any{"x": int64(1)}, map[string]any{"x": int64(2)}}},
	}
	cases := []struct {
		name string
		cond *qdrant.Condition
		want bool
	}{
		{"array any element", qdrant.NewMatchKeyword("tags", "b"), true},
		{"except with one other element", qdrant.NewMatchExcept("tags", "a"), true},
		{"except all listed", qdrant.NewMatchExcept("tags", "a", "b"), false},
		{"except on missing", qdrant.NewMatchExcept("missing", "a"), false},
		{"except on null", qdrant.NewMatchExcept("none", "a"), false},
		{"integer is not float", qdrant.NewMatchInt("f", 3), false},
		{"integer", qdrant.NewMatchInt("n", 3), true},
		{"integers", qdrant.NewMatchInts("n", 1, 3), true},
		{"except ints", qdrant.NewMatchExceptInts("n", 3), false},
		{"keyword is not integer", qdrant.NewMatchKeyword("n", "3"), false},
		{"is_null null", qdrant.NewIsNull("none"), true},
		// Qdrant's is_null condition does not look inside arrays, the is_null
		// clause of a field condition does (condition_checker.rs check_is_null
		// and common/utils.rs check_is_null).
		{"is_null condition on array with null", qdrant.NewIsNull("tags"), false},
		{"is_null clause on array with null", &qdrant.Condition{ConditionOneOf: &qdrant.Condition_Field{Field: &qdrant.FieldCondition{Key: "tags", IsNull: qdrant.PtrOf(true)}}}, true},
		{"is_null missing", qdrant.NewIsNull("missing"), false},
		{"is_empty empty array", qdrant.NewIsEmpty("empty"), true},
		{"is_empty null", qdrant.NewIsEmpty("none"), true},
		{"is_empty value", qdrant.NewIsEmpty("n"), false},
		// Without a full-text index Qdrant matches text by substring
		// (condition_checker.rs Match::Text); with one, by words (see the
		// parity suite in pkg/vector/vectortest).
		{"text without index is a substring", qdrant.NewMatchText("s", "art"), true},
		{"has_vector dense", qdrant.NewHasVector(""), true},
		{"has_vector of a name the collection lacks matches nothing", qdrant.NewHasVector("x"), false},
		{"dotted key", qdrant.NewMatchKeyword("obj.k", "v"), true},
		{"through array", qdrant.NewMatchInt("obj.arr[].x", 2), true},
		{"dot does not reach into an array", qdrant.NewMatchInt("obj.arr.x", 2), false},
		{"array index", qdrant.NewMatchInt("obj.arr[1].x", 2), true},
		{"array index is exact", qdrant.NewMatchInt("obj.arr[0].x", 2), false},
		{"range", qdrant.NewRange("f", &qdrant.Range{Gt: qdrant.PtrOf(2.5), Lte: qdrant.PtrOf(3.0)}), true},
		{"nested object filter", qdrant.NewNestedFilter("obj.arr", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchInt("x", 1)}, MustNot: []*qdrant.Condition{qdrant.NewMatchInt("x", 2)}}), true},
		{"nested on a single object matches nothing", qdrant.NewNestedFilter("obj", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("k", "v")}}), false},
		{"nested needs one element for all", qdrant.NewNestedFilter("obj.arr", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchInt("x", 1), qdrant.NewMatchInt("x", 2)}}), false},
	}
	for _, tc := range cases {
		pr, err := compileFilter(&qdrant.Filter{Must: []*qdrant.Condition{tc.cond}}, false, filterEnv{})
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, pr(pointKey{}, p), tc.name)
	}
	pr, err := compileFilter(&qdrant.Filter{Should: []*qdrant.Condition{{}}, MustNot: []*qdrant.Condition{{}}}, false, filterEnv{})
	require.NoError(t, err)
	require.True(t, pr(pointKey{}, p), "empty conditions are dropped, as Qdrant does")
	_, err = compileFilter(&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewGeoRadius("g", 1, 2, 3)}}, false, filterEnv{})
	require.Error(t, err, "unsupported conditions are refused, never ignored")
}

// TestIndexedAndUnindexedAgree: a collection with payload indexes must give
// exactly the points the same collection without them gives, for random
// data and random filters using every condition type the store supports
// (match of each kind, except, range, values_count, is_empty and is_null as
// conditions and as clauses, several clauses in one condition, has_id,
// nested, sub-filters, min_should), including keys through arrays. Where the
// indexes alone answer a filter, that answer must equal the payload check.
func TestIndexedAndUnindexedAgree(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	indexes := []indexMeta{
		{Field: "owner", Schema: int32(qdrant.PayloadSchemaType_Keyword)},
		{Field: "group", Schema: int32(qdrant.PayloadSchemaType_Keyword)},
		{Field: "private", Schema: int32(qdrant.PayloadSchemaType_Bool)},
		{Field: "v", Schema: int32(qdrant.PayloadSchemaType_Integer)},
		{Field: "tags", Schema: int32(qdrant.PayloadSchemaType_Keyword)},
		{Field: "obj.k", Schema: int32(qdrant.PayloadSchemaType_Keyword)},
		{Field: "nest[].x", Schema: int32(qdrant.PayloadSchemaType_Integer)},
		{Field: "f", Schema: int32(qdrant.PayloadSchemaType_Float)},
	}
	indexed := newCollection("t", "", collectionMeta{Dim: 1, Distance: int32(qdrant.Distance_Dot), Indexes: indexes})
	plain := newCollection("u", "", collectionMeta{Dim: 1, Distance: int32(qdrant.Distance_Dot)})
	pick := func(vals ...any) any { return vals[rng.IntN(len(vals))] }
	word := func(prefix string, n int) string { return fmt.Sprintf("%s%d", prefix, rng.IntN(n)) }
	var pts []preparedPoint
	for i := range 2000 {
		p := map[string]any{"owner": word("u", 20), "private": rng.IntN(5) == 0}
		switch rng.IntN(5) {
		case 0:
			p["group"] = nil
		case 1:
			p["group"] = []any{word("g", 5), word("g", 5)}
		case 2:
		default:
			p["group"] = word("g", 5)
		}
		if rng.IntN(4) > 0 {
			p["v"] = pick(int64(rng.IntN(4)), float64(rng.IntN(4)), []any{int64(rng.IntN(4)), int64(rng.IntN(4))}, nil, "1")
		}
		if rng.IntN(3) > 0 {
			p["tags"] = pick([]any{}, []any{nil}, []any{word("t", 4)}, []any{word("t", 4), nil, word("t", 4)}, nil, word("t", 4), []any{[]any{word("t", 4)}})
		}
		if rng.IntN(3) > 0 {
			p["obj"] = pick(map[string]any{"k": word("k", 3)}, []any{map[string]any{"k": word("k", 3)}}, nil, map[string]any{})
		}
		if rng.IntN(3) > 0 {
			el := func() any {
				return pick(map[string]any{"x": int64(rng.IntN(3)), "y": word("y", 3)}, map[string]any{"x": nil}, map[string]any{"y": word("y", 3)})
			}
			p["nest"] = pick([]any{el(), el()}, []any{el()}, el(), []any{}, nil)
		}
		if rng.IntN(2) > 0 {
			p["f"] = pick(rng.Float64()*10, int64(rng.IntN(10)), []any{rng.Float64() * 10, int64(3)})
		}
		if rng.IntN(2) > 0 {
			p["t"] = pick("the quick fox", "a party", "brown bears", []any{"fox", "art"})
		}
		pts = append(pts, preparedPoint{key: pointKey{lo: uint64(i)}, vec: []float32{1}, payload: p})
	}
	for _, c := range []*collection{indexed, plain} {
		c.applyUpsert(pts, true)
		slots, err := c.slotsForIDs([]*qdrant.PointId{qdrant.NewIDNum(5), qdrant.NewIDNum(50)})
		require.NoError(t, err)
		c.deleteSlots(slots)
		c.applyUpsert(pts[:3], true) // slot reuse
	}

	r := func(lo, hi float64) *qdrant.Range {
		rg := &qdrant.Range{}
		switch rng.IntN(4) {
		case 0:
			rg.Gte = &lo
		case 1:
			rg.Lt = &hi
		case 2:
			rg.Gt, rg.Lte = &lo, &hi
		default:
			rg.Gte, rg.Lte = &lo, &hi
		}
		return rg
	}
	fieldCond := func(fc *qdrant.FieldCondition) *qdrant.Condition {
		return &qdrant.Condition{ConditionOneOf: &qdrant.Condition_Field{Field: fc}}
	}
	keyOf := func() string {
		return pick("owner", "group", "private", "v", "tags", "tags[]", "obj.k", "obj[].k", "nest[].x", "nest.x", "nest[0].x", "f", "t", "missing").(string)
	}
	var gen func(depth int, nested bool) *qdrant.Filter
	leaf := func(nested bool) *qdrant.Condition {
		key := keyOf()
		if nested {
			key = pick("x", "y", "missing").(string)
		}
		switch rng.IntN(17) {
		case 0:
			return qdrant.NewMatchKeyword(key, pick(word("u", 20), word("g", 5), word("t", 4), word("k", 3), word("y", 3), "1").(string))
		case 1:
			return qdrant.NewMatchKeywords(key, word("g", 5), word("t", 4), word("k", 3))
		case 2:
			return qdrant.NewMatchBool(key, rng.IntN(2) == 0)
		case 3:
			return qdrant.NewMatchInts(key, int64(rng.IntN(4)), int64(rng.IntN(4)))
		case 4:
			return qdrant.NewMatchInt(key, int64(rng.IntN(4)))
		case 5:
			return qdrant.NewMatchExcept(key, word("g", 5), word("t", 4))
		case 6:
			return qdrant.NewMatchExceptInts(key, int64(rng.IntN(4)))
		case 7:
			return qdrant.NewRange(key, r(float64(rng.IntN(4)), float64(rng.IntN(10))))
		case 8:
			return qdrant.NewValuesCount(key, &qdrant.ValuesCount{Gte: qdrant.PtrOf(uint64(rng.IntN(3))), Lt: qdrant.PtrOf(uint64(1 + rng.IntN(3)))})
		case 9:
			return qdrant.NewIsEmpty(key)
		case 10:
			return qdrant.NewIsNull(key)
		case 11:
			return fieldCond(&qdrant.FieldCondition{Key: key, IsEmpty: qdrant.PtrOf(rng.IntN(2) == 0)})
		case 12:
			return fieldCond(&qdrant.FieldCondition{Key: key, IsNull: qdrant.PtrOf(rng.IntN(2) == 0)})
		case 13:
			// Several clauses in one condition.
			fc := &qdrant.FieldCondition{Key: key, Match: &qdrant.Match{MatchValue: &qdrant.Match_Integer{Integer: int64(rng.IntN(4))}}, Range: r(2, 3)}
			if rng.IntN(2) == 0 {
				fc.IsNull = qdrant.PtrOf(rng.IntN(2) == 0)
			}
			return fieldCond(fc)
		case 14:
			return qdrant.NewMatchText(key, pick("fox", "art", "quick fox", "g1").(string))
		case 15:
			if nested {
				return qdrant.NewHasID(qdrant.NewIDNum(uint64(rng.IntN(2000))))
			}
			return qdrant.NewHasID(qdrant.NewIDNum(uint64(rng.IntN(2000))), qdrant.NewIDNum(5))
		default:
			if nested {
				return qdrant.NewMatchInt(key, int64(rng.IntN(3)))
			}
			return qdrant.NewNestedFilter(pick("nest", "nest[]", "obj").(string), gen(2, true))
		}
	}
	gen = func(depth int, nested bool) *qdrant.Filter {
		f := &qdrant.Filter{}
		for _, list := range []*[]*qdrant.Condition{&f.Must, &f.Should, &f.MustNot} {
			for range rng.IntN(3) {
				if depth < 2 && rng.IntN(3) == 0 {
					*list = append(*list, qdrant.NewFilterAsCondition(gen(depth+1, nested)))
				} else {
					*list = append(*list, leaf(nested))
				}
			}
		}
		if rng.IntN(5) == 0 {
			f.MinShould = &qdrant.MinShould{Conditions: []*qdrant.Condition{leaf(nested), leaf(nested), leaf(nested)}, MinCount: uint64(rng.IntN(3))}
		}
		return f
	}
	keys := func(c *collection, bm bitmap) []pointKey {
		var out []pointKey
		bm.each(func(s uint32) { out = append(out, c.keys[s]) })
		slices.SortFunc(out, func(a, b pointKey) int {
			if a.less(b) {
				return -1
			}
			if b.less(a) {
				return 1
			}
			return 0
		})
		return out
	}
	exact := 0
	for range 800 {
		f := gen(0, false)
		want, err := plain.filterBitmap(f)
		require.NoError(t, err, "%v", f)
		got, err := indexed.filterBitmap(f)
		require.NoError(t, err, "%v", f)
		require.Equal(t, keys(plain, want), keys(indexed, got), "%v", f)
		if bm, ok := indexed.exactFilter(f); ok {
			exact++
			pr, err := compileFilter(f, false, filterEnv{})
			require.NoError(t, err)
			var scanned []pointKey
			for s, alive := range indexed.alive {
				if alive && pr(indexed.keys[s], indexed.payloads[s]) {
					scanned = append(scanned, indexed.keys[s])
				}
			}
			require.ElementsMatch(t, scanned, keys(indexed, bm), "%v", f)
		}
	}
	require.Positive(t, exact, "some filters must be answered by the indexes alone")
}
