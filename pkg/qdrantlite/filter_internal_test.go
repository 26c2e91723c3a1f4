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
	_, err := compileFilter(&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewGeoRadius("g", 1, 2, 3)}}, false, filterEnv{})
	require.Error(t, err, "unsupported conditions are refused, never ignored")
}

// TestExactFilterAgreesWithPayloadCheck: the index-only evaluation must give
// exactly the points the payload predicate gives, for random data and
// random filters of the shape the index can answer.
func TestExactFilterAgreesWithPayloadCheck(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	c := newCollection("t", "", collectionMeta{Dim: 1, Distance: int32(qdrant.Distance_Dot), Indexes: []indexMeta{
		{Field: "owner", Schema: int32(qdrant.PayloadSchemaType_Keyword)},
		{Field: "group", Schema: int32(qdrant.PayloadSchemaType_Keyword)},
		{Field: "private", Schema: int32(qdrant.PayloadSchemaType_Bool)},
		{Field: "v", Schema: int32(qdrant.PayloadSchemaType_Integer)},
	}})
	var pts []preparedPoint
	for i := range 3000 {
		p := map[string]any{"owner": fmt.Sprintf("u%d", rng.IntN(20)), "private": rng.IntN(5) == 0, "v": int64(rng.IntN(4))}
		switch rng.IntN(4) {
		case 0:
			p["group"] = nil
		case 1:
			p["group"] = []any{fmt.Sprintf("g%d", rng.IntN(5)), fmt.Sprintf("g%d", rng.IntN(5))}
		default:
			p["group"] = fmt.Sprintf("g%d", rng.IntN(5))
		}
		pts = append(pts, preparedPoint{key: pointKey{lo: uint64(i)}, vec: []float32{1}, payload: p})
	}
	c.applyUpsert(pts, true)
	slots, err := c.slotsForIDs([]*qdrant.PointId{qdrant.NewIDNum(5), qdrant.NewIDNum(50)})
	require.NoError(t, err)
	c.deleteSlots(slots)
	c.applyUpsert(pts[:3], true) // slot reuse

	leaf := func() *qdrant.Condition {
		switch rng.IntN(5) {
		case 0:
			return qdrant.NewMatchKeyword("owner", fmt.Sprintf("u%d", rng.IntN(20)))
		case 1:
			return qdrant.NewMatchKeywords("group", fmt.Sprintf("g%d", rng.IntN(5)), fmt.Sprintf("g%d", rng.IntN(5)))
		case 2:
			return qdrant.NewMatchBool("private", rng.IntN(2) == 0)
		case 3:
			return qdrant.NewMatchInts("v", int64(rng.IntN(4)))
		default:
			return qdrant.NewHasID(qdrant.NewIDNum(uint64(rng.IntN(3000))), qdrant.NewIDNum(5))
		}
	}
	var gen func(depth int) *qdrant.Filter
	gen = func(depth int) *qdrant.Filter {
		f := &qdrant.Filter{}
		for _, list := range []*[]*qdrant.Condition{&f.Must, &f.Should, &f.MustNot} {
			for range rng.IntN(3) {
				if depth < 2 && rng.IntN(3) == 0 {
					*list = append(*list, qdrant.NewFilterAsCondition(gen(depth+1)))
				} else {
					*list = append(*list, leaf())
				}
			}
		}
		return f
	}
	for range 300 {
		f := gen(0)
		bm, ok := c.exactFilter(f)
		require.True(t, ok)
		var exact, scanned []uint32
		bm.each(func(s uint32) { exact = append(exact, s) })
		pr, err := compileFilter(f, false, filterEnv{})
		require.NoError(t, err)
		for s, alive := range c.alive {
			if alive && pr(c.keys[s], c.payloads[s]) {
				scanned = append(scanned, uint32(s))
			}
		}
		slices.Sort(exact)
		require.Equal(t, scanned, exact)
	}
}
