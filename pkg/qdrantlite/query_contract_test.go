package qdrantlite_test

import (
	"cmp"
	"context"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/youworker/youworker/pkg/qdrantlite"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

// These cases pin down sparse vectors and the Query API (prefetch, fusion)
// through the raw go-client, so they run unchanged against a real Qdrant
// (set vectortest.EnvQdrantURL): the expected scores are computed by hand
// from Qdrant's formulas, not taken from this implementation.

// target is a server under test. embedded is false for a real Qdrant, whose
// fused ties come out in hash order and whose idf counts deleted points
// until its optimizer runs.
type target struct {
	client   *qdrant.Client
	embedded bool
}

func TestQueryContractEmbedded(t *testing.T) {
	t.Parallel()
	runQueryContract(t, func(t *testing.T) target {
		_, c := startRaw(t, t.TempDir(), 0)
		return target{client: c, embedded: true}
	})
}

func TestQueryContractQdrant(t *testing.T) {
	t.Parallel()
	runQueryContract(t, func(t *testing.T) target {
		raw := os.Getenv(vectortest.EnvQdrantURL)
		if raw == "" {
			t.Skipf("%s not set; skipping tests against a real Qdrant", vectortest.EnvQdrantURL)
		}
		u, err := url.Parse(raw)
		require.NoError(t, err)
		port, err := strconv.Atoi(u.Port())
		require.NoError(t, err)
		c, err := qdrant.NewClient(&qdrant.Config{Host: u.Hostname(), Port: port, UseTLS: u.Scheme == "https", APIKey: os.Getenv(vectortest.EnvQdrantAPIKey)})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return target{client: c}
	})
}

// startRaw starts an embedded server and a raw client connected to it.
func startRaw(t testing.TB, dir string, compact int64) (*qdrantlite.Server, *qdrant.Client) {
	t.Helper()
	srv, err := qdrantlite.Start(context.Background(), qdrantlite.Config{Dir: dir, Addr: "127.0.0.1:0", CompactBytes: compact}, vectortest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	port, err := strconv.Atoi(srv.Addr()[len("127.0.0.1:"):])
	require.NoError(t, err)
	c, err := qdrant.NewClient(&qdrant.Config{Host: "127.0.0.1", Port: port, PoolSize: 1, SkipCompatibilityCheck: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return srv, c
}

func runQueryContract(t *testing.T, open func(t *testing.T) target) {
	cases := []struct {
		name string
		fn   func(t *testing.T, tg target)
	}{
		{"SparseIDFScores", testSparseIDFScores},
		{"PointWithoutSparseVector", testPointWithoutSparse},
		{"ThresholdAndOffset", testThresholdAndOffset},
		{"QueryByID", testQueryByID},
		{"RRF", testRRF},
		{"WeightedRRF", testWeightedRRF},
		{"DBSF", testDBSF},
		{"RootFilter", testRootFilter},
		{"PrefetchFilter", testPrefetchFilter},
		{"Rescore", testRescore},
		{"NestedFusion", testNestedFusion},
		{"Batch", testBatch},
		{"NamedVectors", testNamedVectors},
		{"CollectionInfo", testSparseInfo},
		{"InvalidInput", testInvalidInput},
		{"DefaultLimits", testDefaultLimits},
		{"DeleteUpdatesIDF", testDeleteUpdatesIDF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

const lexical = "lexical"

// hybridFixture creates a collection with a 2-d dot-product dense vector and
// an idf sparse vector, holding
//
//	id  dense      sparse              owner  private
//	1   [1, 0]     {1: 1, 2: 1}        a      false
//	2   [0.8, 0.2] {1: 2}              b      false
//	3   [0.1, 0.9] {3: 3, 2: 1}        a      true
//	4   [0.5, 0.5] none                a      false
//
// so N = 3 points have the sparse vector, df(1) = df(2) = 2, df(3) = 1,
// idf(df=2) = ln(1.5/2.5 + 1) = ln 1.6 and idf(df=1) = ln(2.5/1.5 + 1).
// For the dense query [1, 0] the order is 1 (1.0), 2 (0.8), 4 (0.5), 3 (0.1);
// for the sparse query {1: 1, 3: 1} it is 3 (3·ln(8/3) = 2.9424877),
// 2 (2·ln 1.6 = 0.9400073), 1 (ln 1.6 = 0.4700036), and 4 is absent.
func hybridFixture(t *testing.T, tg target) string {
	t.Helper()
	ctx := context.Background()
	name := vectortest.Name(t, "ywq")
	require.NoError(t, tg.client.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: name,
		VectorsConfig:  qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Dot}),
		SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
			lexical: {Modifier: qdrant.PtrOf(qdrant.Modifier_Idf)},
		}),
	}))
	dropLater(t, tg, name)
	for field, typ := range map[string]qdrant.FieldType{"owner": qdrant.FieldType_FieldTypeKeyword, "private": qdrant.FieldType_FieldTypeBool} {
		_, err := tg.client.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{CollectionName: name, FieldName: field, FieldType: qdrant.PtrOf(typ), Wait: qdrant.PtrOf(true)})
		require.NoError(t, err)
	}
	point := func(id uint64, dense []float32, idx []uint32, val []float32, owner string, private bool) *qdrant.PointStruct {
		p := &qdrant.PointStruct{Id: qdrant.NewIDNum(id), Payload: qdrant.NewValueMap(map[string]any{"owner": owner, "private": private})}
		if idx == nil {
			p.Vectors = qdrant.NewVectorsDense(dense)
		} else {
			p.Vectors = qdrant.NewVectorsMap(map[string]*qdrant.Vector{"": qdrant.NewVectorDense(dense), lexical: qdrant.NewVectorSparse(idx, val)})
		}
		return p
	}
	_, err := tg.client.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: name, Wait: qdrant.PtrOf(true), Points: []*qdrant.PointStruct{
		point(1, []float32{1, 0}, []uint32{1, 2}, []float32{1, 1}, "a", false),
		point(2, []float32{0.8, 0.2}, []uint32{1}, []float32{2}, "b", false),
		point(3, []float32{0.1, 0.9}, []uint32{3, 2}, []float32{3, 1}, "a", true),
		point(4, []float32{0.5, 0.5}, nil, nil, "a", false),
	}})
	require.NoError(t, err)
	return name
}

