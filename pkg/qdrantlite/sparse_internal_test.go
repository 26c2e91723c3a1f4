package qdrantlite

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
)

func sparseCollection() *collection {
	idf := int32(qdrant.Modifier_Idf)
	return newCollection("t", "", collectionMeta{Dim: 1, Distance: int32(qdrant.Distance_Dot),
		Sparse:  map[string]sparseMeta{"s": {Modifier: &idf}},
		Indexes: []indexMeta{{Field: "g", Schema: int32(qdrant.PayloadSchemaType_Integer)}}})
}

func randomDoc(rng *rand.Rand) *sparseDoc {
	if rng.IntN(10) == 0 {
		return nil
	}
	n := rng.IntN(12)
	idx := make([]uint32, 0, n)
	val := make([]float32, 0, n)
	for range n {
		t := uint32(rng.IntN(40))
		if !slices.Contains(idx, t) {
			idx = append(idx, t)
			val = append(val, rng.Float32()*3)
		}
	}
	d, err := newSparseDoc(idx, val)
	if err != nil {
		panic(err)
	}
	return d
}

// TestSparseIndexStaysExact: after random upserts, overwrites, deletes and
// slot reuse, every posting list holds exactly the live points with the
// term (so df is exact), every point knows its place in each list, N counts
// the points with a non-empty vector, and both scoring paths (posting lists,
// and point by point for selective filters) give the brute-force result.
func TestSparseIndexStaysExact(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	c := sparseCollection()
	for round := range 60 {
		var pts []preparedPoint
		for range 40 {
			k := pointKey{lo: uint64(rng.IntN(300))}
			p := preparedPoint{key: k, vec: []float32{1}, payload: map[string]any{"g": int64(rng.IntN(3))}}
			if d := randomDoc(rng); d != nil {
				p.sparse = map[string]*sparseDoc{"s": d}
			}
			pts = append(pts, p)
		}
		c.applyUpsert(pts, true)
		var del []uint32
		for k, s := range c.byKey {
			if rng.IntN(8) == 0 && k.lo%2 == uint64(round%2) {
				del = append(del, s)
			}
		}
		c.deleteSlots(del)
		checkSparse(t, c, rng)
	}
}

func checkSparse(t *testing.T, c *collection, rng *rand.Rand) {
	t.Helper()
	ix := c.sparse["s"]
	want := map[uint32]map[uint32]float32{}
	n := 0
	for s, alive := range c.alive {
		d := ix.doc(uint32(s))
		if !alive {
			require.Nil(t, d, "a deleted point keeps no sparse vector")
			continue
		}
		if d == nil {
			continue
		}
		if len(d.idx) > 0 {
			n++
		}
		require.True(t, slices.IsSorted(d.idx))
		for i, term := range d.idx {
			if want[term] == nil {
				want[term] = map[uint32]float32{}
			}
			want[term][uint32(s)] = d.val[i]
			p := ix.terms[term]
			require.Equal(t, uint32(s), p.slots[d.pos[i]], "position of slot %d in term %d", s, term)
			require.Equal(t, d.val[i], p.weights[d.pos[i]])
		}
	}
	require.Equal(t, n, ix.n)
	require.Len(t, ix.terms, len(want))
	for term, p := range ix.terms {
		require.Len(t, p.slots, len(want[term]), "df of term %d", term)
	}

	q, err := newSparseDoc([]uint32{3, 1, 17, 39, 99}, []float32{1, 0.5, 2, 1, 1})
	require.NoError(t, err)
	terms := ix.prepare(q)
	var brute []hit
	for s, alive := range c.alive {
		if alive {
			if score, ok := scoreDoc(ix.doc(uint32(s)), terms); ok {
				brute = append(brute, hit{slot: uint32(s), score: score})
			}
		}
	}
	bt := newTopK(len(brute)+1, false)
	for _, h := range brute {
		bt.offer(h)
	}
	require.Equal(t, bt.sorted(), ix.search(q, nil, len(c.keys), len(brute)+1, nil), "posting lists")

	// One filter value keeps about a third of the points: posting lists
	// again. A has_id of a few points: point by point.
	for _, f := range []*qdrant.Filter{
		{Must: []*qdrant.Condition{qdrant.NewMatchInt("g", 1)}},
		{Must: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewIDNum(uint64(rng.IntN(300))), qdrant.NewIDNum(uint64(rng.IntN(300))))}},
	} {
		cands, err := c.filterBitmap(f)
		require.NoError(t, err)
		ft := newTopK(len(brute)+1, false)
		for _, h := range brute {
			if cands.has(h.slot) {
				ft.offer(h)
			}
		}
		require.Equal(t, ft.sorted(), ix.search(q, cands, len(c.keys), len(brute)+1, nil))
	}
}

func TestSparseDocValidation(t *testing.T) {
	t.Parallel()
	d, err := newSparseDoc([]uint32{9, 2, 5}, []float32{0.9, 0.2, 0.5})
	require.NoError(t, err)
	require.Equal(t, []uint32{2, 5, 9}, d.idx)
	require.Equal(t, []float32{0.2, 0.5, 0.9}, d.val, "values move with their indices, unchanged")
	_, err = newSparseDoc([]uint32{1, 2}, []float32{1})
	require.ErrorContains(t, err, "same length")
	_, err = newSparseDoc([]uint32{4, 1, 4}, []float32{1, 2, 3})
	require.ErrorContains(t, err, "unique")
}

