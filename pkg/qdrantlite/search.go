package qdrantlite

import (
	"container/heap"
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

// dot is unrolled with four accumulators: the compiler does not vectorise,
// and independent accumulators let the CPU overlap the multiply-adds.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa, bb := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += aa[0]*bb[0] + aa[4]*bb[4]
		s1 += aa[1]*bb[1] + aa[5]*bb[5]
		s2 += aa[2]*bb[2] + aa[6]*bb[6]
		s3 += aa[3]*bb[3] + aa[7]*bb[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

func sqDist(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		aa, bb := a[i:i+4:i+4], b[i:i+4:i+4]
		d0, d1, d2, d3 := aa[0]-bb[0], aa[1]-bb[1], aa[2]-bb[2], aa[3]-bb[3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return s0 + s1 + s2 + s3
}

func manhattan(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i := range a {
		s += float32(math.Abs(float64(a[i] - b[i])))
	}
	return s
}

type hit struct {
	slot  uint32
	score float32
}

// topK keeps the k best hits; the heap root is the worst kept hit so a
// candidate is compared once and usually rejected without allocation.
type topK struct {
	k         int
	ascending bool // smaller is better (distances)
	h         []hit
}

func (t *topK) Len() int { return len(t.h) }
func (t *topK) Less(i, j int) bool {
	if t.ascending {
		return t.h[i].score > t.h[j].score
	}
	return t.h[i].score < t.h[j].score
}
func (t *topK) Swap(i, j int) { t.h[i], t.h[j] = t.h[j], t.h[i] }
func (t *topK) Push(x any)    { t.h = append(t.h, x.(hit)) }
func (t *topK) Pop() any {
	x := t.h[len(t.h)-1]
	t.h = t.h[:len(t.h)-1]
	return x
}

func (t *topK) better(a, b float32) bool {
	if t.ascending {
		return a < b
	}
	return a > b
}

func (t *topK) offer(h hit) {
	if len(t.h) < t.k {
		heap.Push(t, h)
		return
	}
	if t.better(h.score, t.h[0].score) {
		t.h[0] = h
		heap.Fix(t, 0)
	}
}

// sorted returns the kept hits best first.
func (t *topK) sorted() []hit {
	out := slices.Clone(t.h)
	slices.SortFunc(out, func(a, b hit) int {
		switch {
		case t.better(a.score, b.score):
			return -1
		case t.better(b.score, a.score):
			return 1
		}
		return int(a.slot) - int(b.slot)
	})
	return out
}

// parallelThreshold is the candidate count above which scoring is split
// across CPUs; below it goroutine start-up costs more than it saves.
const parallelThreshold = 32768

type searchParams struct {
	query     []float32
	filter    *qdrant.Filter
	limit     int
	offset    int
	threshold *float32
}

// search runs an exact nearest-neighbour search over the points matching the
// filter. Scores follow Qdrant: cosine and dot are similarities (higher is
// better), euclid and manhattan are distances (lower is better).
func (c *collection) search(sp searchParams) ([]hit, error) {
	if len(sp.query) != c.dim {
		return nil, errWrongInput("Vector dimension error: expected dim: %d, got %d", c.dim, len(sp.query))
	}
	q := slices.Clone(sp.query)
	var score func(v []float32) float32
	ascending := false
	switch c.dist {
	case qdrant.Distance_Cosine:
		normalize(q)
		score = func(v []float32) float32 { return dot(q, v) }
	case qdrant.Distance_Dot:
		score = func(v []float32) float32 { return dot(q, v) }
	case qdrant.Distance_Euclid:
		ascending = true
		score = func(v []float32) float32 { return sqDist(q, v) }
	case qdrant.Distance_Manhattan:
		ascending = true
		score = func(v []float32) float32 { return manhattan(q, v) }
	default:
		return nil, errWrongInput("unsupported distance %v", c.dist)
	}
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

	var slots []uint32
	if err := c.forMatches(sp.filter, func(s uint32) { slots = append(slots, s) }); err != nil {
		return nil, err
	}

	scan := func(part []uint32) *topK {
		t := &topK{k: k, ascending: ascending}
		for _, s := range part {
			sc := score(c.vec(s))
			if hasThr && ((ascending && sc > thr) || (!ascending && sc < thr)) {
				continue
			}
			t.offer(hit{slot: s, score: sc})
		}
		return t
	}
	var best *topK
	if n := runtime.GOMAXPROCS(0); n > 1 && len(slots) >= parallelThreshold {
		parts := make([]*topK, n)
		var wg sync.WaitGroup
		chunk := (len(slots) + n - 1) / n
		for i := range n {
			lo, hi := min(i*chunk, len(slots)), min((i+1)*chunk, len(slots))
			wg.Go(func() { parts[i] = scan(slots[lo:hi]) })
		}
		wg.Wait()
		best = &topK{k: k, ascending: ascending}
		for _, pt := range parts {
			for _, h := range pt.h {
				best.offer(h)
			}
		}
	} else {
		best = scan(slots)
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
