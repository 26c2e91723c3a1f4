package vectortest

import (
	"context"
	"math"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/vector"
)

// The hybrid cases: lexical vectors, BM25 scoring with the idf modifier, and
// the fusion of the dense and the lexical retriever. Expected ranks and
// scores are worked out from Qdrant's formulas, never read back from a store,
// so the cases hold for the embedded server and a real Qdrant alike.

// idf is Qdrant's idf modifier: n points have a non-empty lexical vector,
// df of them have the term.
func idf(n, df float64) float64 { return math.Log((n-df+0.5)/(df+0.5) + 1) }

// rrf is the reciprocal rank fusion score, with Qdrant's k = 2, of a point
// at the given 0-based positions of the fused lists.
func rrf(pos ...int) float64 {
	var s float64
	for _, p := range pos {
		s += 1 / float64(2+p)
	}
	return s
}

// dbsf is distribution-based score fusion: each list's scores s become
// (s - (μ - 3σ)) / 6σ, σ the sample standard deviation, summed per point.
func dbsf(lists ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, l := range lists {
		var mean, sq float64
		for _, s := range l {
			mean += s / float64(len(l))
		}
		for _, s := range l {
			sq += (s - mean) * (s - mean)
		}
		sigma := math.Sqrt(sq / float64(len(l)-1))
		for doc, s := range l {
			out[doc] += (s - (mean - 3*sigma)) / (6 * sigma)
		}
	}
	return out
}

func sparse(idx []uint32, val []float32) *vector.SparseVector {
	return &vector.SparseVector{Indices: idx, Values: val}
}

// lexicalPoint is point with a lexical vector (nil: none).
func lexicalPoint(doc, owner string, private bool, dense []float32, lex *vector.SparseVector) vector.Point {
	p := point(doc, owner, "g1", private, 0, dense...)
	p.Sparse = lex
	return p
}

// ranked is a hybrid hit reduced to what the cases compare: the document,
// the score and the 1-based rank in each retriever (0: not found by it).
type ranked struct {
	doc            string
	score          float64
	dense, lexical int
}

func hybrid(t *testing.T, st *vector.Store, coll string, q vector.HybridQuery) []ranked {
	t.Helper()
	hits, err := st.HybridSearch(context.Background(), coll, q)
	require.NoError(t, err)
	out := make([]ranked, len(hits))
	for i, h := range hits {
		require.Equal(t, h.ID, vector.PointID(h.Payload.DocumentID, 0, "test"), "a hit carries its payload")
		out[i] = ranked{doc: h.Payload.DocumentID, score: float64(h.Score)}
		if h.Matched.Dense != nil {
			out[i].dense = *h.Matched.Dense
		}
		if h.Matched.Lexical != nil {
			out[i].lexical = *h.Matched.Lexical
		}
	}
	return out
}

func requireRanked(t *testing.T, want, got []ranked) {
	t.Helper()
	docs := func(rs []ranked) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.doc)
		}
		return out
	}
	require.Equal(t, docs(want), docs(got), "order")
	for i := range want {
		require.InDelta(t, want[i].score, got[i].score, 1e-5, "score of %s", want[i].doc)
		require.Equal(t, [2]int{want[i].dense, want[i].lexical}, [2]int{got[i].dense, got[i].lexical}, "dense and lexical ranks of %s", want[i].doc)
	}
}

// requireRanksAgree checks that the ranks a fused search reports are the
// positions its hits have in each retriever's own list for the same query:
// what a user is shown as the reason for a passage.
func requireRanksAgree(t *testing.T, st *vector.Store, coll string, q vector.HybridQuery) {
	t.Helper()
	cands := q.Candidates
	if cands <= 0 {
		cands = 2 * q.Limit
	}
	alone := func(q vector.HybridQuery) map[string]int {
		q.Limit, q.Candidates = max(cands, q.Limit), 0
		out := map[string]int{}
		for i, r := range hybrid(t, st, coll, q) {
			out[r.doc] = i + 1
		}
		return out
	}
	dq, lq := q, q
	dq.Sparse, lq.Dense = nil, nil
	dense, lexical := alone(dq), alone(lq)
	for _, r := range hybrid(t, st, coll, q) {
		require.Equal(t, dense[r.doc], r.dense, "dense rank of %s", r.doc)
		require.Equal(t, lexical[r.doc], r.lexical, "lexical rank of %s", r.doc)
	}
}