// fuseIDs fuses ranked lists of point ids, each id a numbered point.
func fuseIDs(t *testing.T, f fusion, lists ...[]hit) []hit {
	t.Helper()
	c := sparseCollection()
	var pts []preparedPoint
	for id := range uint64(10) {
		pts = append(pts, preparedPoint{key: pointKey{lo: id}, vec: []float32{1}})
	}
	c.applyUpsert(pts, true)
	for _, l := range lists {
		for i := range l {
			l[i].slot = c.byKey[pointKey{lo: uint64(l[i].slot)}]
		}
	}
	out := c.fuse(lists, f)
	for i := range out {
		out[i].slot = uint32(c.keys[out[i].slot].lo)
	}
	return out
}

// TestRRFMatchesQdrant replays the cases of Qdrant's own unit tests in
// lib/segment/src/common/reciprocal_rank_fusion.rs, with their expected
// float32 scores.
func TestRRFMatchesQdrant(t *testing.T) {
	t.Parallel()
	got := fuseIDs(t, fusion{k: defaultRRFK},
		[]hit{{2, 0.9}, {1, 0.8}},
		[]hit{{1, 0.7}, {2, 0.6}, {3, 0.5}},
		[]hit{{5, 0.9}, {3, 0.5}, {1, 0.4}})
	require.Equal(t, []hit{{1, 1.0833334}, {2, 0.8333334}, {3, 0.5833334}, {5, 0.5}}, got)

	got = fuseIDs(t, fusion{k: defaultRRFK, weights: []float32{1, 0}}, []hit{{1, 0.9}}, []hit{{2, 0.9}})
	require.Equal(t, []hit{{1, 0.5}, {2, 0}}, got, "a source of weight 0 contributes nothing")

	got = fuseIDs(t, fusion{k: defaultRRFK, weights: []float32{3, 1}}, []hit{{1, 0.9}, {2, 0.8}}, []hit{{2, 0.9}, {1, 0.8}})
	require.Equal(t, uint32(2), got[0].slot, "position 1 in a source of weight 3 costs little")
	require.Greater(t, got[0].score, got[1].score)

	got = fuseIDs(t, fusion{k: defaultRRFK}, []hit{{7, 1}, {3, 1}}, []hit{{3, 1}, {7, 1}})
	require.Equal(t, []hit{{3, 0.8333334}, {7, 0.8333334}}, got, "ties go to the smaller id")
}

// TestDBSFNormalisation: Welford's float32 mean and sample variance agree
// with the two-pass formulas (Qdrant's proptest in score_fusion.rs), and
// the degenerate lists score 0.5.
func TestDBSFNormalisation(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		src := make([]hit, 2+rng.IntN(50))
		var sum float64
		for i := range src {
			src[i].score = rng.Float32()*200 - 100
			sum += float64(src[i].score)
		}
		mean := sum / float64(len(src))
		var ss float64
		for _, h := range src {
			ss += (float64(h.score) - mean) * (float64(h.score) - mean)
		}
		std := math.Sqrt(ss / float64(len(src)-1))
		lo, hi := mean-3*std, mean+3*std
		for i, got := range distrNorm(src) {
			require.InDelta(t, (float64(src[i].score)-lo)/(hi-lo), float64(got), 1e-4)
		}
	}
	require.Equal(t, []float32{0.5}, distrNorm([]hit{{1, 42}}))
	require.Equal(t, []float32{0.5, 0.5}, distrNorm([]hit{{1, 3}, {2, 3}}))
	// No clamping: an outlier lands beyond 1 when the others are tight.
	src := make([]hit, 20)
	src[0].score = 100
	require.Greater(t, distrNorm(src)[0], float32(1))
}

// BenchmarkSparseSearch: the sparse index alone (no gRPC) over 100k points
// of ~120 Zipf-drawn terms: a 10-term idf query, unfiltered and restricted
// to the ~10% of points an ACL filter lets through.
func BenchmarkSparseSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 2, 49_999)
	ix := newSparseIndex(true)
	const n = 100_000
	tf := map[uint32]int{}
	for s := range uint32(n) {
		clear(tf)
		for draws := 0; len(tf) < 120 && draws < 2000; draws++ {
			tf[uint32(zipf.Uint64())]++
		}
		var idx []uint32
		var val []float32
		for t, f := range tf {
			idx = append(idx, t)
			val = append(val, float32(f)*2.2/(float32(f)+1.2))
		}
		d, err := newSparseDoc(idx, val)
		require.NoError(b, err)
		ix.set(s, d)
	}
	acl := newBitmap(n)
	for s := range uint32(n) {
		if s%100 < 10 && s%10 != 3 || s%1000 == 42 {
			acl.set(s)
		}
	}
	queries := make([]*sparseDoc, 64)
	postings := 0
	for i := range queries {
		seen := map[uint32]bool{}
		var idx []uint32
		for len(idx) < 10 {
			if t := uint32(zipf.Uint64()); !seen[t] {
				seen[t] = true
				idx = append(idx, t)
			}
		}
		queries[i], _ = newSparseDoc(idx, []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
		for _, qt := range ix.prepare(queries[i]) {
			postings += len(qt.list.slots)
		}
	}
	b.Logf("%d postings per query on average, %d filtered points", postings/len(queries), acl.count())
	for name, cands := range map[string]bitmap{"all": nil, "acl": acl} {
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if len(ix.search(queries[i%len(queries)], cands, n, 10, nil)) != 10 {
					b.Fatal("short result")
				}
				i++
			}
		})
	}
}
