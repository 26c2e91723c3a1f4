package vector

import (
	"context"
	"errors"
	"fmt"

	"github.com/qdrant/go-client/qdrant"
	"go.opentelemetry.io/otel/attribute"

	"github.com/youworker/youworker/pkg/tracing"
)

// SparseName is the name of the lexical sparse vector in a hybrid collection.
// Its collection applies Qdrant's idf modifier: the stored values are BM25
// term-frequency weights, and the server multiplies each query term by the
// term's inverse document frequency over the collection.
const SparseName = "lexical"

// SparseVector is a sparse vector: strictly increasing indices, one value each.
type SparseVector struct {
	Indices []uint32
	Values  []float32
}

// Fusion is how a hybrid search merges the ranked lists of its retrievers.
type Fusion string

// Fusions Qdrant performs server-side. RRF scores by rank alone, so the
// retrievers' incomparable scores (cosine, BM25) never mix; DBSF normalises
// each list's scores by their spread and sums them.
const (
	RRF  Fusion = "rrf"
	DBSF Fusion = "dbsf"
)

// DefaultRRFK is the k of reciprocal rank fusion, 1/(k + rank) with 0-based
// ranks, when a query sets none: Qdrant's own default. A small k lets each
// retriever's first hits count for much more than its tail; on the retrieval
// benchmark the 60 of the paper that introduced RRF did worse in every row,
// because it lets any passage both retrievers return, however low, outrank the
// lexical retriever's first hit.
const DefaultRRFK = 2

func (f Fusion) proto(k int, weights []float32) (*qdrant.Query, error) {
	switch f {
	case "", RRF:
		if (k <= 0 || k == DefaultRRFK) && len(weights) == 0 {
			// The plain form: Qdrant before 1.16 knows no RRF parameters.
			return qdrant.NewQueryFusion(qdrant.Fusion_RRF), nil
		}
		if k <= 0 {
			k = DefaultRRFK
		}
		return qdrant.NewQueryRRF(&qdrant.Rrf{K: qdrant.PtrOf(uint32(k)), Weights: weights}), nil
	case DBSF:
		return qdrant.NewQueryFusion(qdrant.Fusion_DBSF), nil
	}
	return nil, fmt.Errorf("vector: unknown fusion %q", f)
}

// HybridQuery is one search over the dense and the lexical vectors of a
// collection. Either retriever may be left out.
type HybridQuery struct {
	// Dense is the embedded query; nil leaves the dense retriever out.
	Dense []float32
	// Sparse is the encoded query; nil leaves the lexical retriever out.
	Sparse *SparseVector
	// Filter applies inside each retriever (nil matches all): fusion only ever
	// sees points that passed it.
	Filter *qdrant.Filter
	// Limit is the number of fused hits.
	Limit int
	// Candidates is how many points each retriever hands to the fusion; zero
	// means twice Limit. A point below both cut-offs cannot be fused in.
	Candidates int
	// Fusion defaults to RRF.
	Fusion Fusion
	// RRFK is RRF's k (zero: DefaultRRFK).
	RRFK int
	// DenseWeight weighs the dense retriever's ranks against the lexical
	// one's in RRF (zero: 1, equal).
	DenseWeight float32
}

// Matched says which retrievers found a hit and at what rank (1 is best).
type Matched struct {
	Dense   *int `json:"dense"`
	Lexical *int `json:"lexical"`
}

// RankedHit is a hit of a hybrid search with the rank it had in each retriever.
// Score is the fused score when both retrievers ran, else the one retriever's.
type RankedHit struct {
	Hit
	Matched Matched
}