func testHybridCollection(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	coll := HybridCollection(t, st, 4, vector.Cosine)
	require.NoError(t, st.EnsureHybridCollection(ctx, coll, 4, vector.Cosine), "ensure is idempotent")
	info, err := st.Info(ctx, coll)
	require.NoError(t, err)
	require.True(t, info.Lexical)
	require.Equal(t, 4, info.Dim)
	require.Equal(t, vector.Cosine, info.Distance)
	require.Equal(t, []string{"acl_version", "chunk_index", "document_id", "group_id", "owner_id", "private"}, info.Indexes)
	require.ErrorIs(t, st.EnsureHybridCollection(ctx, coll, 8, vector.Cosine), vector.ErrDimensionMismatch)

	// Lexical vectors cannot be added to a collection: one built without
	// them is refused, and stays as it was.
	dense := Collection(t, st, 4, vector.Cosine)
	require.ErrorIs(t, st.EnsureHybridCollection(ctx, dense, 4, vector.Cosine), vector.ErrConflict)
	info, err = st.Info(ctx, dense)
	require.NoError(t, err)
	require.False(t, info.Lexical)

	// Such a collection still serves dense-only hybrid searches.
	require.NoError(t, st.Upsert(ctx, dense, []vector.Point{point("d", "u", "", false, 0, 1, 0, 0, 0)}))
	requireRanked(t, []ranked{{"d", 1, 1, 0}}, hybrid(t, st, dense, vector.HybridQuery{Dense: []float32{1, 0, 0, 0}, Limit: 5}))
}

func testLexicalVectors(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	// Dot, not cosine: a cosine collection stores its vectors normalised.
	coll := HybridCollection(t, st, 4, vector.Dot)
	pts := []vector.Point{
		lexicalPoint("a", "u", false, []float32{1, 2, 3, 4}, sparse([]uint32{9, 2, 500000}, []float32{0.9, 0.2, 5})),
		lexicalPoint("b", "u", false, []float32{-1, 0.5, 0, 2}, sparse([]uint32{1}, []float32{3})),
		lexicalPoint("c", "u", false, []float32{0, 0, 1, 0}, nil),
	}
	require.NoError(t, st.Upsert(ctx, coll, pts))
	want := map[string]vector.Point{}
	for _, p := range pts {
		want[p.ID] = p
	}
	// Indices come back sorted, each with its value.
	want[pts[0].ID] = lexicalPoint("a", "u", false, []float32{1, 2, 3, 4}, sparse([]uint32{2, 9, 500000}, []float32{0.2, 0.9, 5}))
	check := func(what string, got []vector.Point) {
		t.Helper()
		require.Len(t, got, len(want), what)
		for _, p := range got {
			w := want[p.ID]
			require.Equal(t, w.Vector, p.Vector, "%s: dense vector of %s", what, w.Payload.DocumentID)
			require.Equal(t, w.Sparse, p.Sparse, "%s: lexical vector of %s", what, w.Payload.DocumentID)
			require.Equal(t, w.Payload, p.Payload, what)
		}
	}
	ids := []string{pts[0].ID, pts[1].ID, pts[2].ID}
	got, err := st.GetPoints(ctx, coll, ids, true)
	require.NoError(t, err)
	check("get", got)
	var scrolled []vector.Point
	require.NoError(t, st.ScrollAll(ctx, coll, nil, vector.ScrollOptions{PageSize: 2, WithVectors: true}, func(page []vector.Point) error {
		scrolled = append(scrolled, page...)
		return nil
	}))
	check("scroll", scrolled)
	got, err = st.GetPoints(ctx, coll, ids, false)
	require.NoError(t, err)
	for _, p := range got {
		require.Nil(t, p.Vector, "vectors only on request")
		require.Nil(t, p.Sparse, "vectors only on request")
	}

	// An upsert replaces the lexical vector, never merges it.
	re := lexicalPoint("a", "u", false, []float32{1, 2, 3, 4}, sparse([]uint32{7}, []float32{1}))
	require.NoError(t, st.Upsert(ctx, coll, []vector.Point{re}))
	want = map[string]vector.Point{re.ID: re}
	got, err = st.GetPoints(ctx, coll, []string{re.ID}, true)
	require.NoError(t, err)
	check("get after overwrite", got)
}

