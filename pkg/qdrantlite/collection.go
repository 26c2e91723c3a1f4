package qdrantlite

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Operation codes of log and snapshot records. The record body is the
// protobuf request that produced the change, so replay runs the very same
// code path as the original RPC.
const (
	opUpsert           byte = 1
	opDelete           byte = 2
	opSetPayload       byte = 3
	opOverwritePayload byte = 4
	opDeletePayload    byte = 5
	opClearPayload     byte = 6
	// opSnapshotPoints carries already normalised vectors, so loading a
	// snapshot does not normalise them twice.
	opSnapshotPoints byte = 7
)

// collection holds one collection in memory: points live in slots, vectors in
// fixed-size segments of segSlots slots each, payloads as plain Go maps.
// Segments rather than one growing slice: growing a slice copies every vector
// under the write lock, stalling all writers and searches on a large
// collection and briefly needing twice its memory. mu guards
// everything below it; writers also append to the log while holding it, so
// the log order is the apply order.
type collection struct {
	name string
	dir  string
	dim  int
	dist qdrant.Distance
	meta collectionMeta

	mu       sync.RWMutex
	dropped  bool
	keys     []pointKey
	alive    []bool
	vecs     [][]float32
	segSlots int
	// shared marks segments that a snapshot being written may still read:
	// a write to one copies it first, so snapshots need not copy vectors.
	shared   []bool
	payloads []map[string]any
	byKey    map[pointKey]uint32
	free     []uint32
	indexes  map[string]*fieldIndex
	// sparse holds the inverted index of each named sparse vector; the
	// set of names is fixed when the collection is created.
	sparse map[string]*sparseIndex
	opSeq  uint64

	// sorted caches live slots ordered by point id for scroll; it is rebuilt
	// under the read lock and dropped by any write that adds or removes ids.
	sorted atomic.Pointer[[]uint32]

	wal       *walFile
	walGen    uint64
	snapBytes int64

	// compactMu is held for a whole compaction, so there is at most one per
	// collection and closing or dropping it can wait for the running one.
	// It guards retired: logs of failed compactions, still needed on disk
	// until a snapshot covers them.
	compactMu sync.Mutex
	retired   []string
}

func newCollection(name, dir string, meta collectionMeta) *collection {
	c := &collection{
		name: name,
		dir:  dir,
		dim:  meta.Dim,
		dist: qdrant.Distance(meta.Distance),
		meta: meta,
		// About 1 MiB of vectors per segment.
		segSlots: max(1, (256<<10)/max(meta.Dim, 1)),
		byKey:    make(map[pointKey]uint32),
		indexes:  make(map[string]*fieldIndex),
		sparse:   make(map[string]*sparseIndex, len(meta.Sparse)),
	}
	for _, ix := range meta.Indexes {
		c.indexes[ix.Field] = newFieldIndex(qdrant.PayloadSchemaType(ix.Schema), ix.IsTenant, ix.Text)
	}
	for name, sm := range meta.Sparse {
		c.sparse[name] = newSparseIndex(sm.idf())
	}
	return c
}

func errNotFound(name string) error {
	return status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", name)
}

func errWrongInput(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, "Wrong input: "+format, args...)
}

func (c *collection) count() int { return len(c.byKey) }

type preparedPoint struct {
	key     pointKey
	vec     []float32
	sparse  map[string]*sparseDoc
	payload map[string]any
}

// prepareUpsert validates a whole batch before anything is changed, so a
// batch either applies completely or not at all.
func (c *collection) prepareUpsert(points []*qdrant.PointStruct) ([]preparedPoint, error) {
	out := make([]preparedPoint, len(points))
	for i, p := range points {
		k, err := keyFromProto(p.GetId())
		if err != nil {
			return nil, errWrongInput("%v", err)
		}
		vec, sparse, err := c.pointVectors(p.GetVectors())
		if err != nil {
			return nil, errWrongInput("point %s: %v", k, err)
		}
		if len(vec) != c.dim {
			return nil, errWrongInput("Vector dimension error: expected dim: %d, got %d", c.dim, len(vec))
		}
		out[i] = preparedPoint{key: k, vec: vec, sparse: sparse, payload: fromPayload(p.GetPayload())}
	}
	return out, nil
}

