package vectortest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/vector"
)

// Run is the contract suite: every behaviour the rest of the system relies
// on, checked through the adapter. open returns a store for one subtest;
// embedded says it is the embedded server, for the few cases where Qdrant
// legitimately differs (it counts deleted points until it optimises).
func Run(t *testing.T, open func(t *testing.T) *vector.Store, embedded bool) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st *vector.Store)
	}{
		{"EnsureCollection", testEnsureCollection},
		{"Ranking", testRanking},
		{"Filters", testFilters},
		{"SetACLByFilter", testSetACL},
		{"DeleteByFilterAndIDs", testDelete},
		{"ScrollPagination", testScroll},
		{"Alias", testAlias},
		{"DimensionMismatch", testDimensionMismatch},
		{"NotFound", testNotFound},
		{"Concurrency", testConcurrency},
		{"HybridCollection", testHybridCollection},
		{"LexicalVectors", testLexicalVectors},
		{"LexicalIDF", testLexicalIDF},
		{"PointWithoutLexicalVector", testPointWithoutLexical},
		{"HybridRetrievers", testHybridRetrievers},
		{"HybridRRF", testHybridRRF},
		{"HybridDBSF", testHybridDBSF},
		{"HybridFilter", testHybridFilter},
		{"HybridCandidatesAndLimit", testHybridCandidates},
		{"HybridDeleteUpdatesIDF", func(t *testing.T, st *vector.Store) { testHybridDeleteIDF(t, st, embedded) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// point builds a test point with a deterministic id.
func point(doc, owner, group string, private bool, chunk int, vec ...float32) vector.Point {
	return vector.Point{
		ID:     vector.PointID(doc, chunk, "test"),
		Vector: vec,
		Payload: vector.Payload{DocumentID: doc, OwnerID: owner, GroupID: group, Private: private,
			ChunkIndex: chunk, Embedder: "test", ACLVersion: 1},
	}
}

func searchDocs(t *testing.T, st *vector.Store, coll string, f *qdrant.Filter) []string {
	t.Helper()
	hits, err := st.Search(context.Background(), coll, []float32{1, 0, 0, 0}, f, 1000)
	require.NoError(t, err)
	var out []string
	for _, h := range hits {
		out = append(out, fmt.Sprintf("%s/%d", h.Payload.DocumentID, h.Payload.ChunkIndex))
	}
	slices.Sort(out)
	return out
}

func testEnsureCollection(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	coll := Collection(t, st, 8, vector.Cosine)
	require.NoError(t, st.EnsureCollection(ctx, coll, 8, vector.Cosine), "ensure is idempotent")
	info, err := st.Info(ctx, coll)
	require.NoError(t, err)
	require.Equal(t, 8, info.Dim)
	require.Equal(t, vector.Cosine, info.Distance)
	require.Equal(t, []string{"acl_version", "chunk_index", "document_id", "group_id", "owner_id", "private"}, info.Indexes)
	names, err := st.ListCollections(ctx)
	require.NoError(t, err)
	require.Contains(t, names, coll)
	ok, err := st.CollectionExists(ctx, coll)
	require.NoError(t, err)
	require.True(t, ok)
	require.ErrorIs(t, st.EnsureCollection(ctx, coll, 8, vector.Dot), vector.ErrConflict)
}

func testRanking(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	pts := []vector.Point{
		point("a", "u", "", false, 0, 1, 0, 0, 0),
		point("b", "u", "", false, 0, 3, 3, 0, 0),
		point("c", "u", "", false, 0, 0, 1, 0, 0),
	}
	want := map[vector.Distance][]string{
		vector.Cosine: {"a", "b", "c"}, // angles 0, 45, 90 degrees
		vector.Dot:    {"b", "a", "c"}, // 3, 1, 0
		vector.Euclid: {"a", "c", "b"}, // 0, 1.41, 3.61
	}
	scores := map[vector.Distance][]float32{
		vector.Cosine: {1, 0.7071, 0},
		vector.Dot:    {3, 1, 0},
		vector.Euclid: {0, 1.4142, 3.6056},
	}
	for _, dist := range []vector.Distance{vector.Cosine, vector.Dot, vector.Euclid} {
		coll := Collection(t, st, 4, dist)
		require.NoError(t, st.Upsert(ctx, coll, pts))
		hits, err := st.Search(ctx, coll, []float32{1, 0, 0, 0}, nil, 10)
		require.NoError(t, err)
		var got []string
		for i, h := range hits {
			got = append(got, h.Payload.DocumentID)
			require.InDelta(t, scores[dist][i], h.Score, 1e-3, "%s score of %s", dist, h.Payload.DocumentID)
		}
		require.Equal(t, want[dist], got, dist)
		hits, err = st.Search(ctx, coll, []float32{1, 0, 0, 0}, nil, 2)
		require.NoError(t, err)
		require.Len(t, hits, 2, "limit is honoured")
	}
}

// filterFixture holds documents of owners u1/u2 in groups g1/g2 or none.
func filterFixture(t *testing.T, st *vector.Store) string {
	coll := Collection(t, st, 4, vector.Cosine)
	require.NoError(t, st.Upsert(context.Background(), coll, []vector.Point{
		point("d1", "u1", "", true, 0, 1, 0, 0, 0),    // u1 private, no group
		point("d2", "u1", "g1", false, 0, 1, 1, 0, 0), // u1 in g1
		point("d3", "u2", "g1", false, 0, 1, 0, 1, 0), // u2 shared with g1
		point("d4", "u2", "g1", true, 0, 1, 0, 0, 1),  // u2 private in g1
		point("d5", "u2", "g2", false, 0, 0, 1, 0, 0), // u2 shared with g2
		point("d6", "u2", "", false, 0, 0, 0, 1, 0),   // u2, no group
	}))
	return coll
}

// visibleTo is the authorization rule: own documents, or group documents
// that are not private.
func visibleTo(user string, groups ...string) *qdrant.Filter {
	return &qdrant.Filter{Should: []*qdrant.Condition{
		qdrant.NewMatchKeyword(vector.FieldOwnerID, user),
		qdrant.NewFilterAsCondition(&qdrant.Filter{Must: []*qdrant.Condition{
			qdrant.NewMatchKeywords(vector.FieldGroupID, groups...),
			qdrant.NewMatchBool(vector.FieldPrivate, false),
		}}),
	}}
}

func testFilters(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	coll := filterFixture(t, st)
	cases := []struct {
		name   string
		filter *qdrant.Filter
		want   []string
	}{
		{"none", nil, []string{"d1/0", "d2/0", "d3/0", "d4/0", "d5/0", "d6/0"}},
		{"should with nested must", visibleTo("u1", "g1"), []string{"d1/0", "d2/0", "d3/0"}},
		{"other user", visibleTo("u3", "g1", "g2"), []string{"d2/0", "d3/0", "d5/0"}},
		{"must_not", &qdrant.Filter{
			Must:    []*qdrant.Condition{qdrant.NewMatchKeyword(vector.FieldOwnerID, "u2")},
			MustNot: []*qdrant.Condition{qdrant.NewMatchKeyword(vector.FieldGroupID, "g1")},
		}, []string{"d5/0", "d6/0"}},
		{"is_null", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewIsNull(vector.FieldGroupID)}}, []string{"d1/0", "d6/0"}},
		{"is_empty", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewIsEmpty(vector.FieldGroupID)}}, []string{"d1/0", "d6/0"}},
		{"not empty", &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewIsEmpty(vector.FieldGroupID)}}, []string{"d2/0", "d3/0", "d4/0", "d5/0"}},
		{"is_empty of missing field", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewIsEmpty("missing")}}, []string{"d1/0", "d2/0", "d3/0", "d4/0", "d5/0", "d6/0"}},
		{"is_null of missing field", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewIsNull("missing")}}, nil},
		{"match any", vector.MatchDocuments("d1", "d5", "nope"), []string{"d1/0", "d5/0"}},
		{"except", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchExcept(vector.FieldGroupID, "g1")}}, []string{"d5/0"}},
		{"integer", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchInt(vector.FieldChunkIndex, 0), qdrant.NewMatchKeyword(vector.FieldDocumentID, "d3")}}, []string{"d3/0"}},
		{"range", vector.MatchStaleACL("d2", 2), []string{"d2/0"}},
		{"range excludes", vector.MatchStaleACL("d2", 1), nil},
		{"has_id", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewID(vector.PointID("d4", 0, "test")))}}, []string{"d4/0"}},
		{"min_should", &qdrant.Filter{MinShould: &qdrant.MinShould{MinCount: 2, Conditions: []*qdrant.Condition{
			qdrant.NewMatchKeyword(vector.FieldOwnerID, "u2"),
			qdrant.NewMatchKeyword(vector.FieldGroupID, "g1"),
			qdrant.NewMatchBool(vector.FieldPrivate, true),
		}}}, []string{"d3/0", "d4/0"}},
		{"nested should inside must_not", &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewFilterAsCondition(&qdrant.Filter{Should: []*qdrant.Condition{
			qdrant.NewMatchBool(vector.FieldPrivate, true),
			qdrant.NewIsNull(vector.FieldGroupID),
		}})}}, []string{"d2/0", "d3/0", "d5/0"}},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, searchDocs(t, st, coll, tc.filter), tc.name)
		n, err := st.Count(ctx, coll, tc.filter)
		require.NoError(t, err)
		require.Equal(t, uint64(len(tc.want)), n, "count: %s", tc.name)
	}
}

