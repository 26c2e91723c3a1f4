package qdrantlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/vector"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

// benchCollection loads n points of dimension dim: 1000 owners, 100 groups
// (none for every 20th point), 10% private.
func benchCollection(b *testing.B, n, dim int) (*vector.Store, string) {
	b.Helper()
	_, st := start(b, b.TempDir(), 0)
	ctx := context.Background()
	require.NoError(b, st.EnsureCollection(ctx, "bench", dim, vector.Cosine))
	rng := rand.New(rand.NewPCG(1, 2))
	batch := make([]vector.Point, 0, 256)
	for i := range n {
		vec := make([]float32, dim)
		for j := range vec {
			vec[j] = rng.Float32()*2 - 1
		}
		group := fmt.Sprintf("g%d", i%100)
		if i%20 == 19 {
			group = ""
		}
		batch = append(batch, vector.Point{
			ID:     vector.PointID(fmt.Sprintf("doc%d", i/10), i%10, "bench"),
			Vector: vec,
			Payload: vector.Payload{DocumentID: fmt.Sprintf("doc%d", i/10), OwnerID: fmt.Sprintf("u%d", i%1000),
				GroupID: group, Private: i%10 == 3, ChunkIndex: i % 10, Embedder: "bench", ACLVersion: 1},
		})
		if len(batch) == cap(batch) || i == n-1 {
			require.NoError(b, st.Upsert(ctx, "bench", batch))
			batch = batch[:0]
		}
	}
	return st, "bench"
}