// pointVectors reads a point's vectors: the unnamed dense vector alone, or
// named vectors holding it under "" and any of the collection's sparse
// vectors under their names. A point may lack a sparse vector, never the
// dense one (the store keeps one per slot).
func (c *collection) pointVectors(v *qdrant.Vectors) ([]float32, map[string]*sparseDoc, error) {
	switch x := v.GetVectorsOptions().(type) {
	case *qdrant.Vectors_Vector:
		dense, err := denseOf(x.Vector)
		return dense, nil, err
	case *qdrant.Vectors_Vectors:
		var dense []float32
		var sparse map[string]*sparseDoc
		for name, vec := range x.Vectors.GetVectors() {
			if name == "" {
				d, err := denseOf(vec)
				if err != nil {
					return nil, nil, err
				}
				dense = d
				continue
			}
			if _, ok := c.sparse[name]; !ok {
				return nil, nil, fmt.Errorf("Not existing vector name error: %s", name)
			}
			indices, values, ok := sparseOf(vec)
			if !ok {
				return nil, nil, fmt.Errorf("vector %q is sparse, the point gives it a dense vector", name)
			}
			d, err := newSparseDoc(indices, values)
			if err != nil {
				return nil, nil, fmt.Errorf("sparse vector %q: %w", name, err)
			}
			if sparse == nil {
				sparse = make(map[string]*sparseDoc, len(c.sparse))
			}
			sparse[name] = d
		}
		if dense == nil {
			return nil, nil, fmt.Errorf("the unnamed dense vector is missing (points without it are not supported)")
		}
		return dense, sparse, nil
	}
	return nil, nil, fmt.Errorf("point has no vector")
}

// denseOf reads a dense vector in the current or the deprecated encoding.
func denseOf(v *qdrant.Vector) ([]float32, error) {
	if d := v.GetDense(); d != nil {
		return d.GetData(), nil
	}
	if _, _, ok := sparseOf(v); ok {
		return nil, fmt.Errorf("the unnamed vector is dense, got a sparse vector (sparse vectors go under their name)")
	}
	if v.GetVector() != nil || v.VectorsCount != nil { //nolint:staticcheck // old clients send the deprecated fields
		return nil, fmt.Errorf("only dense and sparse vectors are supported")
	}
	return v.GetData(), nil //nolint:staticcheck // old clients send the deprecated fields
}

// sparseOf reads a sparse vector in the current or the deprecated
// encoding (values in data, indices beside them).
func sparseOf(v *qdrant.Vector) (indices []uint32, values []float32, ok bool) {
	if s := v.GetSparse(); s != nil {
		return s.GetIndices(), s.GetValues(), true
	}
	if v.GetVector() == nil && v.Indices != nil { //nolint:staticcheck // old clients send the deprecated fields
		return v.GetIndices().GetData(), v.GetData(), true //nolint:staticcheck // old clients send the deprecated fields
	}
	return nil, nil, false
}

// Within a segment vectors are stored dimension-major: component d of the
// slot at offset j is seg[d*segSlots+j]. An exact scan then streams each
// component row it needs once per segment, and a sparse query (a short
// lexical query sets a few dozen of hundreds of components) reads only its
// non-zero rows instead of every vector in full.

// readVec gathers the vector of a slot into dst, allocating when dst is too
// small.
func (c *collection) readVec(slot uint32, dst []float32) []float32 {
	if cap(dst) < c.dim {
		dst = make([]float32, c.dim)
	}
	dst = dst[:c.dim]
	seg, j, n := c.vecs[int(slot)/c.segSlots], int(slot)%c.segSlots, c.segSlots
	for d := range dst {
		dst[d] = seg[d*n+j]
	}
	return dst
}