// dropLater deletes a collection of a real Qdrant when the test ends; an
// embedded server's data goes with its temporary directory.
func dropLater(t *testing.T, tg target, name string) {
	if !tg.embedded {
		t.Cleanup(func() { _ = tg.client.DeleteCollection(context.Background(), name) })
	}
}

var (
	denseQ  = func() *qdrant.Query { return qdrant.NewQueryDense([]float32{1, 0}) }
	sparseQ = func() *qdrant.Query { return qdrant.NewQuerySparse([]uint32{1, 3}, []float32{1, 1}) }
)

func densePrefetch(limit uint64, f *qdrant.Filter) *qdrant.PrefetchQuery {
	return &qdrant.PrefetchQuery{Query: denseQ(), Limit: &limit, Filter: f}
}

func sparsePrefetch(limit uint64, f *qdrant.Filter) *qdrant.PrefetchQuery {
	return &qdrant.PrefetchQuery{Query: sparseQ(), Using: qdrant.PtrOf(lexical), Limit: &limit, Filter: f}
}

type scored struct {
	id    uint64
	score float32
}

// requireHits compares a result with the expected ids and scores. Against a
// real Qdrant, equal scores may come in any order, so its result is first
// put in the order the embedded server promises (smaller id first).
func requireHits(t *testing.T, tg target, want []scored, got []*qdrant.ScoredPoint) {
	t.Helper()
	res := make([]scored, len(got))
	for i, p := range got {
		res[i] = scored{id: p.GetId().GetNum(), score: p.GetScore()}
	}
	if !tg.embedded {
		slices.SortStableFunc(res, func(a, b scored) int {
			if c := cmp.Compare(b.score, a.score); c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		})
	}
	require.Len(t, res, len(want), "got %v", res)
	for i := range want {
		require.Equal(t, want[i].id, res[i].id, "position %d of %v", i, res)
		require.InDelta(t, want[i].score, res[i].score, 1e-5, "score of point %d", want[i].id)
	}
}

func query(t *testing.T, tg target, req *qdrant.QueryPoints) []*qdrant.ScoredPoint {
	t.Helper()
	res, err := tg.client.Query(context.Background(), req)
	require.NoError(t, err)
	return res
}

func testSparseIDFScores(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	res := query(t, tg, &qdrant.QueryPoints{CollectionName: name, Query: sparseQ(), Using: qdrant.PtrOf(lexical)})
	requireHits(t, tg, []scored{{3, 2.9424877}, {2, 0.9400073}, {1, 0.4700036}}, res)
}

