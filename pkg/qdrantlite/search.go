package qdrantlite

import (
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/qdrant/go-client/qdrant"
)

func normalize(v []float32) {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range v {
		v[i] *= inv
	}
}

type hit struct {
	slot  uint32
	score float32
}

// topK keeps the k best hits in a binary heap whose root is the worst kept
// hit, so most candidates cost one comparison. It is hand-rolled rather than
// container/heap because boxing each pushed hit in an interface allocates.
type topK struct {
	k         int
	ascending bool // smaller is better (distances)
	h         []hit
}

func newTopK(k int, ascending bool) *topK {
	return &topK{k: k, ascending: ascending, h: make([]hit, 0, k)}
}

// worse reports whether a ranks below b; ties go to the higher slot so the
// result does not depend on scan order or on how the scan was split.
func (t *topK) worse(a, b hit) bool {
	if a.score != b.score {
		if t.ascending {
			return a.score > b.score
		}
		return a.score < b.score
	}
	return a.slot > b.slot
}

func (t *topK) offer(x hit) {
	h := t.h
	if len(h) < t.k {
		h = append(h, x)
		i := len(h) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !t.worse(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		t.h = h
		return
	}
	if !t.worse(h[0], x) {
		return
	}
	h[0] = x
	i, n := 0, len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && t.worse(h[r], h[l]) {
			m = r
		}
		if !t.worse(h[m], h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// admits reports whether a score could enter the heap; the scan checks it
// before building a hit.
func (t *topK) admits(score float32) bool {
	if len(t.h) < t.k {
		return true
	}
	if t.ascending {
		return score <= t.h[0].score
	}
	return score >= t.h[0].score
}

// sorted returns the kept hits best first.
func (t *topK) sorted() []hit {
	out := slices.Clone(t.h)
	slices.SortFunc(out, func(a, b hit) int {
		switch {
		case t.worse(b, a):
			return -1
		case t.worse(a, b):
			return 1
		}
		return 0
	})
	return out
}

// parallelWork is the scan size (candidates times active components) above
// which scoring is split across CPUs. Below it a split saves less than it
// risks: on a busy machine the search waits for the slowest part, which
// hurts the tail more than it helps the median. (A tenth of 100k points of
// dimension 384, 3.5M, split over two CPUs kept its median, about 13 ms,
// and doubled its 99th percentile: the scan is bound by memory.)
const parallelWork = 4 << 20

type searchParams struct {
	query  []float32
	filter *qdrant.Filter
	// cands, when set, replaces filter: the query planner passes the
	// points it already resolved (filters of nested prefetches, or the
	// points prefetched for a rescore).
	cands     bitmap
	limit     int
	offset    int
	threshold *float32
}

// Score kinds. Every kind is a sum over the query's active components of a
// per-component term, which is what lets the scan work a component row at a
// time over the dimension-major segments.
const (
	scoreDot = iota
	scoreEuclid
	scoreManhattan
)

// query is a search vector reduced to its active components. For dot and
// cosine a component that is zero contributes exactly zero, so only the
// non-zero ones are kept; distances need every component.
type query struct {
	kind int
	idx  []int
	val  []float32
}

func newQuery(q []float32, kind int) query {
	qq := query{kind: kind, idx: make([]int, 0, len(q)), val: make([]float32, 0, len(q))}
	for d, x := range q {
		if kind != scoreDot || x != 0 {
			qq.idx = append(qq.idx, d)
			qq.val = append(qq.val, x)
		}
	}
	return qq
}

// scoreRows writes into acc[k] the score of the slot at offset offs[k]
// (increasing) of a segment with rows of length stride. It walks the query's
// component rows four at a time and reads in each only the candidates'
// entries, so that every row is read forward, as the hardware prefetches
// best, and a filter keeping a tenth of the points costs a tenth of the
// arithmetic of scoring every slot. Every candidate density takes this one
// path, so a point's score never depends on which other points a filter
// keeps. (Measured at 100k points of dimension 384: with a tenth of the
// points kept, half the time of scoring whole rows, 12 ms against 25; with
// a twentieth, half the time of reading each candidate's vector down its
// column; with all kept, the same as whole rows.)
func (q *query) scoreRows(seg []float32, stride int, offs []int, acc []float32) {
	acc = acc[:len(offs)]
	clear(acc)
	n := offs[len(offs)-1] + 1
	row := func(t int) []float32 {
		d := q.idx[t]
		return seg[d*stride : d*stride+n : d*stride+n]
	}
	t := 0
	if q.kind != scoreManhattan {
		// Four components per pass: acc is loaded and stored once for
		// four multiply-adds instead of one.
		for ; t+4 <= len(q.idx); t += 4 {
			q0, q1, q2, q3 := q.val[t], q.val[t+1], q.val[t+2], q.val[t+3]
			r0, r1, r2, r3 := row(t), row(t+1), row(t+2), row(t+3)
			r1, r2, r3 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)]
			if q.kind == scoreDot {
				for k, j := range offs {
					_ = r0[j] // one bounds check proves the other three
					acc[k] += q0*r0[j] + q1*r1[j] + q2*r2[j] + q3*r3[j]
				}
				continue
			}
			for k, j := range offs {
				_ = r0[j]
				d0, d1, d2, d3 := r0[j]-q0, r1[j]-q1, r2[j]-q2, r3[j]-q3
				acc[k] += d0*d0 + d1*d1 + d2*d2 + d3*d3
			}
		}
	}
	for ; t < len(q.idx); t++ {
		qd, r := q.val[t], row(t)
		switch q.kind {
		case scoreDot:
			for k, j := range offs {
				acc[k] += qd * r[j]
			}
		case scoreEuclid:
			for k, j := range offs {
				x := r[j] - qd
				acc[k] += x * x
			}
		case scoreManhattan:
			for k, j := range offs {
				acc[k] += float32(math.Abs(float64(r[j] - qd)))
			}
		}
	}
}

// search runs an exact nearest-neighbour search over the points matching the
// filter. Scores follow Qdrant: cosine and dot are similarities (higher is
// better), euclid and manhattan are distances (lower is better).
func (c *collection) search(sp searchParams) ([]hit, error) {
	if len(sp.query) != c.dim {
		return nil, errWrongInput("Vector dimension error: expected dim: %d, got %d", c.dim, len(sp.query))
	}
	qv := slices.Clone(sp.query)
	kind, ascending := scoreDot, false
	switch c.dist {
	case qdrant.Distance_Cosine:
		normalize(qv)
	case qdrant.Distance_Dot:
	case qdrant.Distance_Euclid:
		kind, ascending = scoreEuclid, true
	case qdrant.Distance_Manhattan:
		kind, ascending = scoreManhattan, true
	default:
		return nil, errWrongInput("unsupported distance %v", c.dist)
	}
	q := newQuery(qv, kind)
	var thr float32
	hasThr := sp.threshold != nil
	if hasThr {
		thr = *sp.threshold
		if c.dist == qdrant.Distance_Euclid {
			thr *= thr
		}
	}
	k := sp.limit + sp.offset
	if k <= 0 {
		return nil, nil
	}

	// Candidates stay a bitmap: the authorization filter is answered by
	// the indexes as one, and the scan walks it a segment at a time.
	cands := sp.cands
	if cands == nil {
		var err error
		if cands, err = c.filterBitmap(sp.filter); err != nil {
			return nil, err
		}
	}

	S := c.segSlots
	scan := func(segLo, segHi int) *topK {
		t := newTopK(k, ascending)
		acc := make([]float32, S)
		offs := make([]int, 0, S)
		for si := segLo; si < segHi; si++ {
			base := si * S
			n := min(S, len(c.keys)-base)
			offs = cands.appendRange(offs[:0], base, base+n)
			if len(offs) == 0 {
				continue
			}
			q.scoreRows(c.vecs[si], S, offs, acc)
			for k, j := range offs {
				score := acc[k]
				if hasThr && ((ascending && score > thr) || (!ascending && score < thr)) {
					continue
				}
				if t.admits(score) {
					t.offer(hit{slot: uint32(base + j), score: score})
				}
			}
		}
		return t
	}
	var best *topK
	segs := (len(c.keys) + S - 1) / S
	if n := runtime.GOMAXPROCS(0); n > 1 && segs > 1 && cands.count()*len(q.idx) >= parallelWork {
		n = min(n, segs)
		parts := make([]*topK, n)
		var wg sync.WaitGroup
		chunk := (segs + n - 1) / n
		for i := range n {
			lo, hi := min(i*chunk, segs), min((i+1)*chunk, segs)
			wg.Go(func() { parts[i] = scan(lo, hi) })
		}
		wg.Wait()
		best = newTopK(k, ascending)
		for _, pt := range parts {
			for _, h := range pt.h {
				best.offer(h)
			}
		}
	} else {
		best = scan(0, segs)
	}
	out := best.sorted()
	if sp.offset >= len(out) {
		return nil, nil
	}
	out = out[sp.offset:]
	if c.dist == qdrant.Distance_Euclid {
		for i := range out {
			out[i].score = float32(math.Sqrt(float64(out[i].score)))
		}
	}
	return out, nil
}