// writeVec stores v as the vector of a slot, first giving its segment a
// private copy if a snapshot shares it.
func (c *collection) writeVec(slot uint32, v []float32) {
	si := int(slot) / c.segSlots
	if si < len(c.shared) && c.shared[si] {
		c.vecs[si] = slices.Clone(c.vecs[si])
		c.shared[si] = false
	}
	seg, j, n := c.vecs[si], int(slot)%c.segSlots, c.segSlots
	for d, x := range v[:c.dim] {
		seg[d*n+j] = x
	}
}

func (c *collection) applyUpsert(points []preparedPoint, normalise bool) {
	// Normalising works on a copy: the request's vector may be shared
	// with the log record being replayed or the caller.
	buf := make([]float32, c.dim)
	for _, p := range points {
		slot, ok := c.byKey[p.key]
		if !ok {
			slot = c.allocSlot(p.key)
		}
		copy(buf, p.vec)
		if normalise && c.dist == qdrant.Distance_Cosine {
			normalize(buf)
		}
		c.writeVec(slot, buf)
		// An upsert replaces the whole point, so a sparse vector it does
		// not give is removed, as in Qdrant.
		for name, ix := range c.sparse {
			ix.set(slot, p.sparse[name])
		}
		old := c.payloads[slot]
		c.payloads[slot] = p.payload
		c.reindex(slot, old, p.payload)
	}
}

func (c *collection) allocSlot(k pointKey) uint32 {
	var slot uint32
	if n := len(c.free); n > 0 {
		slot = c.free[n-1]
		c.free = c.free[:n-1]
		c.keys[slot] = k
		c.alive[slot] = true
	} else {
		slot = uint32(len(c.keys))
		c.keys = append(c.keys, k)
		c.alive = append(c.alive, true)
		c.payloads = append(c.payloads, nil)
		if int(slot)/c.segSlots == len(c.vecs) {
			c.vecs = append(c.vecs, make([]float32, c.segSlots*c.dim))
		}
	}
	c.byKey[k] = slot
	c.sorted.Store(nil)
	return slot
}

func (c *collection) deleteSlots(slots []uint32) {
	for _, s := range slots {
		if !c.alive[s] {
			continue
		}
		c.reindex(s, c.payloads[s], nil)
		for _, ix := range c.sparse {
			ix.set(s, nil)
		}
		delete(c.byKey, c.keys[s])
		c.alive[s] = false
		c.payloads[s] = nil
		c.free = append(c.free, s)
	}
	if len(slots) > 0 {
		c.sorted.Store(nil)
	}
}

// reindex updates every field index for a payload change of one slot.
func (c *collection) reindex(slot uint32, old, cur map[string]any) {
	for field, ix := range c.indexes {
		ov, nv := lookup(old, field), lookup(cur, field)
		if len(ov) == len(nv) && (len(ov) == 0 || (len(ov) == 1 && equalValues(ov[0], nv[0]))) {
			continue
		}
		ix.update(slot, ov, nv)
	}
}

// selectSlots resolves a points selector to live slots. Filters are
// evaluated before any change, so an update never sees its own effects.
func (c *collection) selectSlots(sel *qdrant.PointsSelector) ([]uint32, error) {
	switch x := sel.GetPointsSelectorOneOf().(type) {
	case *qdrant.PointsSelector_Points:
		return c.slotsForIDs(x.Points.GetIds())
	case *qdrant.PointsSelector_Filter:
		return c.filterSlots(x.Filter)
	}
	return nil, errWrongInput("points selector is empty")
}