func testSetACL(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	coll := filterFixture(t, st)
	// d1 moves from private/no group to shared in g2.
	require.NoError(t, st.SetACLByFilter(ctx, coll, vector.MatchDocument("d1"), vector.ACL{OwnerID: "u1", GroupID: "g2", ACLVersion: 2}))
	require.Equal(t, []string{"d1/0", "d5/0"}, searchDocs(t, st, coll, visibleTo("u9", "g2")))
	pts, err := st.GetPoints(ctx, coll, []string{vector.PointID("d1", 0, "test")}, false)
	require.NoError(t, err)
	require.Len(t, pts, 1)
	require.Equal(t, vector.Payload{DocumentID: "d1", OwnerID: "u1", GroupID: "g2", ChunkIndex: 0, Embedder: "test", ACLVersion: 2}, pts[0].Payload, "other fields are kept")
	require.Equal(t, []string{"d1/0"}, searchDocs(t, st, coll, vector.MatchStaleACL("d1", 3)))
	// Removing the group leaves the point in no group. A set-payload with a
	// null value removes the key in Qdrant (where an upsert stores the null),
	// so is_empty finds both kinds of point and is_null only the upserted one.
	require.NoError(t, st.SetACLByFilter(ctx, coll, vector.MatchDocument("d1"), vector.ACL{OwnerID: "u1", ACLVersion: 3}))
	require.Equal(t, []string{"d1/0", "d6/0"}, searchDocs(t, st, coll, &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewIsEmpty(vector.FieldGroupID)}}))
	require.Equal(t, []string{"d6/0"}, searchDocs(t, st, coll, &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewIsNull(vector.FieldGroupID)}}))
	require.NoError(t, st.SetPayloadByFilter(ctx, coll, vector.MatchDocument("d6"), map[string]any{vector.FieldPrivate: true}))
	require.Equal(t, []string{"d4/0", "d6/0"}, searchDocs(t, st, coll, &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchBool(vector.FieldPrivate, true)}}))
}