func testPointWithoutSparse(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	only4 := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewIDNum(4))}}
	res := query(t, tg, &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQuerySparse([]uint32{1, 2, 3}, []float32{1, 1, 1}), Using: qdrant.PtrOf(lexical), Filter: only4})
	require.Empty(t, res, "a point without the sparse vector is never a sparse result")
	res = query(t, tg, &qdrant.QueryPoints{CollectionName: name, Query: denseQ(), Filter: only4})
	requireHits(t, tg, []scored{{4, 0.5}}, res)
}

func testThresholdAndOffset(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	res := query(t, tg, &qdrant.QueryPoints{CollectionName: name, Query: sparseQ(), Using: qdrant.PtrOf(lexical), ScoreThreshold: qdrant.PtrOf[float32](0.5)})
	requireHits(t, tg, []scored{{3, 2.9424877}, {2, 0.9400073}}, res)
	res = query(t, tg, &qdrant.QueryPoints{CollectionName: name, Query: sparseQ(), Using: qdrant.PtrOf(lexical), Offset: qdrant.PtrOf[uint64](1), Limit: qdrant.PtrOf[uint64](1)})
	requireHits(t, tg, []scored{{2, 0.9400073}}, res)
}

// A query by point id uses that point's vector and leaves the point out.
// Point 1's sparse vector {1: 1, 2: 1} weighs both terms by ln 1.6.
func testQueryByID(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	byID := qdrant.NewQueryID(qdrant.NewIDNum(1))
	requireHits(t, tg, []scored{{2, 0.8}, {4, 0.5}, {3, 0.1}}, query(t, tg, &qdrant.QueryPoints{CollectionName: name, Query: byID}))
	requireHits(t, tg, []scored{{2, 0.9400073}, {3, 0.4700036}}, query(t, tg, &qdrant.QueryPoints{CollectionName: name, Query: byID, Using: qdrant.PtrOf(lexical)}))
	// Excluded in every prefetch too.
	req := &qdrant.QueryPoints{CollectionName: name, Prefetch: []*qdrant.PrefetchQuery{{Query: byID}, sparsePrefetch(10, nil)}, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF)}
	for _, p := range query(t, tg, req) {
		require.NotEqual(t, uint64(1), p.GetId().GetNum())
	}
	_, err := tg.client.Query(context.Background(), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQueryID(qdrant.NewIDNum(4)), Using: qdrant.PtrOf(lexical)})
	require.Equal(t, codes.NotFound, status.Code(err), "point 4 has no sparse vector: %v", err)
	_, err = tg.client.Query(context.Background(), &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQueryID(qdrant.NewIDNum(99))})
	require.Equal(t, codes.NotFound, status.Code(err), "no point 99: %v", err)
}

// RRF with k = 2 scores position p (0-based) with 1/(p+2): dense ranks
// 1,2,4,3 and sparse ranks 3,2,1 give 1: 1/2+1/4, 3: 1/5+1/2, 2: 1/3+1/3,
// 4: 1/4.
func testRRF(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	req := &qdrant.QueryPoints{CollectionName: name, Prefetch: []*qdrant.PrefetchQuery{densePrefetch(10, nil), sparsePrefetch(10, nil)}, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF)}
	requireHits(t, tg, []scored{{1, 0.75}, {3, 0.7}, {2, 2.0 / 3}, {4, 0.25}}, query(t, tg, req))
	// The threshold keeps scores of at least it.
	req.ScoreThreshold = qdrant.PtrOf[float32](0.7)
	requireHits(t, tg, []scored{{1, 0.75}, {3, 0.7}}, query(t, tg, req))
}

// Rrf{k: 1, weights: [2, 1]} scores position p of a source of weight w with
// 1/((p+1)/w + k - 1): dense gives 2, 1, 2/3, 1/2 and sparse 1, 1/2, 1/3, so
// 1: 2+1/3, 2: 1+1/2, 3: 1/2+1, 4: 2/3; 2 and 3 tie.
func testWeightedRRF(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	req := &qdrant.QueryPoints{CollectionName: name, Prefetch: []*qdrant.PrefetchQuery{densePrefetch(10, nil), sparsePrefetch(10, nil)},
		Query: qdrant.NewQueryRRF(&qdrant.Rrf{K: qdrant.PtrOf[uint32](1), Weights: []float32{2, 1}})}
	requireHits(t, tg, []scored{{1, 7.0 / 3}, {2, 1.5}, {3, 1.5}, {4, 2.0 / 3}}, query(t, tg, req))
	// Without parameters it is plain RRF.
	req.Query = qdrant.NewQueryRRF(&qdrant.Rrf{})
	requireHits(t, tg, []scored{{1, 0.75}, {3, 0.7}, {2, 2.0 / 3}, {4, 0.25}}, query(t, tg, req))
}

