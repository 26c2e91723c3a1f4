package qdrantlite

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The Query API as Qdrant 1.17 plans it (lib/shard/src/query/planned_query.rs,
// lib/collection/src/shards/local_shard/query.rs,
// lib/collection/src/collection/query.rs):
//
//   - A level (the request, or one prefetch) without prefetches runs its query
//     on the collection: nearest by a dense vector (using "") or by a sparse
//     vector (using its name), or, with no query, lists points in id order
//     with score 1.
//   - A level with prefetches runs them first. A fusion query fuses their
//     ranked lists; a nearest query rescores the union of the points they
//     returned. Either keeps the level's limit and score threshold.
//   - Filters are propagated: the request's filter, and each prefetch's own,
//     apply to every prefetch below it. The points a fusion or a rescore
//     sees have therefore all passed the root filter.
//   - A prefetch without a limit keeps 10 points; the offset applies only at
//     the top, after everything else.
//   - Points referenced by id in a nearest query are excluded from every
//     level, as Qdrant excludes them through the root filter.

// maxPrefetchDepth is Qdrant's MAX_PREFETCH_DEPTH.
const maxPrefetchDepth = 64

// queryLevel is what a request and a prefetch have in common.
type queryLevel struct {
	prefetch  []*qdrant.PrefetchQuery
	query     *qdrant.Query
	using     string
	threshold *float32
	take      int
}

// query answers a QueryPoints request, after offset and limit. The caller
// holds the read lock; a batch holds it once for all its requests, so they
// see the same points, and passes them one memo so that they share their
// identical searches (nil: no sharing).
func (c *collection) query(req *qdrant.QueryPoints, m *memo) ([]hit, error) {
	if req.LookupFrom != nil {
		return nil, status.Error(codes.Unimplemented, "lookup_from is not supported")
	}
	limit := defaultLimit
	if req.Limit != nil {
		limit = int(req.GetLimit())
	}
	offset := int(req.GetOffset())
	if d := prefetchDepth(req.GetPrefetch()); d > maxPrefetchDepth {
		return nil, errWrongInput("prefetches depth %d exceeds max depth %d", d, maxPrefetchDepth)
	}
	root := queryLevel{prefetch: req.GetPrefetch(), query: req.Query, using: req.GetUsing(), threshold: req.ScoreThreshold, take: limit + offset}
	if err := validateLevel(root); err != nil {
		return nil, err
	}
	if limit == 0 {
		return nil, nil
	}
	cands, err := c.filterBitmap(req.GetFilter())
	if err != nil {
		return nil, err
	}
	if err := c.excludeReferenced(cands, req.Query, req.GetPrefetch()); err != nil {
		return nil, err
	}
	hits, err := c.runLevel(root, cands, m)
	if err != nil || offset >= len(hits) {
		return nil, err
	}
	hits = hits[offset:]
	return hits[:min(limit, len(hits))], nil
}

func prefetchDepth(ps []*qdrant.PrefetchQuery) int {
	d := 0
	for _, p := range ps {
		d = max(d, 1+prefetchDepth(p.GetPrefetch()))
	}
	return d
}

// validateLevel refuses what Qdrant refuses (CollectionQueryRequest::validation
// and the planner), with its messages.
func validateLevel(l queryLevel) error {
	if len(l.prefetch) > 0 && l.query == nil {
		return errWrongInput("A query is needed to merge the prefetches. Can't have prefetches without defining a query.")
	}
	if l.threshold != nil && l.query == nil {
		return errWrongInput("A query is needed to use the score_threshold. Can't have score_threshold without defining a query.")
	}
	f, isFusion, err := fusionOf(l.query)
	if err != nil {
		return err
	}
	if isFusion {
		if l.using != "" {
			return errWrongInput("Fusion queries cannot be combined with the 'using' field.")
		}
		if len(l.prefetch) == 0 {
			return errWrongInput("cannot apply Fusion without prefetches")
		}
		if f.weights != nil && len(f.weights) != len(l.prefetch) {
			return errWrongInput("Number of weights in RRF should match number of pre-fetches: got %d, expected %d", len(f.weights), len(l.prefetch))
		}
	}
	return nil
}

// excludeReferenced removes from cands every point a nearest query of the
// request refers to by id; a missing one fails the request, as in Qdrant.
func (c *collection) excludeReferenced(cands bitmap, q *qdrant.Query, ps []*qdrant.PrefetchQuery) error {
	if id := q.GetNearest().GetId(); id != nil {
		slot, err := c.pointSlot(id)
		if err != nil {
			return err
		}
		cands[slot>>6] &^= 1 << (slot & 63)
	}
	for _, p := range ps {
		if err := c.excludeReferenced(cands, p.GetQuery(), p.GetPrefetch()); err != nil {
			return err
		}
	}
	return nil
}

func (c *collection) pointSlot(id *qdrant.PointId) (uint32, error) {
	k, err := keyFromProto(id)
	if err != nil {
		return 0, errWrongInput("%v", err)
	}
	slot, ok := c.byKey[k]
	if !ok {
		return 0, status.Errorf(codes.NotFound, "Not found: No point with id %s found", k)
	}
	return slot, nil
}

// runLevel answers one level over cands, the points that passed every
// filter above and at this level, keeping its take best.
func (c *collection) runLevel(l queryLevel, cands bitmap, m *memo) ([]hit, error) {
	if len(l.prefetch) == 0 {
		return m.leaf(c, l.query, l.using, cands, l.take, l.threshold)
	}
	sources := make([][]hit, len(l.prefetch))
	for i, p := range l.prefetch {
		if p.LookupFrom != nil {
			return nil, status.Error(codes.Unimplemented, "lookup_from is not supported")
		}
		pc := cands
		if p.Filter != nil {
			fb, err := c.filterBitmap(p.GetFilter())
			if err != nil {
				return nil, err
			}
			for w := range fb {
				fb[w] &= cands[w]
			}
			pc = fb
		}
		take := defaultLimit
		if p.Limit != nil {
			take = int(p.GetLimit())
		}
		sub := queryLevel{prefetch: p.GetPrefetch(), query: p.Query, using: p.GetUsing(), threshold: p.ScoreThreshold, take: take}
		if err := validateLevel(sub); err != nil {
			return nil, err
		}
		src, err := c.runLevel(sub, pc, m)
		if err != nil {
			return nil, err
		}
		sources[i] = src
	}
	f, isFusion, _ := fusionOf(l.query)
	if isFusion {
		fused := c.fuse(sources, f)
		// Fused lists are sorted best first, so the threshold cuts a
		// prefix, as Qdrant's take_while does.
		for i, h := range fused {
			if l.threshold != nil && h.score < *l.threshold {
				fused = fused[:i]
				break
			}
		}
		return fused[:min(l.take, len(fused))], nil
	}
	// A vector query rescores the prefetched points: they are its only
	// candidates (Qdrant rescores with a has_id filter of them).
	union := newBitmap(len(c.keys))
	for _, src := range sources {
		for _, h := range src {
			union.set(h.slot)
		}
	}
	return m.leaf(c, l.query, l.using, union, l.take, l.threshold)
}

// leaf runs a query directly on the points in cands.
func (c *collection) leaf(q *qdrant.Query, using string, cands bitmap, take int, threshold *float32) ([]hit, error) {
	if q == nil {
		return c.listByID(cands, take), nil
	}
	nearest := q.GetNearest()
	if nearest == nil {
		return nil, status.Error(codes.Unimplemented, "only nearest and fusion queries are supported")
	}
	if using == "" {
		var vec []float32
		switch v := nearest.GetVariant().(type) {
		case *qdrant.VectorInput_Dense:
			vec = v.Dense.GetData()
		case *qdrant.VectorInput_Id:
			slot, err := c.pointSlot(v.Id)
			if err != nil {
				return nil, err
			}
			vec = c.readVec(slot, nil)
		case *qdrant.VectorInput_Sparse:
			return nil, errWrongInput("a sparse query needs `using` set to one of the collection's sparse vectors")
		default:
			return nil, errWrongInput("only dense vectors, sparse vectors and point ids are supported as query")
		}
		return c.search(searchParams{query: vec, cands: cands, limit: take, threshold: threshold})
	}
	ix := c.sparse[using]
	if ix == nil {
		return nil, errWrongInput("Not existing vector name error: %s", using)
	}
	var d *sparseDoc
	switch v := nearest.GetVariant().(type) {
	case *qdrant.VectorInput_Sparse:
		var err error
		if d, err = newSparseDoc(v.Sparse.GetIndices(), v.Sparse.GetValues()); err != nil {
			return nil, errWrongInput("sparse query: %v", err)
		}
	case *qdrant.VectorInput_Id:
		slot, err := c.pointSlot(v.Id)
		if err != nil {
			return nil, err
		}
		if d = ix.doc(slot); d == nil {
			return nil, status.Errorf(codes.NotFound, "Not found: Vector with name %q for point %s", using, c.keys[slot])
		}
	case *qdrant.VectorInput_Dense:
		return nil, errWrongInput("vector %q is sparse, the query is dense", using)
	default:
		return nil, errWrongInput("only dense vectors, sparse vectors and point ids are supported as query")
	}
	return ix.search(d, cands, len(c.keys), take, threshold), nil
}

// listByID is a level without a query: the first points in id order, each
// scored 1 as Qdrant's scroll source scores them.
func (c *collection) listByID(cands bitmap, take int) []hit {
	var out []hit
	for _, s := range c.sortedSlots() {
		if len(out) >= take {
			break
		}
		if cands.has(s) {
			out = append(out, hit{slot: s, score: 1})
		}
	}
	return out
}

// memo holds the results of the searches of one batch (leaves: a nearest
// query over a set of candidates), so that identical ones run once. The
// adapter's hybrid search needs this: it batches a fused query with each of
// its retrievers alone, and each retriever is also a prefetch of the fused
// query, with the same vector, candidates and limit, so without it every
// exact scan would run twice. A batch holds the read lock throughout, so a
// result stays valid for all of it. Results are shared and never modified.
type memo struct {
	results map[string][]hit
	// ran counts the searches run, by vector name; tests read it.
	ran map[string]int
}

func newMemo() *memo { return &memo{results: make(map[string][]hit), ran: make(map[string]int)} }

// leaf runs c.leaf unless an identical search ran before. Identical means
// the same query (vector, sparse vector or point id, compared in the
// deterministic encoding of the message), vector name, limit and threshold
// over the same candidates: the candidate bitmap itself is the key, not the
// filters that made it, so a prefetch filtered by the root filter and its
// own (the same) matches a query filtered by the root filter alone.
func (m *memo) leaf(c *collection, q *qdrant.Query, using string, cands bitmap, take int, threshold *float32) ([]hit, error) {
	if m == nil || q.GetNearest() == nil {
		return c.leaf(q, using, cands, take, threshold)
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(q.GetNearest())
	if err != nil {
		return c.leaf(q, using, cands, take, threshold)
	}
	key := make([]byte, 0, 32+len(using)+len(enc)+8*len(cands))
	key = binary.AppendUvarint(key, uint64(len(using)))
	key = append(key, using...)
	key = binary.AppendUvarint(key, uint64(take))
	if threshold != nil {
		key = append(key, 1)
		key = binary.LittleEndian.AppendUint32(key, math.Float32bits(*threshold))
	} else {
		key = append(key, 0)
	}
	key = binary.AppendUvarint(key, uint64(len(enc)))
	key = append(key, enc...)
	for _, w := range cands {
		key = binary.LittleEndian.AppendUint64(key, w)
	}
	if hits, ok := m.results[string(key)]; ok {
		return hits, nil
	}
	hits, err := c.leaf(q, using, cands, take, threshold)
	if err != nil {
		return nil, err
	}
	m.ran[using]++
	// Clipped, so that an append by a caller copies instead of writing
	// into the shared array.
	hits = slices.Clip(hits)
	m.results[string(key)] = hits
	return hits, nil
}