func testDelete(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	coll := filterFixture(t, st)
	require.NoError(t, st.DeleteByFilter(ctx, coll, &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword(vector.FieldOwnerID, "u1")}}))
	require.Equal(t, []string{"d3/0", "d4/0", "d5/0", "d6/0"}, searchDocs(t, st, coll, nil))
	require.NoError(t, st.DeletePoints(ctx, coll, []string{vector.PointID("d3", 0, "test"), vector.PointID("missing", 0, "test")}))
	require.Equal(t, []string{"d4/0", "d5/0", "d6/0"}, searchDocs(t, st, coll, nil))
	require.Error(t, st.DeleteByFilter(ctx, coll, nil), "deleting everything by accident is refused")
	// Re-adding a deleted point works and replaces, never duplicates.
	p := point("d3", "u2", "g1", false, 0, 1, 0, 1, 0)
	require.NoError(t, st.Upsert(ctx, coll, []vector.Point{p, p}))
	n, err := st.Count(ctx, coll, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(4), n)
}

func testScroll(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	coll := Collection(t, st, 4, vector.Dot)
	var pts []vector.Point
	for i := range 1000 {
		pts = append(pts, point(fmt.Sprintf("doc%d", i%10), "u", fmt.Sprintf("g%d", i%3), false, i, float32(i), 1, 0, 0))
	}
	require.NoError(t, st.Upsert(ctx, coll, pts))
	n, err := st.Count(ctx, coll, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(1000), n)

	for _, f := range []*qdrant.Filter{nil, {Must: []*qdrant.Condition{qdrant.NewMatchKeyword(vector.FieldGroupID, "g1")}}} {
		want, err := st.Count(ctx, coll, f)
		require.NoError(t, err)
		seen := map[string]bool{}
		pages := 0
		err = st.ScrollAll(ctx, coll, f, vector.ScrollOptions{PageSize: 97, WithVectors: true}, func(page []vector.Point) error {
			pages++
			for _, p := range page {
				require.False(t, seen[p.ID], "duplicate %s", p.ID)
				seen[p.ID] = true
				require.Len(t, p.Vector, 4)
				require.Equal(t, float32(p.Payload.ChunkIndex), p.Vector[0], "vector belongs to its point")
			}
			return nil
		})
		require.NoError(t, err)
		require.Len(t, seen, int(want))
		require.Equal(t, (int(want)+96)/97, pages)
	}
	page, next, err := st.Scroll(ctx, coll, nil, vector.ScrollOptions{PageSize: 5})
	require.NoError(t, err)
	require.Len(t, page, 5)
	require.NotEmpty(t, next)
	require.Nil(t, page[0].Vector, "vectors only on request")
	require.NotEmpty(t, page[0].Payload.OwnerID)

	// A scan that names its payload fields gets those alone.
	page, _, err = st.Scroll(ctx, coll, nil, vector.ScrollOptions{PageSize: 5, PayloadFields: []string{vector.FieldDocumentID}})
	require.NoError(t, err)
	require.Len(t, page, 5)
	for _, p := range page {
		require.Equal(t, vector.Payload{DocumentID: p.Payload.DocumentID}, p.Payload)
		require.NotEmpty(t, p.Payload.DocumentID)
	}
}