// HybridSearch runs the dense and the lexical query with the same filter and
// fuses them server-side (Qdrant's Query API: prefetch + fusion). The fused
// query and each retriever alone go in one batch request: the retrievers'
// lists, identical to the prefetches, give every hit its ranks, so a user can
// see why a passage was chosen.
func (s *Store) HybridSearch(ctx context.Context, collection string, q HybridQuery) (_ []RankedHit, err error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	ctx, span := tracing.Start(ctx, "vector.search", attribute.String("vector.collection", collection), attribute.Int("vector.limit", q.Limit),
		attribute.Bool("vector.dense", q.Dense != nil), attribute.Bool("vector.lexical", q.Sparse != nil))
	defer tracing.End(span, &err)
	if q.Dense == nil && q.Sparse == nil {
		return nil, errors.New("vector: hybrid search needs a dense or a sparse query")
	}
	var weights []float32
	if q.DenseWeight > 0 && q.DenseWeight != 1 && q.Dense != nil && q.Sparse != nil {
		weights = []float32{q.DenseWeight, 1} // in the order of the prefetches below
	}
	fusion, err := q.Fusion.proto(q.RRFK, weights)
	if err != nil {
		return nil, err
	}
	candidates := q.Candidates
	if candidates <= 0 {
		candidates = 2 * q.Limit
	}
	candidates = max(candidates, q.Limit)
	var retrievers []*qdrant.PrefetchQuery
	var kinds []string
	if q.Dense != nil {
		retrievers = append(retrievers, &qdrant.PrefetchQuery{
			Query: qdrant.NewQueryDense(q.Dense), Filter: q.Filter, Limit: qdrant.PtrOf(uint64(candidates)),
			Params: &qdrant.SearchParams{Exact: qdrant.PtrOf(true)},
		})
		kinds = append(kinds, "dense")
	}
	if q.Sparse != nil {
		retrievers = append(retrievers, &qdrant.PrefetchQuery{
			Query: qdrant.NewQuerySparse(q.Sparse.Indices, q.Sparse.Values), Using: qdrant.PtrOf(SparseName),
			Filter: q.Filter, Limit: qdrant.PtrOf(uint64(candidates)),
		})
		kinds = append(kinds, "lexical")
	}
	if len(retrievers) == 1 {
		r := retrievers[0]
		res, err := s.client.Query(ctx, &qdrant.QueryPoints{
			CollectionName: collection, Query: r.Query, Using: r.Using, Filter: q.Filter, Params: r.Params,
			Limit: qdrant.PtrOf(uint64(q.Limit)), WithPayload: qdrant.NewWithPayload(true),
		})
		if err != nil {
			return nil, fmt.Errorf("vector: %s search %s: %w", kinds[0], collection, s.checkDimension(ctx, collection, len(q.Dense), translate(err)))
		}
		hits := make([]RankedHit, len(res))
		for i, p := range res {
			rank := i + 1
			hits[i] = RankedHit{Hit: Hit{ID: idString(p.GetId()), Score: p.GetScore(), Payload: payloadFrom(p.GetPayload())}}
			if kinds[0] == "dense" {
				hits[i].Matched.Dense = &rank
			} else {
				hits[i].Matched.Lexical = &rank
			}
		}
		return hits, nil
	}
	batch := []*qdrant.QueryPoints{{
		CollectionName: collection, Prefetch: retrievers, Query: fusion, Filter: q.Filter,
		Limit: qdrant.PtrOf(uint64(q.Limit)), WithPayload: qdrant.NewWithPayload(true),
	}}
	for _, r := range retrievers {
		batch = append(batch, &qdrant.QueryPoints{
			CollectionName: collection, Query: r.Query, Using: r.Using, Filter: q.Filter, Params: r.Params,
			Limit: r.Limit, WithPayload: qdrant.NewWithPayload(false),
		})
	}
	res, err := s.client.QueryBatch(ctx, &qdrant.QueryBatchPoints{CollectionName: collection, QueryPoints: batch})
	if err != nil {
		return nil, fmt.Errorf("vector: hybrid search %s: %w", collection, s.checkDimension(ctx, collection, len(q.Dense), translate(err)))
	}
	if len(res) != len(batch) {
		return nil, fmt.Errorf("vector: hybrid search %s: %d results for %d queries", collection, len(res), len(batch))
	}
	dense, lexical := ranksOf(res[1].GetResult()), ranksOf(res[2].GetResult())
	fused := res[0].GetResult()
	hits := make([]RankedHit, len(fused))
	for i, p := range fused {
		id := idString(p.GetId())
		hits[i] = RankedHit{Hit: Hit{ID: id, Score: p.GetScore(), Payload: payloadFrom(p.GetPayload())}}
		if r, ok := dense[id]; ok {
			hits[i].Matched.Dense = &r
		}
		if r, ok := lexical[id]; ok {
			hits[i].Matched.Lexical = &r
		}
	}
	return hits, nil
}

// ranksOf maps each point of a ranked list to its 1-based rank.
func ranksOf(points []*qdrant.ScoredPoint) map[string]int {
	out := make(map[string]int, len(points))
	for i, p := range points {
		out[idString(p.GetId())] = i + 1
	}
	return out
}

// vectors is the point's vectors as Qdrant takes them: the unnamed dense vector
// alone, or with the lexical vector beside it.
func (p Point) vectors() *qdrant.Vectors {
	if p.Sparse == nil {
		return qdrant.NewVectorsDense(p.Vector)
	}
	return qdrant.NewVectorsMap(map[string]*qdrant.Vector{
		"":         qdrant.NewVectorDense(p.Vector),
		SparseName: qdrant.NewVectorSparse(p.Sparse.Indices, p.Sparse.Values),
	})
}

// size estimates the point's vectors in bytes, to size upsert batches.
func (p Point) size() int {
	n := len(p.Vector) * 4
	if p.Sparse != nil {
		n += len(p.Sparse.Indices) * 8
	}
	return n
}

// vectorsFrom reads a point's dense and lexical vectors as Qdrant returns them:
// one unnamed vector, or named vectors with the dense one under "".
func vectorsFrom(v *qdrant.VectorsOutput) ([]float32, *SparseVector) {
	named := v.GetVectors().GetVectors()
	if named == nil {
		return denseOf(v.GetVector()), nil
	}
	var sparse *SparseVector
	if s := named[SparseName]; s != nil {
		if sv := s.GetSparse(); sv != nil {
			sparse = &SparseVector{Indices: sv.GetIndices(), Values: sv.GetValues()}
		} else {
			sparse = &SparseVector{Indices: s.GetIndices().GetData(), Values: s.GetData()} //nolint:staticcheck // servers before 1.14 answer in the old fields
		}
	}
	return denseOf(named[""]), sparse
}

func denseOf(o *qdrant.VectorOutput) []float32 {
	if d := o.GetDense(); d != nil {
		return d.GetData()
	}
	return o.GetData() //nolint:staticcheck // servers before 1.14 answer in the old field
}
