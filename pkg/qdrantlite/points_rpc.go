package qdrantlite

import (
	"context"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// pointsService implements qdrant.PointsServer for the calls the adapter
// makes; the rest answer Unimplemented.
type pointsService struct {
	qdrant.UnimplementedPointsServer
	eng *engine
}

// defaultLimit is Qdrant's page size when a request gives none.
const defaultLimit = 10

func opResponse(res *qdrant.UpdateResult, err error, start time.Time) (*qdrant.PointsOperationResponse, error) {
	if err != nil {
		return nil, err
	}
	return &qdrant.PointsOperationResponse{Result: res, Time: since(start)}, nil
}

// read runs fn under the collection's read lock.
func (s *pointsService) read(name string, fn func(c *collection) error) error {
	c, err := s.eng.resolve(name)
	if err != nil {
		return err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.dropped {
		return errNotFound(name)
	}
	return fn(c)
}

func (s *pointsService) Upsert(_ context.Context, req *qdrant.UpsertPoints) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	if req.UpdateFilter != nil || req.UpdateMode != nil {
		return nil, errWrongInput("conditional upsert is not supported")
	}
	res, err := s.eng.mutate(req.GetCollectionName(), opUpsert, req, req.GetWait())
	return opResponse(res, err, start)
}

func (s *pointsService) Delete(_ context.Context, req *qdrant.DeletePoints) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	res, err := s.eng.mutate(req.GetCollectionName(), opDelete, req, req.GetWait())
	return opResponse(res, err, start)
}

func (s *pointsService) SetPayload(_ context.Context, req *qdrant.SetPayloadPoints) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	res, err := s.eng.mutate(req.GetCollectionName(), opSetPayload, req, req.GetWait())
	return opResponse(res, err, start)
}

func (s *pointsService) OverwritePayload(_ context.Context, req *qdrant.SetPayloadPoints) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	res, err := s.eng.mutate(req.GetCollectionName(), opOverwritePayload, req, req.GetWait())
	return opResponse(res, err, start)
}

func (s *pointsService) DeletePayload(_ context.Context, req *qdrant.DeletePayloadPoints) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	res, err := s.eng.mutate(req.GetCollectionName(), opDeletePayload, req, req.GetWait())
	return opResponse(res, err, start)
}

func (s *pointsService) ClearPayload(_ context.Context, req *qdrant.ClearPayloadPoints) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	res, err := s.eng.mutate(req.GetCollectionName(), opClearPayload, req, req.GetWait())
	return opResponse(res, err, start)
}

func (s *pointsService) CreateFieldIndex(_ context.Context, req *qdrant.CreateFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	if err := s.eng.createIndex(req); err != nil {
		return nil, err
	}
	return opResponse(&qdrant.UpdateResult{Status: qdrant.UpdateStatus_Completed}, nil, start)
}

func (s *pointsService) DeleteFieldIndex(_ context.Context, req *qdrant.DeleteFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	if err := s.eng.deleteIndex(req.GetCollectionName(), req.GetFieldName()); err != nil {
		return nil, err
	}
	return opResponse(&qdrant.UpdateResult{Status: qdrant.UpdateStatus_Completed}, nil, start)
}

// Get and Scroll return the payload unless told otherwise, as Qdrant does.
func payloadOrAll(sel *qdrant.WithPayloadSelector) *qdrant.WithPayloadSelector {
	if sel == nil {
		return qdrant.NewWithPayload(true)
	}
	return sel
}

