package qdrantlite

import (
	"math/rand/v2"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
)

// memoCollection holds 500 points with a dense vector of dimension 8
// (cosine), a sparse vector "s" with the idf modifier for most of them, and
// an indexed integer g in 0..2.
func memoCollection(t *testing.T) *collection {
	t.Helper()
	idf := int32(qdrant.Modifier_Idf)
	c := newCollection("t", "", collectionMeta{Dim: 8, Distance: int32(qdrant.Distance_Cosine),
		Sparse:  map[string]sparseMeta{"s": {Modifier: &idf}},
		Indexes: []indexMeta{{Field: "g", Schema: int32(qdrant.PayloadSchemaType_Integer)}}})
	rng := rand.New(rand.NewPCG(5, 6))
	var pts []preparedPoint
	for i := range 500 {
		vec := make([]float32, 8)
		for j := range vec {
			vec[j] = rng.Float32()*2 - 1
		}
		p := preparedPoint{key: pointKey{lo: uint64(i)}, vec: vec, payload: map[string]any{"g": int64(rng.IntN(3))}}
		if d := randomDoc(rng); d != nil {
			p.sparse = map[string]*sparseDoc{"s": d}
		}
		pts = append(pts, p)
	}
	c.applyUpsert(pts, true)
	return c
}

// TestBatchSharesIdenticalSearches: within a batch, a search identical to
// an earlier one (same query, vector name, limit, threshold and candidates)
// is not run again, and every request answers as it does alone.
func TestBatchSharesIdenticalSearches(t *testing.T) {
	t.Parallel()
	c := memoCollection(t)
	f := func(g int64) *qdrant.Filter {
		return &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchInt("g", g)}}
	}
	dv := []float32{1, -0.5, 0.25, 0, 0.75, -1, 0.5, 0.1}
	dense := func() *qdrant.Query { return qdrant.NewQueryDense(dv) }
	sparse := func() *qdrant.Query { return qdrant.NewQuerySparse([]uint32{1, 3, 17, 39}, []float32{1, 0.5, 2, 1}) }
	s := qdrant.PtrOf("s")
	lim := qdrant.PtrOf[uint64]
	// What the adapter's hybrid search sends: the fused query, each
	// retriever in it filtered like the root, and each retriever alone.
	hybrid := []*qdrant.QueryPoints{
		{Prefetch: []*qdrant.PrefetchQuery{
			{Query: dense(), Filter: f(1), Limit: lim(20)},
			{Query: sparse(), Using: s, Filter: f(1), Limit: lim(20)},
		}, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF), Filter: f(1), Limit: lim(10)},
		{Query: dense(), Filter: f(1), Limit: lim(20)},
		{Query: sparse(), Using: s, Filter: f(1), Limit: lim(20)},
	}
	distinct := []*qdrant.QueryPoints{
		{Query: dense(), Filter: f(1), Limit: lim(20)},
		{Query: dense(), Filter: f(1), Limit: lim(21)},
		{Query: dense(), Filter: f(2), Limit: lim(20)},
		{Query: dense(), Filter: f(1), Limit: lim(200), ScoreThreshold: qdrant.PtrOf[float32](0.1)},
		{Query: dense(), Filter: f(1), Limit: lim(200), ScoreThreshold: qdrant.PtrOf[float32](0.3)},
		{Query: qdrant.NewQueryDense([]float32{0, 1, 0, 0, 0, 0, 0, 0}), Filter: f(1), Limit: lim(20)},
		{Query: sparse(), Using: s, Filter: f(1), Limit: lim(20)},
		{Query: qdrant.NewQuerySparse([]uint32{1, 3}, []float32{1, 0.5}), Using: s, Filter: f(1), Limit: lim(20)},
		// A query by id leaves the point out of the candidates; the same
		// id means another vector under another name.
		{Query: qdrant.NewQueryID(qdrant.NewIDNum(7)), Using: s, Filter: f(1), Limit: lim(20)},
		{Query: qdrant.NewQueryID(qdrant.NewIDNum(7)), Filter: f(1), Limit: lim(20)},
		// Shared: the same 20 best, whatever part of them is returned,
		// and prefetches filtered by the root filter alone.
		{Query: dense(), Filter: f(1), Limit: lim(19), Offset: lim(1)},
		{Prefetch: []*qdrant.PrefetchQuery{
			{Query: dense(), Limit: lim(20)},
			{Query: sparse(), Using: s, Limit: lim(20)},
		}, Query: qdrant.NewQueryFusion(qdrant.Fusion_DBSF), Filter: f(1), Limit: lim(10)},
	}
	for _, tc := range []struct {
		name  string
		batch []*qdrant.QueryPoints
		ran   map[string]int
	}{
		{"hybrid search", hybrid, map[string]int{"": 1, "s": 1}},
		{"distinct searches", distinct, map[string]int{"": 7, "s": 3}},
	} {
		m := newMemo()
		for i, req := range tc.batch {
			alone, err := c.query(req, nil)
			require.NoError(t, err)
			require.NotEmpty(t, alone, "%s: request %d finds something", tc.name, i)
			shared, err := c.query(req, m)
			require.NoError(t, err)
			require.Equal(t, alone, shared, "%s: request %d", tc.name, i)
		}
		require.Equal(t, tc.ran, m.ran, tc.name)
	}
}
