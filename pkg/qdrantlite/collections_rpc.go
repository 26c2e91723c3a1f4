package qdrantlite

import (
	"context"
	"time"

	"github.com/qdrant/go-client/qdrant"
)

// collectionsService implements qdrant.CollectionsServer for the calls the
// adapter makes; the rest answer Unimplemented.
type collectionsService struct {
	qdrant.UnimplementedCollectionsServer
	eng *engine
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }

func (s *collectionsService) Create(_ context.Context, req *qdrant.CreateCollection) (*qdrant.CollectionOperationResponse, error) {
	start := time.Now()
	if err := s.eng.create(req); err != nil {
		return nil, err
	}
	return &qdrant.CollectionOperationResponse{Result: true, Time: since(start)}, nil
}

func (s *collectionsService) Delete(_ context.Context, req *qdrant.DeleteCollection) (*qdrant.CollectionOperationResponse, error) {
	start := time.Now()
	ok, err := s.eng.drop(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	return &qdrant.CollectionOperationResponse{Result: ok, Time: since(start)}, nil
}

func (s *collectionsService) List(context.Context, *qdrant.ListCollectionsRequest) (*qdrant.ListCollectionsResponse, error) {
	start := time.Now()
	resp := &qdrant.ListCollectionsResponse{}
	for _, n := range s.eng.names() {
		resp.Collections = append(resp.Collections, &qdrant.CollectionDescription{Name: n})
	}
	resp.Time = since(start)
	return resp, nil
}

func (s *collectionsService) CollectionExists(_ context.Context, req *qdrant.CollectionExistsRequest) (*qdrant.CollectionExistsResponse, error) {
	s.eng.mu.RLock()
	_, ok := s.eng.colls[req.GetCollectionName()]
	s.eng.mu.RUnlock()
	return &qdrant.CollectionExistsResponse{Result: &qdrant.CollectionExists{Exists: ok}}, nil
}

func (s *collectionsService) Get(_ context.Context, req *qdrant.GetCollectionInfoRequest) (*qdrant.GetCollectionInfoResponse, error) {
	start := time.Now()
	c, err := s.eng.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.dropped {
		return nil, errNotFound(req.GetCollectionName())
	}
	points := uint64(c.count())
	schema := make(map[string]*qdrant.PayloadSchemaInfo, len(c.indexes))
	for field, ix := range c.indexes {
		info := &qdrant.PayloadSchemaInfo{DataType: ix.schema}
		if ix.isTenant && ix.schema == qdrant.PayloadSchemaType_Keyword {
			info.Params = qdrant.NewPayloadIndexParamsKeyword(&qdrant.KeywordIndexParams{IsTenant: qdrant.PtrOf(true)})
		}
		if ix.text != nil && ix.schema == qdrant.PayloadSchemaType_Text {
			info.Params = qdrant.NewPayloadIndexParamsText(ix.text.proto())
		}
		schema[field] = info
	}
	// The adapter checks the sparse configuration (name and modifier) of an
	// existing collection before writing to it.
	var sparse *qdrant.SparseVectorConfig
	if len(c.meta.Sparse) > 0 {
		m := make(map[string]*qdrant.SparseVectorParams, len(c.meta.Sparse))
		for name, sm := range c.meta.Sparse {
			p := &qdrant.SparseVectorParams{}
			if sm.Modifier != nil {
				p.Modifier = qdrant.PtrOf(qdrant.Modifier(*sm.Modifier))
			}
			m[name] = p
		}
		sparse = qdrant.NewSparseVectorsConfig(m)
	}
	shards, repl := uint32(1), uint32(1)
	return &qdrant.GetCollectionInfoResponse{
		Result: &qdrant.CollectionInfo{
			Status:          qdrant.CollectionStatus_Green,
			OptimizerStatus: &qdrant.OptimizerStatus{Ok: true},
			SegmentsCount:   1,
			PointsCount:     &points,
			Config: &qdrant.CollectionConfig{
				Params: &qdrant.CollectionParams{
					ShardNumber:       shards,
					ReplicationFactor: &repl,
					VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{
						Size:     uint64(c.dim),
						Distance: c.dist,
					}),
					SparseVectorsConfig: sparse,
				},
				HnswConfig:      &qdrant.HnswConfigDiff{},
				OptimizerConfig: &qdrant.OptimizersConfigDiff{},
				WalConfig:       &qdrant.WalConfigDiff{},
			},
			PayloadSchema: schema,
		},
		Time: since(start),
	}, nil
}

func (s *collectionsService) UpdateAliases(_ context.Context, req *qdrant.ChangeAliases) (*qdrant.CollectionOperationResponse, error) {
	start := time.Now()
	if err := s.eng.updateAliases(req.GetActions()); err != nil {
		return nil, err
	}
	return &qdrant.CollectionOperationResponse{Result: true, Time: since(start)}, nil
}

func (s *collectionsService) ListAliases(context.Context, *qdrant.ListAliasesRequest) (*qdrant.ListAliasesResponse, error) {
	return &qdrant.ListAliasesResponse{Aliases: s.eng.listAliases("")}, nil
}

func (s *collectionsService) ListCollectionAliases(_ context.Context, req *qdrant.ListCollectionAliasesRequest) (*qdrant.ListAliasesResponse, error) {
	s.eng.mu.RLock()
	_, ok := s.eng.colls[req.GetCollectionName()]
	s.eng.mu.RUnlock()
	if !ok {
		return nil, errNotFound(req.GetCollectionName())
	}
	return &qdrant.ListAliasesResponse{Aliases: s.eng.listAliases(req.GetCollectionName())}, nil
}