func (c *collection) slotsForIDs(ids []*qdrant.PointId) ([]uint32, error) {
	out := make([]uint32, 0, len(ids))
	for _, id := range ids {
		k, err := keyFromProto(id)
		if err != nil {
			return nil, errWrongInput("%v", err)
		}
		if s, ok := c.byKey[k]; ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func (c *collection) filterSlots(f *qdrant.Filter) ([]uint32, error) {
	var out []uint32
	err := c.forMatches(f, func(s uint32) { out = append(out, s) })
	return out, err
}

func (c *collection) setPayload(slots []uint32, payload map[string]any, key string) {
	// Work that depends only on the request is done once, not per point:
	// the key path, and which indexed fields the change can reach, so the
	// indexes of untouched fields are never looked at.
	var path []string
	if key != "" {
		path = strings.Split(key, ".")
	}
	touched := c.touchedIndexes(payload, path)
	for _, s := range slots {
		old := c.payloads[s]
		// The old map may be held by a snapshot being written, so it is
		// copied, never changed; values are shared, as they are immutable.
		cur := make(map[string]any, len(old)+len(payload))
		for k, v := range old {
			cur[k] = v
		}
		if path == nil {
			mergePayload(cur, payload)
		} else {
			setPath(cur, path, payload)
		}
		c.payloads[s] = cur
		for _, ti := range touched {
			ov, nv := lookup(old, ti.field), lookup(cur, ti.field)
			if len(ov) == len(nv) && (len(ov) == 0 || (len(ov) == 1 && equalValues(ov[0], nv[0]))) {
				continue
			}
			ti.ix.update(s, ov, nv)
		}
	}
}

type touchedIndex struct {
	field string
	ix    *fieldIndex
}

// touchedIndexes lists the indexes whose field a set-payload can change:
// those under a top-level key it writes. An index on "a.b" or "a[].b" is
// reached by a write to "a".
func (c *collection) touchedIndexes(payload map[string]any, path []string) []touchedIndex {
	var out []touchedIndex
	for field, ix := range c.indexes {
		top := field
		if p, err := parsePath(field); err == nil {
			top = p.first
		}
		var hit bool
		if path != nil {
			hit = strings.TrimSuffix(path[0], "[]") == top
		} else {
			_, hit = payload[top]
		}
		if hit {
			out = append(out, touchedIndex{field: field, ix: ix})
		}
	}
	return out
}

// mergePayload is Qdrant's set-payload merge (segment common/utils.rs
// merge_map): each key is set to its new value, and a key set to null is
// removed, not stored as null. (An upsert, which replaces the whole payload,
// does keep nulls.)
func mergePayload(dst, payload map[string]any) {
	for k, v := range payload {
		if v == nil {
			delete(dst, k)
			continue
		}
		dst[k] = v
	}
}

// setPath merges payload into the object at path, copying every object on
// the way: payload values are shared between points and never mutated.
func setPath(m map[string]any, path []string, payload map[string]any) {
	child, _ := m[path[0]].(map[string]any)
	cp := make(map[string]any, len(child)+len(payload))
	for k, v := range child {
		cp[k] = v
	}
	if len(path) == 1 {
		mergePayload(cp, payload)
	} else {
		setPath(cp, path[1:], payload)
	}
	m[path[0]] = cp
}

func deletePath(m map[string]any, path []string) {
	if len(path) == 1 {
		delete(m, path[0])
		return
	}
	child, ok := m[path[0]].(map[string]any)
	if !ok {
		return
	}
	cp := make(map[string]any, len(child))
	for k, v := range child {
		cp[k] = v
	}
	deletePath(cp, path[1:])
	m[path[0]] = cp
}

func (c *collection) overwritePayload(slots []uint32, payload map[string]any) {
	for _, s := range slots {
		old := c.payloads[s]
		cur := make(map[string]any, len(payload))
		for k, v := range payload {
			cur[k] = v
		}
		c.payloads[s] = cur
		c.reindex(s, old, cur)
	}
}

func (c *collection) deletePayload(slots []uint32, keys []string) {
	for _, s := range slots {
		old := c.payloads[s]
		cur := make(map[string]any, len(old))
		for k, v := range old {
			cur[k] = v
		}
		for _, k := range keys {
			deletePath(cur, strings.Split(k, "."))
		}
		c.payloads[s] = cur
		c.reindex(s, old, cur)
	}
}

// sortedSlots returns live slots ordered by point id, building the cache if
// a write dropped it. Callers hold at least the read lock.
func (c *collection) sortedSlots() []uint32 {
	if p := c.sorted.Load(); p != nil {
		return *p
	}
	out := make([]uint32, 0, len(c.byKey))
	for s, ok := range c.alive {
		if ok {
			out = append(out, uint32(s))
		}
	}
	slices.SortFunc(out, func(a, b uint32) int {
		ka, kb := c.keys[a], c.keys[b]
		switch {
		case ka.less(kb):
			return -1
		case kb.less(ka):
			return 1
		}
		return 0
	})
	c.sorted.Store(&out)
	return out
}

// retrieved builds the wire form of a stored point.
func (c *collection) retrieved(s uint32, wp *qdrant.WithPayloadSelector, vs vectorSelection) *qdrant.RetrievedPoint {
	return &qdrant.RetrievedPoint{Id: c.keys[s].proto(), Payload: selectPayload(c.payloads[s], wp), Vectors: c.vectorOutput(s, vs)}
}

// vectorOutput returns the selected vectors of a point as Qdrant does: the
// dense vector alone when it is the only one to return (so also for every
// point of a collection without sparse vectors, and for a point that has
// none), else a map of named vectors with the dense one under "". A point
// without a sparse vector has no entry for it.
func (c *collection) vectorOutput(s uint32, vs vectorSelection) *qdrant.VectorsOutput {
	if !vs.on {
		return nil
	}
	named := make(map[string]*qdrant.VectorOutput, 1+len(c.sparse))
	if vs.has("") {
		named[""] = &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Dense{Dense: &qdrant.DenseVector{Data: c.readVec(s, nil)}}}
	}
	for name, ix := range c.sparse {
		if d := ix.doc(s); d != nil && vs.has(name) {
			named[name] = sparseOutput(d)
		}
	}
	if dense, ok := named[""]; ok && len(named) == 1 {
		return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vector{Vector: dense}}
	}
	return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vectors{Vectors: &qdrant.NamedVectorsOutput{Vectors: named}}}
}