func (s *pointsService) Get(_ context.Context, req *qdrant.GetPoints) (*qdrant.GetResponse, error) {
	start := time.Now()
	resp := &qdrant.GetResponse{}
	err := s.read(req.GetCollectionName(), func(c *collection) error {
		slots, err := c.slotsForIDs(req.GetIds())
		if err != nil {
			return err
		}
		wv := wantVectors(req.GetWithVectors())
		for _, sl := range slots {
			resp.Result = append(resp.Result, c.retrieved(sl, payloadOrAll(req.GetWithPayload()), wv))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	resp.Time = since(start)
	return resp, nil
}

func (s *pointsService) Scroll(_ context.Context, req *qdrant.ScrollPoints) (*qdrant.ScrollResponse, error) {
	start := time.Now()
	if req.OrderBy != nil {
		return nil, status.Error(codes.Unimplemented, "scroll with order_by is not supported")
	}
	limit := defaultLimit
	if req.Limit != nil {
		limit = int(req.GetLimit())
	}
	resp := &qdrant.ScrollResponse{}
	err := s.read(req.GetCollectionName(), func(c *collection) error {
		pts, next, err := c.scroll(req.GetFilter(), req.Offset, limit, payloadOrAll(req.GetWithPayload()), wantVectors(req.GetWithVectors()))
		resp.Result, resp.NextPageOffset = pts, next
		return err
	})
	if err != nil {
		return nil, err
	}
	resp.Time = since(start)
	return resp, nil
}

func (s *pointsService) Count(_ context.Context, req *qdrant.CountPoints) (*qdrant.CountResponse, error) {
	start := time.Now()
	var n uint64
	err := s.read(req.GetCollectionName(), func(c *collection) error {
		var err error
		n, err = c.countMatches(req.GetFilter())
		return err
	})
	if err != nil {
		return nil, err
	}
	return &qdrant.CountResponse{Result: &qdrant.CountResult{Count: n}, Time: since(start)}, nil
}

func (s *pointsService) Search(_ context.Context, req *qdrant.SearchPoints) (*qdrant.SearchResponse, error) {
	start := time.Now()
	if req.GetVectorName() != "" || req.SparseIndices != nil {
		return nil, errWrongInput("only the unnamed dense vector is supported")
	}
	resp := &qdrant.SearchResponse{}
	err := s.read(req.GetCollectionName(), func(c *collection) error {
		hits, err := c.search(searchParams{
			query: req.GetVector(), filter: req.GetFilter(), limit: int(req.GetLimit()),
			offset: int(req.GetOffset()), threshold: req.ScoreThreshold,
		})
		resp.Result = c.scored(hits, req.GetWithPayload(), wantVectors(req.GetWithVectors()))
		return err
	})
	if err != nil {
		return nil, err
	}
	resp.Time = since(start)
	return resp, nil
}

func (c *collection) scored(hits []hit, wp *qdrant.WithPayloadSelector, vs vectorSelection) []*qdrant.ScoredPoint {
	out := make([]*qdrant.ScoredPoint, len(hits))
	for i, h := range hits {
		out[i] = &qdrant.ScoredPoint{Id: c.keys[h.slot].proto(), Score: h.score, Payload: selectPayload(c.payloads[h.slot], wp), Vectors: c.vectorOutput(h.slot, vs)}
	}
	return out
}

// Query serves Qdrant's Query API for nearest queries by dense vector,
// sparse vector or point id, prefetches with their own filters, limits and
// thresholds, and RRF and DBSF fusion; see query.go for the semantics.
func (s *pointsService) Query(_ context.Context, req *qdrant.QueryPoints) (*qdrant.QueryResponse, error) {
	start := time.Now()
	resp := &qdrant.QueryResponse{}
	err := s.read(req.GetCollectionName(), func(c *collection) error {
		hits, err := c.query(req, nil)
		resp.Result = c.scored(hits, req.GetWithPayload(), wantVectors(req.GetWithVectors()))
		return err
	})
	if err != nil {
		return nil, err
	}
	resp.Time = since(start)
	return resp, nil
}

// QueryBatch answers several queries on one collection, as Qdrant does
// with the batch's collection name. They run under one read lock, so they
// see the same points: a caller comparing a fused list with each retriever's
// own list (to show ranks) gets lists that agree. Searches the queries have
// in common run once (see memo).
func (s *pointsService) QueryBatch(_ context.Context, req *qdrant.QueryBatchPoints) (*qdrant.QueryBatchResponse, error) {
	start := time.Now()
	resp := &qdrant.QueryBatchResponse{Result: make([]*qdrant.BatchResult, len(req.GetQueryPoints()))}
	err := s.read(req.GetCollectionName(), func(c *collection) error {
		m := newMemo()
		for i, q := range req.GetQueryPoints() {
			hits, err := c.query(q, m)
			if err != nil {
				return err
			}
			resp.Result[i] = &qdrant.BatchResult{Result: c.scored(hits, q.GetWithPayload(), wantVectors(q.GetWithVectors()))}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	resp.Time = since(start)
	return resp, nil
}