func testAlias(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	c1 := Collection(t, st, 4, vector.Cosine)
	c2 := Collection(t, st, 4, vector.Cosine)
	require.NoError(t, st.Upsert(ctx, c1, []vector.Point{point("old", "u", "", false, 0, 1, 0, 0, 0)}))
	require.NoError(t, st.Upsert(ctx, c2, []vector.Point{point("new", "u", "", false, 0, 1, 0, 0, 0)}))
	alias := Name(t, "ywalias")
	t.Cleanup(func() { _ = st.DeleteAlias(context.Background(), alias) })

	_, err := st.ResolveAlias(ctx, alias)
	require.ErrorIs(t, err, vector.ErrNotFound)
	require.NoError(t, st.SwitchAlias(ctx, alias, c1))
	require.Equal(t, []string{"old/0"}, searchDocs(t, st, alias, nil))
	got, err := st.ResolveAlias(ctx, alias)
	require.NoError(t, err)
	require.Equal(t, c1, got)

	require.NoError(t, st.SwitchAlias(ctx, alias, c2))
	require.Equal(t, []string{"new/0"}, searchDocs(t, st, alias, nil))
	dim, err := st.CollectionDim(ctx, alias)
	require.NoError(t, err)
	require.Equal(t, 4, dim)
	require.NoError(t, st.SwitchAlias(ctx, alias, c2), "switching to the current target is a no-op")

	// Writes through the alias land in the target.
	require.NoError(t, st.Upsert(ctx, alias, []vector.Point{point("new", "u", "", false, 1, 0, 1, 0, 0)}))
	n, err := st.Count(ctx, c2, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(2), n)

	require.NoError(t, st.DeleteAlias(ctx, alias))
	_, err = st.Search(ctx, alias, []float32{1, 0, 0, 0}, nil, 1)
	require.ErrorIs(t, err, vector.ErrNotFound)
	require.ErrorIs(t, st.DeleteAlias(ctx, alias), vector.ErrNotFound)
}