// BenchmarkFilteredSearch100k: exact search over 100k points of dimension
// 384 for a user in 10 groups, through the adapter and gRPC.
func BenchmarkFilteredSearch100k(b *testing.B) {
	st, coll := benchCollection(b, 100_000, 384)
	ctx := context.Background()
	groups := make([]string, 10)
	for i := range groups {
		groups[i] = fmt.Sprintf("g%d", i*7)
	}
	filter := &qdrant.Filter{Should: []*qdrant.Condition{
		qdrant.NewMatchKeyword(vector.FieldOwnerID, "u42"),
		qdrant.NewFilterAsCondition(&qdrant.Filter{Must: []*qdrant.Condition{
			qdrant.NewMatchKeywords(vector.FieldGroupID, groups...),
			qdrant.NewMatchBool(vector.FieldPrivate, false),
		}}),
	}}
	rng := rand.New(rand.NewPCG(3, 4))
	q := make([]float32, 384)
	var lat []time.Duration
	for b.Loop() {
		for j := range q {
			q[j] = rng.Float32()*2 - 1
		}
		t0 := time.Now()
		hits, err := st.Search(ctx, coll, q, filter, 10)
		lat = append(lat, time.Since(t0))
		if err != nil || len(hits) != 10 {
			b.Fatalf("search: %v (%d hits)", err, len(hits))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

// BenchmarkSetPayloadByFilter: relabel the ACL of every point of five groups
// (5k points) per operation, as a group change does. The filter keeps
// matching the same points because they all stay in g1 afterwards.
func BenchmarkSetPayloadByFilter(b *testing.B) {
	st, coll := benchCollection(b, 100_000, 16)
	ctx := context.Background()
	filter := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeywords(vector.FieldGroupID, "g1", "g2", "g3", "g4", "g5")}}
	n, err := st.Count(ctx, coll, filter)
	require.NoError(b, err)
	version := int64(1)
	for b.Loop() {
		version++
		if err := st.SetACLByFilter(ctx, coll, filter, vector.ACL{OwnerID: "u1", GroupID: "g1", ACLVersion: version}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "points/s")
}

// hybridBench loads n points with a dense vector of dimension dim and a
// lexical sparse vector (idf modifier) each: ~120 distinct terms drawn from
// a Zipf vocabulary of 50k terms, valued by BM25's saturated term frequency,
// and the ACL payload of benchCollection. It returns a raw client and the
// adapter, both connected to the server.
func hybridBench(b *testing.B, n, dim int) (*qdrant.Client, *vector.Store, string, *rand.Zipf) {
	b.Helper()
	srv, c := startRaw(b, b.TempDir(), 0)
	ctx := context.Background()
	st, err := vector.New(ctx, vector.Config{URL: srv.Addr()}, vectortest.Logger())
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	const coll = "hybrid"
	require.NoError(b, c.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: coll,
		VectorsConfig:  qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: uint64(dim), Distance: qdrant.Distance_Cosine}),
		SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
			lexical: {Modifier: qdrant.PtrOf(qdrant.Modifier_Idf)},
		}),
	}))
	for field, typ := range map[string]qdrant.FieldType{vector.FieldOwnerID: qdrant.FieldType_FieldTypeKeyword, vector.FieldGroupID: qdrant.FieldType_FieldTypeKeyword, vector.FieldPrivate: qdrant.FieldType_FieldTypeBool} {
		_, err := c.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{CollectionName: coll, FieldName: field, FieldType: qdrant.PtrOf(typ), Wait: qdrant.PtrOf(true)})
		require.NoError(b, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 2, 49_999)
	tf := make(map[uint32]int, 256)
	batch := make([]*qdrant.PointStruct, 0, 256)
	for i := range n {
		clear(tf)
		for draws := 0; len(tf) < 120 && draws < 2000; draws++ {
			tf[uint32(zipf.Uint64())]++
		}
		idx := make([]uint32, 0, len(tf))
		val := make([]float32, 0, len(tf))
		for term, f := range tf {
			idx = append(idx, term)
			val = append(val, float32(f)*2.2/(float32(f)+1.2))
		}
		vec := make([]float32, dim)
		for j := range vec {
			vec[j] = rng.Float32()*2 - 1
		}
		var group any = fmt.Sprintf("g%d", i%100)
		if i%20 == 19 {
			group = nil
		}
		batch = append(batch, &qdrant.PointStruct{
			Id: qdrant.NewIDNum(uint64(i)),
			Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{
				"": qdrant.NewVectorDense(vec), lexical: qdrant.NewVectorSparse(idx, val),
			}),
			Payload: qdrant.NewValueMap(map[string]any{vector.FieldOwnerID: fmt.Sprintf("u%d", i%1000), vector.FieldGroupID: group, vector.FieldPrivate: i%10 == 3}),
		})
		if len(batch) == cap(batch) || i == n-1 {
			_, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: coll, Wait: qdrant.PtrOf(true), Points: batch})
			require.NoError(b, err)
			batch = batch[:0]
		}
	}
	return c, st, coll, zipf
}

// aclFilter is the authorization filter of a user in 10 groups: their own
// points, or the non-private points of their groups.
func aclFilter() *qdrant.Filter {
	groups := make([]string, 10)
	for i := range groups {
		groups[i] = fmt.Sprintf("g%d", i*7)
	}
	return &qdrant.Filter{Should: []*qdrant.Condition{
		qdrant.NewMatchKeyword(vector.FieldOwnerID, "u42"),
		qdrant.NewFilterAsCondition(&qdrant.Filter{Must: []*qdrant.Condition{
			qdrant.NewMatchKeywords(vector.FieldGroupID, groups...),
			qdrant.NewMatchBool(vector.FieldPrivate, false),
		}}),
	}}
}

