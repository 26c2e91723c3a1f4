package qdrantlite

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/qdrant/go-client/qdrant"
)

// sparseDoc is the sparse vector of one point: indices strictly increasing,
// as Qdrant stores them (it sorts on upsert), values as given.
//
// idx and val never change once the document is installed: a snapshot being
// written reads them without the collection lock, as it reads payload maps.
// pos is the only mutable part (under the write lock): pos[i] is where this
// point sits in the posting list of idx[i], so removing the point from a
// posting list is a swap with the list's last entry, never a scan of a list
// that may hold most of the collection.
type sparseDoc struct {
	idx []uint32
	val []float32
	pos []uint32
}

// postingList holds the points that have one term, with their weights.
// Entries are unordered (removal swaps in the last one); scoring accumulates
// into a per-slot array, so order does not matter.
type postingList struct {
	slots   []uint32
	weights []float32
}

// sparseIndex is the inverted index of one named sparse vector. The length
// of a posting list is the term's document frequency and n the number of
// points with a non-empty vector, the two statistics of the idf modifier.
type sparseIndex struct {
	idf   bool
	docs  []*sparseDoc // by slot; nil when the point has no vector of this name
	terms map[uint32]*postingList
	n     int
}

func newSparseIndex(idf bool) *sparseIndex {
	return &sparseIndex{idf: idf, terms: make(map[uint32]*postingList)}
}

// newSparseDoc validates a sparse vector as Qdrant does (as many values as
// indices, no index twice) and returns it sorted by index. The input is
// copied: it belongs to a request that may be logged or replayed.
func newSparseDoc(indices []uint32, values []float32) (*sparseDoc, error) {
	if len(indices) != len(values) {
		return nil, fmt.Errorf("values must be the same length as indices (%d indices, %d values)", len(indices), len(values))
	}
	d := &sparseDoc{idx: slices.Clone(indices), val: slices.Clone(values), pos: make([]uint32, len(indices))}
	if !slices.IsSorted(d.idx) {
		sort.Sort(byIndex{d})
	}
	for i := 1; i < len(d.idx); i++ {
		if d.idx[i] == d.idx[i-1] {
			return nil, fmt.Errorf("indices must be unique (index %d repeats)", d.idx[i])
		}
	}
	return d, nil
}

type byIndex struct{ d *sparseDoc }

func (b byIndex) Len() int           { return len(b.d.idx) }
func (b byIndex) Less(i, j int) bool { return b.d.idx[i] < b.d.idx[j] }
func (b byIndex) Swap(i, j int) {
	b.d.idx[i], b.d.idx[j] = b.d.idx[j], b.d.idx[i]
	b.d.val[i], b.d.val[j] = b.d.val[j], b.d.val[i]
}

// set replaces the vector of a slot (nil removes it), keeping the postings
// and the statistics exact: a deleted or overwritten point stops counting at
// once. (Qdrant's mutable segments keep counting deleted points until the
// optimizer rebuilds them, so right after deletes its idf can differ a little
// from ours; both agree once it has.)
func (ix *sparseIndex) set(slot uint32, d *sparseDoc) {
	if int(slot) >= len(ix.docs) {
		if d == nil {
			return
		}
		ix.docs = append(ix.docs, make([]*sparseDoc, int(slot)+1-len(ix.docs))...)
	}
	if old := ix.docs[slot]; old != nil {
		ix.remove(slot, old)
	}
	ix.docs[slot] = d
	if d == nil {
		return
	}
	for i, t := range d.idx {
		p := ix.terms[t]
		if p == nil {
			p = &postingList{}
			ix.terms[t] = p
		}
		d.pos[i] = uint32(len(p.slots))
		p.slots = append(p.slots, slot)
		p.weights = append(p.weights, d.val[i])
	}
	if len(d.idx) > 0 {
		ix.n++
	}
}

func (ix *sparseIndex) remove(slot uint32, d *sparseDoc) {
	for i, t := range d.idx {
		p := ix.terms[t]
		k, last := d.pos[i], uint32(len(p.slots)-1)
		if k != last {
			moved := p.slots[last]
			p.slots[k], p.weights[k] = moved, p.weights[last]
			md := ix.docs[moved]
			j, _ := slices.BinarySearch(md.idx, t)
			md.pos[j] = k
		}
		if last == 0 {
			delete(ix.terms, t)
			continue
		}
		p.slots, p.weights = p.slots[:last], p.weights[:last]
		// Give memory back when a list shrank to a quarter: a relabelled
		// corpus would otherwise keep its peak size forever.
		if c := cap(p.slots); c > 64 && int(last) < c/4 {
			p.slots, p.weights = slices.Clip(slices.Clone(p.slots)), slices.Clip(slices.Clone(p.weights))
		}
	}
	if len(d.idx) > 0 {
		ix.n--
	}
	ix.docs[slot] = nil
}