// lexicalFixture holds points with lexical vectors over term 3, common to
// all of them, term 5 in two and term 7 in one, a point without a lexical
// vector (x) and one with an empty lexical vector (z, a chunk of stop words):
//
//	doc  lexical           dense
//	r    {3: .5, 7: .6}    [.28, 0, .96, 0]
//	c    {3: 1.9}          [0, 0, 1, 0]
//	m    {5: 1, 3: 1}      [-.28, 0, 0, .96]
//	l    {3: .4, 5: 2}     [-.6, -.8, 0, 0]
//	x    none              [1, 0, 0, 0]
//	z    {}                [.6, .8, 0, 0]
//
// N = 4 points have a non-empty lexical vector: df(3) = 4, df(5) = 2,
// df(7) = 1. The dense query [1, 0, 0, 0] ranks x, z, r, c, m, l.
func lexicalFixture(t *testing.T, st *vector.Store) string {
	coll := HybridCollection(t, st, 4, vector.Cosine)
	require.NoError(t, st.Upsert(context.Background(), coll, []vector.Point{
		lexicalPoint("r", "u", false, []float32{0.28, 0, 0.96, 0}, sparse([]uint32{3, 7}, []float32{0.5, 0.6})),
		lexicalPoint("c", "u", false, []float32{0, 0, 1, 0}, sparse([]uint32{3}, []float32{1.9})),
		lexicalPoint("m", "u", false, []float32{-0.28, 0, 0, 0.96}, sparse([]uint32{5, 3}, []float32{1, 1})),
		lexicalPoint("l", "u", false, []float32{-0.6, -0.8, 0, 0}, sparse([]uint32{3, 5}, []float32{0.4, 2})),
		lexicalPoint("x", "u", false, []float32{1, 0, 0, 0}, nil),
		lexicalPoint("z", "u", false, []float32{0.6, 0.8, 0, 0}, sparse(nil, nil)),
	}))
	return coll
}

// testLexicalIDF: the score of a point is Σ idf(term)·q(term)·d(term) over
// the terms it shares with the query, so a term found in one point outweighs
// a term found in all of them: r wins with 0.6 of the rare term against c's
// 1.9 of the common one (without idf, c would lead with 1.9 to r's 1.1).
func testLexicalIDF(t *testing.T, st *vector.Store) {
	coll := lexicalFixture(t, st)
	common, rare, mid := idf(4, 4), idf(4, 1), idf(4, 2)
	q := vector.HybridQuery{Sparse: sparse([]uint32{3, 7}, []float32{1, 1}), Limit: 10}
	requireRanked(t, []ranked{
		{"r", 0.5*common + 0.6*rare, 0, 1},
		{"c", 1.9 * common, 0, 2},
		{"m", common, 0, 3},
		{"l", 0.4 * common, 0, 4},
	}, hybrid(t, st, coll, q))
	// Query weights multiply in.
	q.Sparse = sparse([]uint32{5}, []float32{1.5})
	requireRanked(t, []ranked{{"l", 1.5 * 2 * mid, 0, 1}, {"m", 1.5 * mid, 0, 2}}, hybrid(t, st, coll, q))
	// A term no point has finds nothing.
	q.Sparse = sparse([]uint32{4}, []float32{1})
	require.Empty(t, hybrid(t, st, coll, q))
}