// scroll pages through matching points in id order; offset is inclusive and
// the next offset is the first id of the following page, as in Qdrant.
func (c *collection) scroll(f *qdrant.Filter, offset *qdrant.PointId, limit int, wp *qdrant.WithPayloadSelector, vs vectorSelection) ([]*qdrant.RetrievedPoint, *qdrant.PointId, error) {
	order := c.sortedSlots()
	start := 0
	if offset != nil {
		k, err := keyFromProto(offset)
		if err != nil {
			return nil, nil, errWrongInput("%v", err)
		}
		start, _ = slices.BinarySearchFunc(order, k, func(s uint32, k pointKey) int {
			switch {
			case c.keys[s].less(k):
				return -1
			case k.less(c.keys[s]):
				return 1
			}
			return 0
		})
	}
	// Matches are collected once as a bitmap, then walked in id order.
	var matches bitmap
	if f != nil {
		matches = newBitmap(len(c.keys))
		if err := c.forMatches(f, matches.set); err != nil {
			return nil, nil, err
		}
	}
	var out []*qdrant.RetrievedPoint
	for _, s := range order[start:] {
		if matches != nil && !matches.has(s) {
			continue
		}
		if len(out) == limit {
			return out, c.keys[s].proto(), nil
		}
		out = append(out, c.retrieved(s, wp, vs))
	}
	return out, nil, nil
}

func (c *collection) countMatches(f *qdrant.Filter) (uint64, error) {
	if f == nil {
		return uint64(c.count()), nil
	}
	var n uint64
	if err := c.forMatches(f, func(uint32) { n++ }); err != nil {
		return 0, err
	}
	return n, nil
}