func (ix *sparseIndex) doc(slot uint32) *sparseDoc {
	if int(slot) < len(ix.docs) {
		return ix.docs[slot]
	}
	return nil
}

// idfWeight is Qdrant's idf: ln((N - df + 0.5) / (df + 0.5) + 1), computed
// in float32 like Qdrant's, with N the points having a non-empty vector of
// this name and df those of them having the term.
func idfWeight(n, df int) float32 {
	nf, dff := float32(n), float32(df)
	return float32(math.Log(float64((nf-dff+0.5)/(dff+0.5) + 1)))
}

// queryTerm is one term of a prepared query with the posting list it reads.
type queryTerm struct {
	term   uint32
	weight float32
	list   *postingList
}

// prepare turns a query into its terms that occur in the collection, sorted
// by index, with the idf modifier applied to their weights. Qdrant sums a
// score in this order too, so the float32 sums come out the same.
func (ix *sparseIndex) prepare(q *sparseDoc) []queryTerm {
	out := make([]queryTerm, 0, len(q.idx))
	for i, t := range q.idx {
		p := ix.terms[t]
		if p == nil {
			continue
		}
		w := q.val[i]
		if ix.idf {
			w *= idfWeight(ix.n, len(p.slots))
		}
		out = append(out, queryTerm{term: t, weight: w, list: p})
	}
	return out
}

// sparseScratch is the per-query state of a posting-list scan, pooled
// because it is sized by the collection: a score per slot and which slots
// were reached.
type sparseScratch struct {
	acc  []float32
	seen bitmap
	hit  []uint32
}

var scratchPool = sync.Pool{New: func() any { return &sparseScratch{} }}

// search returns the k best points for the query among cands (nil: all
// points), best first, keeping only scores of at least threshold. The score
// is the dot product over shared indices; a point sharing no index with the
// query is not a result, as in Qdrant.
func (ix *sparseIndex) search(q *sparseDoc, cands bitmap, slots, k int, threshold *float32) []hit {
	if k <= 0 {
		return nil
	}
	terms := ix.prepare(q)
	if len(terms) == 0 {
		return nil
	}
	t := newTopK(k, false)
	offer := func(slot uint32, score float32) {
		if threshold != nil && score < *threshold {
			return
		}
		if t.admits(score) {
			t.offer(hit{slot: slot, score: score})
		}
	}
	postings := 0
	for _, qt := range terms {
		postings += len(qt.list.slots)
	}
	// A selective filter (a user seeing a few documents) is cheaper to
	// score point by point than by walking postings that mostly fail it.
	// Measured at 100k points (BenchmarkSparseSearch), a candidate costs
	// about 25 ns per query term (a binary search in memory rarely in
	// cache), a posting 1.5 to 3 ns (a bitmap test and an add), hence 16.
	if cands != nil {
		if n := cands.count(); n*len(terms)*16 < postings {
			cands.each(func(s uint32) {
				if score, ok := scoreDoc(ix.doc(s), terms); ok {
					offer(s, score)
				}
			})
			return t.sorted()
		}
	}
	sc := scratchPool.Get().(*sparseScratch)
	defer scratchPool.Put(sc)
	if len(sc.acc) < slots {
		sc.acc = make([]float32, slots)
		sc.seen = newBitmap(slots)
	}
	acc, seen := sc.acc, sc.seen
	reached := sc.hit[:0]
	for _, qt := range terms {
		w := qt.weight
		ws := qt.list.weights[:len(qt.list.slots)]
		for j, s := range qt.list.slots {
			if cands != nil && !cands.has(s) {
				continue
			}
			if !seen.has(s) {
				seen.set(s)
				reached = append(reached, s)
			}
			// The conversion stops the compiler fusing the multiply-add,
			// so this path and scoreDoc round alike on every platform.
			acc[s] += float32(ws[j] * w)
		}
	}
	for _, s := range reached {
		offer(s, acc[s])
		acc[s] = 0
		seen[s>>6] = 0
	}
	sc.hit = reached[:0]
	return t.sorted()
}

// scoreDoc scores one point's vector against prepared query terms; ok is
// false when they share no index.
func scoreDoc(d *sparseDoc, terms []queryTerm) (score float32, ok bool) {
	if d == nil {
		return 0, false
	}
	for _, qt := range terms {
		if j, found := slices.BinarySearch(d.idx, qt.term); found {
			score += float32(d.val[j] * qt.weight)
			ok = true
		}
	}
	return score, ok
}

// sparseOutput is the wire form of a stored sparse vector.
func sparseOutput(d *sparseDoc) *qdrant.VectorOutput {
	return &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Sparse{
		Sparse: &qdrant.SparseVector{Indices: slices.Clone(d.idx), Values: slices.Clone(d.val)},
	}}
}
