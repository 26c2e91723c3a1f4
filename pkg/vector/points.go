package vector

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"go.opentelemetry.io/otel/attribute"

	"github.com/youworker/youworker/pkg/tracing"
)

// Payload field names. The access package builds its filters on these.
const (
	FieldDocumentID = "document_id"
	FieldOwnerID    = "owner_id"
	FieldGroupID    = "group_id"
	FieldPrivate    = "private"
	FieldChunkIndex = "chunk_index"
	FieldEmbedder   = "embedder"
	FieldACLVersion = "acl_version"
)

// Payload is what a chunk's point carries besides its vector: the ACL fields
// mirrored from PostgreSQL and what identifies the chunk. Chunk text stays in
// PostgreSQL.
type Payload struct {
	DocumentID string
	OwnerID    string
	// GroupID is "" for a document in no group; it is stored as null so
	// is_null and is_empty filters find it.
	GroupID    string
	Private    bool
	ChunkIndex int
	Embedder   string
	ACLVersion int64
}

// Point is one chunk vector. ID is a UUID, normally PointID(...).
type Point struct {
	ID     string
	Vector []float32
	// Sparse is the chunk's lexical vector, stored under SparseName; nil for a
	// collection without one (see EnsureHybridCollection).
	Sparse  *SparseVector
	Payload Payload
}

// Hit is a search result. Score is a similarity for cosine and dot and a
// distance for euclid.
type Hit struct {
	ID      string
	Score   float32
	Payload Payload
}

// ACL is the access part of a payload, set on many points at once when a
// document's owner, group or privacy changes.
type ACL struct {
	OwnerID string
	// GroupID "" means no group: the set-payload sends null, which removes
	// the key (Qdrant's merge), so filters for "no group" use is_empty.
	GroupID    string
	Private    bool
	ACLVersion int64
}

// pointNamespace makes point ids specific to this application.
var pointNamespace = uuid.MustParse("6f1b3f0e-4b53-4c3e-9a55-2f7d1c0a9e11")

// PointID returns the deterministic id of a chunk's point: the same document,
// chunk and embedder always give the same UUIDv5, so re-running an ingest
// overwrites instead of duplicating.
func PointID(documentID string, chunkIndex int, embedder string) string {
	name := documentID + "\x00" + strconv.Itoa(chunkIndex) + "\x00" + embedder
	return uuid.NewSHA1(pointNamespace, []byte(name)).String()
}

func groupValue(g string) *qdrant.Value {
	if g == "" {
		return qdrant.NewValueNull()
	}
	return qdrant.NewValueString(g)
}

func (p Payload) proto() map[string]*qdrant.Value {
	return map[string]*qdrant.Value{
		FieldDocumentID: qdrant.NewValueString(p.DocumentID),
		FieldOwnerID:    qdrant.NewValueString(p.OwnerID),
		FieldGroupID:    groupValue(p.GroupID),
		FieldPrivate:    qdrant.NewValueBool(p.Private),
		FieldChunkIndex: qdrant.NewValueInt(int64(p.ChunkIndex)),
		FieldEmbedder:   qdrant.NewValueString(p.Embedder),
		FieldACLVersion: qdrant.NewValueInt(p.ACLVersion),
	}
}

func (a ACL) proto() map[string]*qdrant.Value {
	return map[string]*qdrant.Value{
		FieldOwnerID:    qdrant.NewValueString(a.OwnerID),
		FieldGroupID:    groupValue(a.GroupID),
		FieldPrivate:    qdrant.NewValueBool(a.Private),
		FieldACLVersion: qdrant.NewValueInt(a.ACLVersion),
	}
}

func payloadFrom(m map[string]*qdrant.Value) Payload {
	return Payload{
		DocumentID: m[FieldDocumentID].GetStringValue(),
		OwnerID:    m[FieldOwnerID].GetStringValue(),
		GroupID:    m[FieldGroupID].GetStringValue(),
		Private:    m[FieldPrivate].GetBoolValue(),
		ChunkIndex: int(m[FieldChunkIndex].GetIntegerValue()),
		Embedder:   m[FieldEmbedder].GetStringValue(),
		ACLVersion: m[FieldACLVersion].GetIntegerValue(),
	}
}

func idString(id *qdrant.PointId) string {
	if u := id.GetUuid(); u != "" {
		return u
	}
	return strconv.FormatUint(id.GetNum(), 10)
}

func idsProto(ids []string) ([]*qdrant.PointId, error) {
	out := make([]*qdrant.PointId, len(ids))
	for i, id := range ids {
		if _, err := uuid.Parse(id); err != nil {
			return nil, fmt.Errorf("vector: point id %q is not a UUID", id)
		}
		out[i] = qdrant.NewIDUUID(id)
	}
	return out, nil
}

// batchBytes bounds one upsert request well under the message size limit.
const batchBytes = 4 << 20