// testPointWithoutLexical: a point written without a lexical vector (or
// with an empty one) into a hybrid collection is found by the dense
// retriever only.
func testPointWithoutLexical(t *testing.T, st *vector.Store) {
	coll := lexicalFixture(t, st)
	all := sparse([]uint32{3, 5, 7}, []float32{1, 1, 1})
	var docs []string
	for _, r := range hybrid(t, st, coll, vector.HybridQuery{Sparse: all, Limit: 10}) {
		docs = append(docs, r.doc)
	}
	require.ElementsMatch(t, []string{"r", "c", "m", "l"}, docs)
	dense := hybrid(t, st, coll, vector.HybridQuery{Dense: []float32{1, 0, 0, 0}, Limit: 10})
	require.Len(t, dense, 6)
	requireRanked(t, []ranked{{"x", 1, 1, 0}, {"z", 0.6, 2, 0}}, dense[:2])
	fused := map[string]ranked{}
	for _, r := range hybrid(t, st, coll, vector.HybridQuery{Dense: []float32{1, 0, 0, 0}, Sparse: all, Limit: 10}) {
		fused[r.doc] = r
	}
	require.Len(t, fused, 6)
	require.Equal(t, [2]int{1, 0}, [2]int{fused["x"].dense, fused["x"].lexical})
	require.Equal(t, [2]int{2, 0}, [2]int{fused["z"].dense, fused["z"].lexical})
	require.NotZero(t, fused["r"].lexical)
}

// fusionFixture holds five points a dense and a lexical query rank
// differently. All are in group g1; c belongs to u2 and is private, the rest
// to u1.
//
//	doc  dense              lexical             cos(q)  bm25(q)
//	a    [1, 0, 0, 0]       {1: 1, 4: 1}        1       idf1
//	b    [.8, .6, 0, 0]     {4: 1.5}            .8      -
//	c    [.6, 0, .8, 0]     {1: 1.2, 2: 1}      .6      1.2·idf1 + idf2
//	d    [.28, 0, 0, .96]   {1: .3, 4: .5}      .28     .3·idf1
//	e    [-.6, .8, 0, 0]    {2: .4, 4: .2}      -.6     .4·idf2
//
// for q = [1, 0, 0, 0] and {1: 1, 2: 1}; N = 5, df(1) = 3, df(2) = 2, so
// idf1 = ln(2.5/3.5 + 1) ≈ .539 and idf2 = ln(3.4) ≈ 1.224. The dense
// retriever ranks a, b, c, d, e and the lexical one c (1.871), a (.539),
// e (.490), d (.162).
func fusionFixture(t *testing.T, st *vector.Store) (string, vector.HybridQuery) {
	coll := HybridCollection(t, st, 4, vector.Cosine)
	require.NoError(t, st.Upsert(context.Background(), coll, []vector.Point{
		lexicalPoint("a", "u1", false, []float32{1, 0, 0, 0}, sparse([]uint32{1, 4}, []float32{1, 1})),
		lexicalPoint("b", "u1", false, []float32{0.8, 0.6, 0, 0}, sparse([]uint32{4}, []float32{1.5})),
		lexicalPoint("c", "u2", true, []float32{0.6, 0, 0.8, 0}, sparse([]uint32{1, 2}, []float32{1.2, 1})),
		lexicalPoint("d", "u1", false, []float32{0.28, 0, 0, 0.96}, sparse([]uint32{1, 4}, []float32{0.3, 0.5})),
		lexicalPoint("e", "u1", false, []float32{-0.6, 0.8, 0, 0}, sparse([]uint32{2, 4}, []float32{0.4, 0.2})),
	}))
	return coll, vector.HybridQuery{Dense: []float32{1, 0, 0, 0}, Sparse: sparse([]uint32{1, 2}, []float32{1, 1}), Limit: 10, Candidates: 10}
}

// fusionScores are each retriever's scores of fusionFixture's points.
func fusionScores() (dense, lexical map[string]float64) {
	idf1, idf2 := idf(5, 3), idf(5, 2)
	return map[string]float64{"a": 1, "b": 0.8, "c": 0.6, "d": 0.28, "e": -0.6},
		map[string]float64{"c": 1.2*idf1 + idf2, "a": idf1, "e": 0.4 * idf2, "d": 0.3 * idf1}
}