// DBSF maps each source's scores s to (s - (μ-3σ)) / 6σ with the sample
// standard deviation and sums: dense [1, .8, .5, .1] has μ = .6,
// σ = sqrt(.46/3); sparse [2.9424877, .9400073, .4700036] likewise.
func testDBSF(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	req := &qdrant.QueryPoints{CollectionName: name, Prefetch: []*qdrant.PrefetchQuery{densePrefetch(10, nil), sparsePrefetch(10, nil)}, Query: qdrant.NewQueryFusion(qdrant.Fusion_DBSF)}
	requireHits(t, tg, []scored{{1, 1.0457502}, {2, 1.0202842}, {3, 0.9765284}, {4, 0.4574372}}, query(t, tg, req))
}

// The root filter applies inside every prefetch: without point 2, dense
// ranks 1,4,3 and sparse 3,1.
func testRootFilter(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	req := &qdrant.QueryPoints{CollectionName: name, Prefetch: []*qdrant.PrefetchQuery{densePrefetch(10, nil), sparsePrefetch(10, nil)}, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF),
		Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("owner", "a")}}}
	requireHits(t, tg, []scored{{1, 0.5 + 1.0/3}, {3, 0.75}, {4, 1.0 / 3}}, query(t, tg, req))
}

// A prefetch's filter applies to it alone: point 3 (private) leaves the
// sparse list (2, 1) but is still fused in from the dense one.
func testPrefetchFilter(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	public := &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewMatchBool("private", true)}}
	req := &qdrant.QueryPoints{CollectionName: name, Prefetch: []*qdrant.PrefetchQuery{densePrefetch(10, nil), sparsePrefetch(10, public)}, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF)}
	requireHits(t, tg, []scored{{1, 0.5 + 1.0/3}, {2, 1.0/3 + 0.5}, {4, 0.25}, {3, 0.2}}, query(t, tg, req))
	// With a root filter too, both apply to the sparse list: it keeps only
	// point 1, while the dense list ranks 1, 4, 3.
	req.Filter = &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("owner", "a")}}
	requireHits(t, tg, []scored{{1, 1}, {4, 1.0 / 3}, {3, 0.25}}, query(t, tg, req))
}

// A vector query over prefetches rescores only the points they returned.
func testRescore(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	req := &qdrant.QueryPoints{CollectionName: name, Prefetch: []*qdrant.PrefetchQuery{sparsePrefetch(2, nil)}, Query: denseQ()}
	requireHits(t, tg, []scored{{2, 0.8}, {3, 0.1}}, query(t, tg, req))
}

// A fusion inside a prefetch keeps the prefetch's limit: dense top 2 (1, 2)
// and sparse top 2 (3, 2) fuse to 2 (2/3), 1 (1/2), 3 (1/2), which the root
// dense query rescores.
func testNestedFusion(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	inner := &qdrant.PrefetchQuery{Prefetch: []*qdrant.PrefetchQuery{densePrefetch(2, nil), sparsePrefetch(2, nil)}, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF), Limit: qdrant.PtrOf[uint64](3)}
	req := &qdrant.QueryPoints{CollectionName: name, Prefetch: []*qdrant.PrefetchQuery{inner}, Query: denseQ()}
	requireHits(t, tg, []scored{{1, 1}, {2, 0.8}, {3, 0.1}}, query(t, tg, req))
	inner.Limit = qdrant.PtrOf[uint64](1)
	requireHits(t, tg, []scored{{2, 0.8}}, query(t, tg, req))
}