// Upsert writes points in batches, each acknowledged only once applied and
// durable (wait=true). A vector of the wrong length fails with
// ErrDimensionMismatch.
func (s *Store) Upsert(ctx context.Context, collection string, points []Point) (err error) {
	if len(points) == 0 {
		return nil
	}
	ctx, span := tracing.Start(ctx, "vector.upsert", attribute.String("vector.collection", collection), attribute.Int("vector.points", len(points)))
	defer tracing.End(span, &err)
	per := max(1, min(256, batchBytes/(points[0].size()+256)))
	for start := 0; start < len(points); start += per {
		end := min(start+per, len(points))
		batch := make([]*qdrant.PointStruct, 0, end-start)
		for _, p := range points[start:end] {
			if _, err := uuid.Parse(p.ID); err != nil {
				return fmt.Errorf("vector: upsert into %s: point id %q is not a UUID", collection, p.ID)
			}
			batch = append(batch, &qdrant.PointStruct{
				Id:      qdrant.NewIDUUID(p.ID),
				Vectors: p.vectors(),
				Payload: p.Payload.proto(),
			})
		}
		_, err := s.client.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: collection, Wait: qdrant.PtrOf(true), Points: batch})
		if err != nil {
			err = translate(err)
			for _, p := range points[start:end] {
				if err = s.checkDimension(ctx, collection, len(p.Vector), err); errors.Is(err, ErrDimensionMismatch) {
					break
				}
			}
			return fmt.Errorf("vector: upsert %d points into %s: %w", len(batch), collection, err)
		}
	}
	return nil
}