// testHybridRetrievers: each retriever alone ranks by its own score.
func testHybridRetrievers(t *testing.T, st *vector.Store) {
	coll, q := fusionFixture(t, st)
	dense, lexical := fusionScores()
	dq, lq := q, q
	dq.Sparse, lq.Dense = nil, nil
	requireRanked(t, []ranked{{"a", dense["a"], 1, 0}, {"b", dense["b"], 2, 0}, {"c", dense["c"], 3, 0}, {"d", dense["d"], 4, 0}, {"e", dense["e"], 5, 0}},
		hybrid(t, st, coll, dq))
	requireRanked(t, []ranked{{"c", lexical["c"], 0, 1}, {"a", lexical["a"], 0, 2}, {"e", lexical["e"], 0, 3}, {"d", lexical["d"], 0, 4}},
		hybrid(t, st, coll, lq))
	// A dense query of the wrong length is reported as such, fused or not.
	ctx := context.Background()
	for _, bad := range []vector.HybridQuery{{Dense: []float32{1, 0}, Limit: 3}, {Dense: []float32{1, 0}, Sparse: q.Sparse, Limit: 3}} {
		_, err := st.HybridSearch(ctx, coll, bad)
		require.ErrorIs(t, err, vector.ErrDimensionMismatch)
	}
	_, err := st.HybridSearch(ctx, Name(t, "ywmissing"), q)
	require.ErrorIs(t, err, vector.ErrNotFound)
}

// testHybridRRF: positions (0-based) dense a0 b1 c2 d3 e4 and lexical c0 a1
// e2 d3 fuse, each scoring 1/(2+p), to a .833, c .75, e .417, d .4, b .333.
func testHybridRRF(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	coll, q := fusionFixture(t, st)
	want := []ranked{
		{"a", rrf(0, 1), 1, 2},
		{"c", rrf(2, 0), 3, 1},
		{"e", rrf(4, 2), 5, 3},
		{"d", rrf(3, 3), 4, 4},
		{"b", rrf(1), 2, 0},
	}
	requireRanked(t, want, hybrid(t, st, coll, q))
	q.Fusion = vector.RRF
	requireRanked(t, want, hybrid(t, st, coll, q))
	requireRanksAgree(t, st, coll, q)

	// Searches go through the alias the application uses.
	alias := Name(t, "ywalias")
	t.Cleanup(func() { _ = st.DeleteAlias(context.Background(), alias) })
	require.NoError(t, st.SwitchAlias(ctx, alias, coll))
	requireRanked(t, want, hybrid(t, st, alias, q))
}

// testHybridDBSF: distribution-based fusion weighs how far each score stands
// out of its list, which puts c, the lexical retriever's clear winner, first.
func testHybridDBSF(t *testing.T, st *vector.Store) {
	coll, q := fusionFixture(t, st)
	q.Fusion = vector.DBSF
	fused := dbsf(fusionScores())
	want := []ranked{{"c", fused["c"], 3, 1}, {"a", fused["a"], 1, 2}, {"d", fused["d"], 4, 4}, {"e", fused["e"], 5, 3}, {"b", fused["b"], 2, 0}}
	require.Greater(t, want[0].score, want[1].score, "the fixture fuses without ties")
	require.Greater(t, want[3].score, want[4].score, "the fixture fuses without ties")
	requireRanked(t, want, hybrid(t, st, coll, q))
	requireRanksAgree(t, st, coll, q)
	q.Fusion = "nope"
	_, err := st.HybridSearch(context.Background(), coll, q)
	require.Error(t, err)
}

// testHybridFilter: the filter applies inside each retriever, so a point it
// removes never reaches the fusion, though c is the lexical retriever's best
// and a the dense one's. The idf statistics stay the collection's.
func testHybridFilter(t *testing.T, st *vector.Store) {
	coll, q := fusionFixture(t, st)
	dense, lexical := fusionScores()
	// u1 sees its own points; c is u2's and private.
	q.Filter = visibleTo("u1", "g1")
	// Dense a0 b1 d2 e3, lexical a0 e1 d2.
	requireRanked(t, []ranked{
		{"a", rrf(0, 0), 1, 1},
		{"e", rrf(3, 1), 4, 2},
		{"d", rrf(2, 2), 3, 3},
		{"b", rrf(1), 2, 0},
	}, hybrid(t, st, coll, q))
	requireRanksAgree(t, st, coll, q)
	lq := q
	lq.Dense = nil
	requireRanked(t, []ranked{{"a", lexical["a"], 0, 1}, {"e", lexical["e"], 0, 2}, {"d", lexical["d"], 0, 3}}, hybrid(t, st, coll, lq))
	dq := q
	dq.Sparse = nil
	requireRanked(t, []ranked{{"a", dense["a"], 1, 0}, {"b", dense["b"], 2, 0}, {"d", dense["d"], 3, 0}, {"e", dense["e"], 4, 0}}, hybrid(t, st, coll, dq))

	// Without a, the dense retriever's best, and with either fusion.
	q.Filter = &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewMatchKeyword(vector.FieldDocumentID, "a")}}
	for _, f := range []vector.Fusion{vector.RRF, vector.DBSF} {
		q.Fusion = f
		got := hybrid(t, st, coll, q)
		require.Len(t, got, 4, f)
		for _, r := range got {
			require.NotEqual(t, "a", r.doc, f)
		}
	}
}