func testBatch(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	res, err := tg.client.QueryBatch(context.Background(), &qdrant.QueryBatchPoints{CollectionName: name, QueryPoints: []*qdrant.QueryPoints{
		{CollectionName: name, Prefetch: []*qdrant.PrefetchQuery{densePrefetch(10, nil), sparsePrefetch(10, nil)}, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF), Limit: qdrant.PtrOf[uint64](2)},
		{CollectionName: name, Query: denseQ(), Limit: qdrant.PtrOf[uint64](10)},
		{CollectionName: name, Query: sparseQ(), Using: qdrant.PtrOf(lexical), Limit: qdrant.PtrOf[uint64](10), WithPayload: qdrant.NewWithPayload(true)},
	}})
	require.NoError(t, err)
	require.Len(t, res, 3)
	requireHits(t, tg, []scored{{1, 0.75}, {3, 0.7}}, res[0].GetResult())
	requireHits(t, tg, []scored{{1, 1}, {2, 0.8}, {4, 0.5}, {3, 0.1}}, res[1].GetResult())
	requireHits(t, tg, []scored{{3, 2.9424877}, {2, 0.9400073}, {1, 0.4700036}}, res[2].GetResult())
	require.Nil(t, res[0].GetResult()[0].GetPayload(), "no payload unless asked")
	require.Equal(t, "a", res[2].GetResult()[0].GetPayload()["owner"].GetStringValue())
}

// A point with a sparse vector comes back as named vectors, the dense one
// under "", its sparse one sorted by index; a point without one comes back
// as the plain dense vector, as Qdrant answers.
func testNamedVectors(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	ctx := context.Background()
	pts, err := tg.client.Get(ctx, &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(3), qdrant.NewIDNum(4)}, WithVectors: qdrant.NewWithVectors(true)})
	require.NoError(t, err)
	require.Len(t, pts, 2)
	slices.SortFunc(pts, func(a, b *qdrant.RetrievedPoint) int { return cmp.Compare(a.GetId().GetNum(), b.GetId().GetNum()) })
	named := pts[0].GetVectors().GetVectors().GetVectors()
	require.Len(t, named, 2)
	require.Equal(t, []float32{0.1, 0.9}, named[""].GetDense().GetData())
	require.Equal(t, []uint32{2, 3}, named[lexical].GetSparse().GetIndices())
	require.Equal(t, []float32{1, 3}, named[lexical].GetSparse().GetValues())
	require.Nil(t, pts[1].GetVectors().GetVectors())
	require.Equal(t, []float32{0.5, 0.5}, pts[1].GetVectors().GetVector().GetDense().GetData())

	scrolled, err := tg.client.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: name, WithVectors: qdrant.NewWithVectorsInclude(lexical), Limit: qdrant.PtrOf[uint32](10)})
	require.NoError(t, err)
	require.Len(t, scrolled, 4)
	require.Equal(t, []uint32{1, 2}, scrolled[0].GetVectors().GetVectors().GetVectors()[lexical].GetSparse().GetIndices())
	require.NotContains(t, scrolled[0].GetVectors().GetVectors().GetVectors(), "", "only the selected vector")
	require.Empty(t, scrolled[3].GetVectors().GetVectors().GetVectors(), "point 4 has no lexical vector")
}

func testSparseInfo(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	info, err := tg.client.GetCollectionInfo(context.Background(), name)
	require.NoError(t, err)
	params := info.GetConfig().GetParams()
	require.Equal(t, uint64(2), params.GetVectorsConfig().GetParams().GetSize())
	sp, ok := params.GetSparseVectorsConfig().GetMap()[lexical]
	require.True(t, ok)
	require.Equal(t, qdrant.Modifier_Idf, sp.GetModifier())
}

func testInvalidInput(t *testing.T, tg target) {
	name := hybridFixture(t, tg)
	ctx := context.Background()
	upsert := func(v *qdrant.Vectors) error {
		_, err := tg.client.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: name, Wait: qdrant.PtrOf(true), Points: []*qdrant.PointStruct{{Id: qdrant.NewIDNum(9), Vectors: v}}})
		return err
	}
	sparse := func(n string, idx []uint32, val []float32) *qdrant.Vectors {
		return qdrant.NewVectorsMap(map[string]*qdrant.Vector{"": qdrant.NewVectorDense([]float32{1, 1}), n: qdrant.NewVectorSparse(idx, val)})
	}
	fused := func(q *qdrant.QueryPoints) error { _, err := tg.client.Query(ctx, q); return err }
	both := []*qdrant.PrefetchQuery{densePrefetch(10, nil), sparsePrefetch(10, nil)}
	for what, err := range map[string]error{
		"unknown sparse name":          upsert(sparse("nope", []uint32{1}, []float32{1})),
		"duplicate indices":            upsert(sparse(lexical, []uint32{1, 1}, []float32{1, 2})),
		"more values than indices":     upsert(sparse(lexical, []uint32{1}, []float32{1, 2})),
		"fusion without prefetch":      fused(&qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF)}),
		"prefetch without query":       fused(&qdrant.QueryPoints{CollectionName: name, Prefetch: both}),
		"fusion with using":            fused(&qdrant.QueryPoints{CollectionName: name, Prefetch: both, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF), Using: qdrant.PtrOf(lexical)}),
		"rrf weights per prefetch":     fused(&qdrant.QueryPoints{CollectionName: name, Prefetch: both, Query: qdrant.NewQueryRRF(&qdrant.Rrf{Weights: []float32{1}})}),
		"rrf k of zero":                fused(&qdrant.QueryPoints{CollectionName: name, Prefetch: both, Query: qdrant.NewQueryRRF(&qdrant.Rrf{K: qdrant.PtrOf[uint32](0)})}),
		"unknown using":                fused(&qdrant.QueryPoints{CollectionName: name, Query: sparseQ(), Using: qdrant.PtrOf("nope")}),
		"sparse query with duplicates": fused(&qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQuerySparse([]uint32{1, 1}, []float32{1, 1}), Using: qdrant.PtrOf(lexical)}),
		"threshold without query":      fused(&qdrant.QueryPoints{CollectionName: name, ScoreThreshold: qdrant.PtrOf[float32](1)}),
	} {
		require.Error(t, err, what)
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%s: %v", what, err)
	}
}