// Search returns the limit points nearest to vec among those matching filter
// (nil matches all), best first. It uses exact search: collections here are
// per-tenant filtered and small enough that exactness beats HNSW recall loss.
func (s *Store) Search(ctx context.Context, collection string, vec []float32, filter *qdrant.Filter, limit int) (_ []Hit, err error) {
	if limit <= 0 {
		return nil, nil
	}
	ctx, span := tracing.Start(ctx, "vector.search", attribute.String("vector.collection", collection), attribute.Int("vector.limit", limit))
	defer tracing.End(span, &err)
	res, err := s.client.Query(ctx, &qdrant.QueryPoints{
		CollectionName: collection,
		Query:          qdrant.NewQueryDense(vec),
		Filter:         filter,
		Limit:          qdrant.PtrOf(uint64(limit)),
		WithPayload:    qdrant.NewWithPayload(true),
		Params:         &qdrant.SearchParams{Exact: qdrant.PtrOf(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("vector: search %s: %w", collection, s.checkDimension(ctx, collection, len(vec), translate(err)))
	}
	hits := make([]Hit, len(res))
	for i, p := range res {
		hits[i] = Hit{ID: idString(p.GetId()), Score: p.GetScore(), Payload: payloadFrom(p.GetPayload())}
	}
	return hits, nil
}

// DeleteByFilter deletes every point matching filter. A nil filter is
// refused: deleting everything is DeleteCollection's job.
func (s *Store) DeleteByFilter(ctx context.Context, collection string, filter *qdrant.Filter) error {
	if filter == nil {
		return fmt.Errorf("vector: delete from %s: a filter is required", collection)
	}
	_, err := s.client.Delete(ctx, &qdrant.DeletePoints{
		CollectionName: collection,
		Wait:           qdrant.PtrOf(true),
		Points:         qdrant.NewPointsSelectorFilter(filter),
	})
	if err != nil {
		return fmt.Errorf("vector: delete by filter from %s: %w", collection, translate(err))
	}
	return nil
}

// DeletePoints deletes points by id; missing ids are ignored.
func (s *Store) DeletePoints(ctx context.Context, collection string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	pids, err := idsProto(ids)
	if err != nil {
		return err
	}
	_, err = s.client.Delete(ctx, &qdrant.DeletePoints{
		CollectionName: collection,
		Wait:           qdrant.PtrOf(true),
		Points:         qdrant.NewPointsSelectorIDs(pids),
	})
	if err != nil {
		return fmt.Errorf("vector: delete %d points from %s: %w", len(ids), collection, translate(err))
	}
	return nil
}

// SetACLByFilter sets the ACL fields on every point matching filter, keeping
// the other payload fields.
func (s *Store) SetACLByFilter(ctx context.Context, collection string, filter *qdrant.Filter, acl ACL) error {
	return s.setPayload(ctx, collection, filter, acl.proto())
}

// SetPayloadByFilter sets arbitrary payload fields (values as accepted by
// qdrant.NewValue: nil, bool, integers, floats, strings, slices, maps) on
// every point matching filter.
func (s *Store) SetPayloadByFilter(ctx context.Context, collection string, filter *qdrant.Filter, fields map[string]any) error {
	payload, err := qdrant.TryValueMap(fields)
	if err != nil {
		return fmt.Errorf("vector: set payload on %s: %w", collection, err)
	}
	return s.setPayload(ctx, collection, filter, payload)
}

func (s *Store) setPayload(ctx context.Context, collection string, filter *qdrant.Filter, payload map[string]*qdrant.Value) error {
	if filter == nil {
		return fmt.Errorf("vector: set payload on %s: a filter is required", collection)
	}
	_, err := s.client.SetPayload(ctx, &qdrant.SetPayloadPoints{
		CollectionName: collection,
		Wait:           qdrant.PtrOf(true),
		Payload:        payload,
		PointsSelector: qdrant.NewPointsSelectorFilter(filter),
	})
	if err != nil {
		return fmt.Errorf("vector: set payload on %s: %w", collection, translate(err))
	}
	return nil
}

// ScrollOptions controls one page of Scroll.
type ScrollOptions struct {
	// PageSize is the number of points per page; zero means 256.
	PageSize int
	// Offset is the NextOffset of the previous page; "" starts at the
	// beginning.
	Offset string
	// WithVectors also returns the vectors (for re-indexing).
	WithVectors bool
	// PayloadFields, when set, limits the payload returned to these fields: a
	// scan that needs one field then does not encode and decode all of them
	// for every point.
	PayloadFields []string
}

// Scroll returns one page of points matching filter, in id order, and the
// offset of the next page ("" when this was the last page).
func (s *Store) Scroll(ctx context.Context, collection string, filter *qdrant.Filter, opts ScrollOptions) ([]Point, string, error) {
	size := opts.PageSize
	if size <= 0 {
		size = 256
	}
	req := &qdrant.ScrollPoints{
		CollectionName: collection,
		Filter:         filter,
		Limit:          qdrant.PtrOf(uint32(size)),
		WithPayload:    qdrant.NewWithPayload(true),
		WithVectors:    qdrant.NewWithVectors(opts.WithVectors),
	}
	if len(opts.PayloadFields) > 0 {
		req.WithPayload = qdrant.NewWithPayloadInclude(opts.PayloadFields...)
	}
	res, next, err := s.scrollPage(ctx, req, opts.Offset)
	if err != nil {
		return nil, "", err
	}
	points := make([]Point, len(res))
	for i, p := range res {
		points[i] = Point{ID: idString(p.GetId()), Payload: payloadFrom(p.GetPayload())}
		if opts.WithVectors {
			points[i].Vector, points[i].Sparse = vectorsFrom(p.GetVectors())
		}
	}
	return points, next, nil
}

// scrollPage sends req from offset ("": the first page) and returns the page's
// points and the offset of the next page ("" after the last).
func (s *Store) scrollPage(ctx context.Context, req *qdrant.ScrollPoints, offset string) ([]*qdrant.RetrievedPoint, string, error) {
	if offset != "" {
		ids, err := idsProto([]string{offset})
		if err != nil {
			return nil, "", err
		}
		req.Offset = ids[0]
	}
	res, next, err := s.client.ScrollAndOffset(ctx, req)
	if err != nil {
		return nil, "", fmt.Errorf("vector: scroll %s: %w", req.CollectionName, translate(err))
	}
	if next == nil {
		return res, "", nil
	}
	return res, idString(next), nil
}

// ScrollAll calls fn with every page of points matching filter until the
// last page or until fn returns an error.
func (s *Store) ScrollAll(ctx context.Context, collection string, filter *qdrant.Filter, opts ScrollOptions, fn func([]Point) error) error {
	for {
		page, next, err := s.Scroll(ctx, collection, filter, opts)
		if err != nil {
			return err
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		opts.Offset = next
	}
}

// Count returns the exact number of points matching filter (nil: all).
func (s *Store) Count(ctx context.Context, collection string, filter *qdrant.Filter) (uint64, error) {
	n, err := s.client.Count(ctx, &qdrant.CountPoints{CollectionName: collection, Filter: filter, Exact: qdrant.PtrOf(true)})
	if err != nil {
		return 0, fmt.Errorf("vector: count %s: %w", collection, translate(err))
	}
	return n, nil
}

// GetPoints returns the points with the given ids that exist, with vectors
// when withVectors is set.
func (s *Store) GetPoints(ctx context.Context, collection string, ids []string, withVectors bool) ([]Point, error) {
	pids, err := idsProto(ids)
	if err != nil {
		return nil, err
	}
	res, err := s.client.Get(ctx, &qdrant.GetPoints{
		CollectionName: collection,
		Ids:            pids,
		WithPayload:    qdrant.NewWithPayload(true),
		WithVectors:    qdrant.NewWithVectors(withVectors),
	})
	if err != nil {
		return nil, fmt.Errorf("vector: get points from %s: %w", collection, translate(err))
	}
	out := make([]Point, len(res))
	for i, p := range res {
		out[i] = Point{ID: idString(p.GetId()), Payload: payloadFrom(p.GetPayload())}
		if withVectors {
			out[i].Vector, out[i].Sparse = vectorsFrom(p.GetVectors())
		}
	}
	return out, nil
}