// testHybridCandidates: Candidates cuts each retriever's list before the
// fusion. With 3, dense keeps a b c and lexical c a e: d, fourth in both,
// is not fused in and e keeps only its lexical share. Without the cut, e
// (1/6 + 1/4) and d (1/5 + 1/5) would both beat b (1/3) to the third place.
func testHybridCandidates(t *testing.T, st *vector.Store) {
	coll, q := fusionFixture(t, st)
	q.Candidates, q.Limit = 3, 3
	requireRanked(t, []ranked{{"a", rrf(0, 1), 1, 2}, {"c", rrf(2, 0), 3, 1}, {"b", rrf(1), 2, 0}}, hybrid(t, st, coll, q))
	requireRanksAgree(t, st, coll, q)
	// With 2, c is third in the dense list and fused with its lexical share.
	q.Candidates, q.Limit = 2, 2
	requireRanked(t, []ranked{{"a", rrf(0, 1), 1, 2}, {"c", rrf(0), 0, 1}}, hybrid(t, st, coll, q))

	// Without Candidates each retriever hands on twice Limit: with 4, c
	// keeps its dense share (third).
	q.Candidates, q.Limit = 0, 2
	requireRanked(t, []ranked{{"a", rrf(0, 1), 1, 2}, {"c", rrf(2, 0), 3, 1}}, hybrid(t, st, coll, q))

	// Limit cuts the fused list and nothing else.
	q.Candidates, q.Limit = 10, 2
	requireRanked(t, []ranked{{"a", rrf(0, 1), 1, 2}, {"c", rrf(2, 0), 3, 1}}, hybrid(t, st, coll, q))
	q.Limit = 0
	require.Empty(t, hybrid(t, st, coll, q))
}

// testHybridDeleteIDF: deleting a point takes it out of the results at once
// and, on the embedded server, out of the idf statistics: Qdrant counts a
// deleted point until its optimizer rebuilds the segment.
func testHybridDeleteIDF(t *testing.T, st *vector.Store, embedded bool) {
	ctx := context.Background()
	coll := lexicalFixture(t, st)
	q := vector.HybridQuery{Sparse: sparse([]uint32{3, 7}, []float32{1, 1}), Limit: 10}
	require.NoError(t, st.DeletePoints(ctx, coll, []string{vector.PointID("r", 0, "test")}))
	got := hybrid(t, st, coll, q)
	require.Len(t, got, 3)
	require.Equal(t, []string{"c", "m", "l"}, []string{got[0].doc, got[1].doc, got[2].doc})
	if !embedded {
		t.Log("idf after a delete not checked: Qdrant counts deleted points until it optimises the segment")
		return
	}
	// N = 3 and df(3) = 3.
	common := idf(3, 3)
	requireRanked(t, []ranked{{"c", 1.9 * common, 0, 1}, {"m", common, 0, 2}, {"l", 0.4 * common, 0, 3}}, got)
	// Overwriting m without a lexical vector takes it out too: N = 2.
	require.NoError(t, st.Upsert(ctx, coll, []vector.Point{lexicalPoint("m", "u", false, []float32{0, 0, 0, 1}, nil)}))
	common = idf(2, 2)
	requireRanked(t, []ranked{{"c", 1.9 * common, 0, 1}, {"l", 0.4 * common, 0, 2}}, hybrid(t, st, coll, q))
}
