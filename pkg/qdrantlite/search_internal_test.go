package qdrantlite

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
)

// TestSearchMatchesBruteForce: the exact scan finds what scoring every
// candidate's vector one by one finds, for every distance, for filters
// keeping from a handful of points to all of them (so segments with few and
// with many candidates), with a query that has zero components, an offset
// and a threshold.
func TestSearchMatchesBruteForce(t *testing.T) {
	t.Parallel()
	const n, dim = 3000, 64
	for _, dist := range []qdrant.Distance{qdrant.Distance_Cosine, qdrant.Distance_Dot, qdrant.Distance_Euclid, qdrant.Distance_Manhattan} {
		c := newCollection("t", "", collectionMeta{Dim: dim, Distance: int32(dist)})
		// Small segments: a scan crosses many of them, the last one partial.
		c.segSlots = 256
		rng := rand.New(rand.NewPCG(7, uint64(dist)))
		pts := make([]preparedPoint, n)
		for i := range pts {
			v := make([]float32, dim)
			for j := range v {
				v[j] = rng.Float32()*2 - 1
			}
			pts[i] = preparedPoint{key: pointKey{lo: uint64(i)}, vec: v, payload: map[string]any{}}
		}
		c.applyUpsert(pts, true)
		q := make([]float32, dim)
		for j := range q {
			if j%5 != 0 {
				q[j] = rng.Float32()*2 - 1
			}
		}
		ascending := dist == qdrant.Distance_Euclid || dist == qdrant.Distance_Manhattan
		brute := func(cands bitmap) []hit {
			qv := slices.Clone(q)
			if dist == qdrant.Distance_Cosine {
				normalize(qv)
			}
			var out []hit
			cands.each(func(s uint32) {
				var sum float64
				for d, x := range c.readVec(s, nil) {
					y := float64(qv[d])
					switch dist {
					case qdrant.Distance_Euclid:
						sum += (float64(x) - y) * (float64(x) - y)
					case qdrant.Distance_Manhattan:
						sum += math.Abs(float64(x) - y)
					default:
						sum += float64(x) * y
					}
				}
				if dist == qdrant.Distance_Euclid {
					sum = math.Sqrt(sum)
				}
				out = append(out, hit{slot: s, score: float32(sum)})
			})
			slices.SortFunc(out, func(a, b hit) int {
				if ascending {
					return cmp.Compare(a.score, b.score)
				}
				return cmp.Compare(b.score, a.score)
			})
			return out
		}
		for _, keep := range []float64{0.002, 0.03, 0.1, 0.5, 1} {
			name := fmt.Sprintf("%v keeping %v", dist, keep)
			cands := newBitmap(n)
			for i := range n {
				if rng.Float64() < keep {
					cands.set(uint32(i))
				}
			}
			want := brute(cands)
			got, err := c.search(searchParams{query: q, cands: cands, limit: 10, offset: 2})
			require.NoError(t, err)
			want = want[min(2, len(want)):min(12, len(want))]
			require.Len(t, got, len(want), name)
			for i := range want {
				require.Equal(t, want[i].slot, got[i].slot, "%s: position %d", name, i)
				require.InDelta(t, want[i].score, got[i].score, 1e-4, name)
			}
			if len(want) < 2 {
				continue
			}
			// A threshold between two hits keeps those before it.
			thr := (want[len(want)/2].score + want[len(want)/2-1].score) / 2
			got, err = c.search(searchParams{query: q, cands: cands, limit: 10, offset: 2, threshold: &thr})
			require.NoError(t, err)
			require.Len(t, got, len(want)/2, name)
		}
	}
}