func testDimensionMismatch(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	coll := Collection(t, st, 4, vector.Cosine)
	err := st.Upsert(ctx, coll, []vector.Point{point("d", "u", "", false, 0, 1, 0, 0)})
	require.ErrorIs(t, err, vector.ErrDimensionMismatch)
	_, err = st.Search(ctx, coll, []float32{1, 0, 0, 0, 0}, nil, 1)
	require.ErrorIs(t, err, vector.ErrDimensionMismatch)
	require.ErrorIs(t, st.EnsureCollection(ctx, coll, 8, vector.Cosine), vector.ErrDimensionMismatch)
	// A rejected batch leaves nothing behind.
	err = st.Upsert(ctx, coll, []vector.Point{point("ok", "u", "", false, 0, 1, 0, 0, 0), point("bad", "u", "", false, 0, 1)})
	require.ErrorIs(t, err, vector.ErrDimensionMismatch)
	n, err := st.Count(ctx, coll, nil)
	require.NoError(t, err)
	require.Zero(t, n)
}

func testNotFound(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	missing := Name(t, "ywmissing")
	_, err := st.Search(ctx, missing, []float32{1}, nil, 1)
	require.ErrorIs(t, err, vector.ErrNotFound)
	_, err = st.CollectionDim(ctx, missing)
	require.ErrorIs(t, err, vector.ErrNotFound)
	require.ErrorIs(t, st.Upsert(ctx, missing, []vector.Point{point("d", "u", "", false, 0, 1)}), vector.ErrNotFound)
	_, err = st.Count(ctx, missing, nil)
	require.ErrorIs(t, err, vector.ErrNotFound)
	require.ErrorIs(t, st.DeleteCollection(ctx, missing), vector.ErrNotFound)
}

func testConcurrency(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	coll := Collection(t, st, 8, vector.Cosine)
	const writers, perWriter = 4, 200
	var g errgroup.Group
	var mu sync.Mutex
	searched := 0
	for w := range writers {
		g.Go(func() error {
			for i := 0; i < perWriter; i += 20 {
				var batch []vector.Point
				for j := i; j < i+20; j++ {
					batch = append(batch, point(fmt.Sprintf("w%d", w), "u", "g", false, j, float32(w+1), float32(j), 1, 0, 0, 0, 0, 0))
				}
				if err := st.Upsert(ctx, coll, batch); err != nil {
					return err
				}
				if err := st.SetACLByFilter(ctx, coll, vector.MatchDocument(fmt.Sprintf("w%d", w)), vector.ACL{OwnerID: "u", GroupID: "g2", ACLVersion: int64(i)}); err != nil {
					return err
				}
			}
			return nil
		})
		g.Go(func() error {
			for range 50 {
				if _, err := st.Search(ctx, coll, []float32{1, 1, 0, 0, 0, 0, 0, 0}, visibleTo("x", "g", "g2"), 10); err != nil {
					return err
				}
				mu.Lock()
				searched++
				mu.Unlock()
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	require.Equal(t, writers*50, searched)
	n, err := st.Count(ctx, coll, &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword(vector.FieldGroupID, "g2")}})
	require.NoError(t, err)
	require.Equal(t, uint64(writers*perWriter), n, "every point written and relabelled exactly once")
}