// Without limits a query returns 10 points and a prefetch hands 10 on.
func testDefaultLimits(t *testing.T, tg target) {
	ctx := context.Background()
	name := vectortest.Name(t, "ywq")
	require.NoError(t, tg.client.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName:      name,
		VectorsConfig:       qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Dot}),
		SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{lexical: {}}),
	}))
	dropLater(t, tg, name)
	var pts []*qdrant.PointStruct
	for i := range 15 {
		pts = append(pts, &qdrant.PointStruct{Id: qdrant.NewIDNum(uint64(i + 1)), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{
			"": qdrant.NewVectorDense([]float32{float32(i), 1}), lexical: qdrant.NewVectorSparse([]uint32{7}, []float32{float32(i + 1)}),
		})})
	}
	_, err := tg.client.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: name, Wait: qdrant.PtrOf(true), Points: pts})
	require.NoError(t, err)
	res := query(t, tg, &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQuerySparse([]uint32{7}, []float32{1}), Using: qdrant.PtrOf(lexical)})
	require.Len(t, res, 10)
	require.Equal(t, float32(15), res[0].GetScore(), "without a modifier the values are not reweighted")
	res = query(t, tg, &qdrant.QueryPoints{CollectionName: name, Limit: qdrant.PtrOf[uint64](20), Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF),
		Prefetch: []*qdrant.PrefetchQuery{{Query: qdrant.NewQuerySparse([]uint32{7}, []float32{1}), Using: qdrant.PtrOf(lexical)}}})
	require.Len(t, res, 10)
}

// Deleting or overwriting a point updates the statistics idf reads at once:
// N and df count only live points with the vector. (Qdrant counts deleted
// points until its optimizer rebuilds the segment, so this is checked on
// the embedded server only.)
func testDeleteUpdatesIDF(t *testing.T, tg target) {
	if !tg.embedded {
		t.Skip("Qdrant's idf statistics include deleted points until the optimizer runs")
	}
	name := hybridFixture(t, tg)
	ctx := context.Background()
	_, err := tg.client.Delete(ctx, &qdrant.DeletePoints{CollectionName: name, Wait: qdrant.PtrOf(true), Points: qdrant.NewPointsSelector(qdrant.NewIDNum(2))})
	require.NoError(t, err)
	// N = 2, df(1) = df(3) = 1: idf = ln(1.5/1.5 + 1) = ln 2.
	res := query(t, tg, &qdrant.QueryPoints{CollectionName: name, Query: sparseQ(), Using: qdrant.PtrOf(lexical)})
	requireHits(t, tg, []scored{{3, 3 * 0.6931472}, {1, 0.6931472}}, res)
	// Overwriting point 3 without a sparse vector removes it: N = 1,
	// df(1) = 1, idf = ln(0.5/1.5 + 1).
	_, err = tg.client.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: name, Wait: qdrant.PtrOf(true), Points: []*qdrant.PointStruct{{Id: qdrant.NewIDNum(3), Vectors: qdrant.NewVectorsDense([]float32{0, 1})}}})
	require.NoError(t, err)
	res = query(t, tg, &qdrant.QueryPoints{CollectionName: name, Query: sparseQ(), Using: qdrant.PtrOf(lexical)})
	requireHits(t, tg, []scored{{1, 0.2876821}}, res)
}
