package qdrantlite

import (
	"math"
	"slices"

	"github.com/qdrant/go-client/qdrant"
)

// defaultRRFK is Qdrant's DEFAULT_RRF_K, used by Fusion_RRF and by an Rrf
// query without k.
const defaultRRFK = 2

// fusion is a fusion query: distribution-based score fusion, or reciprocal
// rank fusion with its k and optional per-source weights.
type fusion struct {
	dbsf    bool
	k       int
	weights []float32
}

// fusionOf reports whether q is a fusion query and which. An Rrf with k = 0
// is refused, as Qdrant's request validation does (k >= 1).
func fusionOf(q *qdrant.Query) (fusion, bool, error) {
	switch v := q.GetVariant().(type) {
	case *qdrant.Query_Fusion:
		switch v.Fusion {
		case qdrant.Fusion_RRF:
			return fusion{k: defaultRRFK}, true, nil
		case qdrant.Fusion_DBSF:
			return fusion{dbsf: true}, true, nil
		}
		return fusion{}, false, errWrongInput("invalid fusion type value %d", v.Fusion)
	case *qdrant.Query_Rrf:
		f := fusion{k: defaultRRFK}
		if v.Rrf.K != nil {
			if v.Rrf.GetK() < 1 {
				return fusion{}, false, errWrongInput("Validation error in body: [rrf.k: value 0 invalid, must be 1 or greater]")
			}
			f.k = int(v.Rrf.GetK())
		}
		// As in Qdrant, an empty weight list means equal weights.
		if len(v.Rrf.GetWeights()) > 0 {
			f.weights = v.Rrf.GetWeights()
		}
		return f, true, nil
	}
	return fusion{}, false, nil
}

// fuse merges ranked lists into one, best first, following Qdrant 1.17
// (lib/segment/src/common/reciprocal_rank_fusion.rs and score_fusion.rs):
//
//   - RRF scores a point at 0-based position p of source i with
//     1 / ((p+1)/w_i + k - 1), w_i = 1 without weights (so 1/(p+k)) and a
//     source with weight <= 0 contributes 0; contributions are summed.
//   - DBSF normalises each source's scores to (s - (μ-3σ)) / 6σ, with μ and
//     the sample variance σ² computed by Welford's method in float32, and
//     sums them. Scores are not clamped, so an outlier beyond 3σ lands
//     outside [0, 1]. A source of one point, or of equal scores, gives 0.5.
//
// The arithmetic is float32 in Qdrant's order, so fused scores match
// Qdrant's. Ties are where they differ: Qdrant leaves them in hash-map order,
// which varies between calls; here they go to the smaller point id (numbers
// before UUIDs, as Qdrant orders ids), so equal inputs give equal outputs.
func (c *collection) fuse(sources [][]hit, f fusion) []hit {
	scores := make(map[uint32]float32)
	for i, src := range sources {
		if f.dbsf {
			for j, s := range distrNorm(src) {
				scores[src[j].slot] += s
			}
			continue
		}
		w := float32(1)
		if f.weights != nil {
			w = f.weights[i]
		}
		for pos, h := range src {
			scores[h.slot] += rrfScore(pos, f.k, w)
		}
	}
	out := make([]hit, 0, len(scores))
	for s, score := range scores {
		out = append(out, hit{slot: s, score: score})
	}
	slices.SortFunc(out, func(a, b hit) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		case c.keys[a.slot].less(c.keys[b.slot]):
			return -1
		case c.keys[b.slot].less(c.keys[a.slot]):
			return 1
		}
		return 0
	})
	return out
}

func rrfScore(pos, k int, w float32) float32 {
	if w <= 0 {
		return 0
	}
	return 1 / (float32(pos+1)/w + float32(k) - 1)
}

// distrNorm returns the DBSF-normalised scores of one ranked list.
func distrNorm(src []hit) []float32 {
	out := make([]float32, len(src))
	switch len(src) {
	case 0:
		return out
	case 1:
		out[0] = 0.5
		return out
	}
	var mean, agg float32
	for i, h := range src {
		old := h.score - mean
		mean += old / float32(i+1)
		// The conversions keep the compiler from fusing multiply-adds,
		// which would round differently from Qdrant.
		agg += float32(old * (h.score - mean))
	}
	variance := agg / float32(len(src)-1)
	std := float32(math.Sqrt(float64(variance)))
	lo, hi := mean-float32(3*std), mean+float32(3*std)
	for i, h := range src {
		if lo == hi {
			out[i] = 0.5
		} else {
			out[i] = (h.score - lo) / (hi - lo)
		}
	}
	return out
}