// BenchmarkHybrid100k: queries over 100k points with dense (384) and
// lexical vectors, through the raw client and gRPC: a lexical idf query of
// 10 Zipf-drawn terms (common ones included) with and without the ACL
// filter, the fused dense + lexical queries the adapter sends, each
// retriever handing 20 candidates to the fusion, and the adapter's whole
// hybrid search (the fused query batched with each retriever alone).
func BenchmarkHybrid100k(b *testing.B) {
	const dim = 384
	c, st, coll, zipf := hybridBench(b, 100_000, dim)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	sparseVector := func() *vector.SparseVector {
		seen := map[uint32]bool{}
		var v vector.SparseVector
		for len(v.Indices) < 10 {
			if t := uint32(zipf.Uint64()); !seen[t] {
				seen[t] = true
				v.Indices = append(v.Indices, t)
				v.Values = append(v.Values, 1)
			}
		}
		slices.Sort(v.Indices)
		return &v
	}
	sparseQuery := func() *qdrant.Query {
		v := sparseVector()
		return qdrant.NewQuerySparse(v.Indices, v.Values)
	}
	denseVector := func() []float32 {
		q := make([]float32, dim)
		for j := range q {
			q[j] = rng.Float32()*2 - 1
		}
		return q
	}
	denseQuery := func() *qdrant.Query { return qdrant.NewQueryDense(denseVector()) }
	fused := func(f *qdrant.Query) func() *qdrant.QueryPoints {
		return func() *qdrant.QueryPoints {
			return &qdrant.QueryPoints{CollectionName: coll, Query: f, Filter: aclFilter(), Limit: qdrant.PtrOf[uint64](10), WithPayload: qdrant.NewWithPayload(true),
				Prefetch: []*qdrant.PrefetchQuery{
					{Query: denseQuery(), Filter: aclFilter(), Limit: qdrant.PtrOf[uint64](20)},
					{Query: sparseQuery(), Using: qdrant.PtrOf(lexical), Filter: aclFilter(), Limit: qdrant.PtrOf[uint64](20)},
				}}
		}
	}
	for _, bc := range []struct {
		name string
		req  func() *qdrant.QueryPoints
	}{
		{"sparse_idf_acl", func() *qdrant.QueryPoints {
			return &qdrant.QueryPoints{CollectionName: coll, Query: sparseQuery(), Using: qdrant.PtrOf(lexical), Filter: aclFilter(), Limit: qdrant.PtrOf[uint64](10)}
		}},
		{"sparse_idf_all", func() *qdrant.QueryPoints {
			return &qdrant.QueryPoints{CollectionName: coll, Query: sparseQuery(), Using: qdrant.PtrOf(lexical), Limit: qdrant.PtrOf[uint64](10)}
		}},
		// The dense retriever alone, for comparison with the fused queries.
		{"dense_acl", func() *qdrant.QueryPoints {
			return &qdrant.QueryPoints{CollectionName: coll, Query: denseQuery(), Filter: aclFilter(), Limit: qdrant.PtrOf[uint64](10)}
		}},
		{"fused_rrf_acl", fused(qdrant.NewQueryFusion(qdrant.Fusion_RRF))},
		{"fused_dbsf_acl", fused(qdrant.NewQueryFusion(qdrant.Fusion_DBSF))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				req := bc.req()
				t0 := time.Now()
				res, err := c.Query(ctx, req)
				lat = append(lat, time.Since(t0))
				if err != nil || len(res) != 10 {
					b.Fatalf("query: %v (%d hits)", err, len(res))
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		})
	}
	// What a hybrid search of the application costs: the adapter's batch of
	// the fused query and each retriever alone (for the ranks it shows),
	// each retriever handing 20 candidates to the fusion.
	for _, f := range []vector.Fusion{vector.RRF, vector.DBSF} {
		b.Run("hybrid_search_"+string(f)+"_acl", func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				q := vector.HybridQuery{Dense: denseVector(), Sparse: sparseVector(), Filter: aclFilter(), Limit: 10, Candidates: 20, Fusion: f}
				t0 := time.Now()
				hits, err := st.HybridSearch(ctx, coll, q)
				lat = append(lat, time.Since(t0))
				if err != nil || len(hits) != 10 {
					b.Fatalf("hybrid search: %v (%d hits)", err, len(hits))
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		})
	}
}
