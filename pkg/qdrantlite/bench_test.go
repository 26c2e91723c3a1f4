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
