package vector

import (
	"context"
	"fmt"

	"github.com/qdrant/go-client/qdrant"
)

// RawPoint is a point with its payload as plain Go values (nil, bool, int64,
// float64, string, []any, map[string]any), for reading a collection this
// platform did not write: the legacy deployment's, which the import reads.
type RawPoint struct {
	ID      string
	Payload map[string]any
}

// PayloadFields selects payload keys: Include only these, or all but Exclude.
// Both empty is the whole payload.
type PayloadFields struct {
	Include []string
	Exclude []string
}

func (f PayloadFields) proto() *qdrant.WithPayloadSelector {
	switch {
	case len(f.Include) > 0:
		return qdrant.NewWithPayloadInclude(f.Include...)
	case len(f.Exclude) > 0:
		return qdrant.NewWithPayloadExclude(f.Exclude...)
	}
	return qdrant.NewWithPayload(true)
}

// ScrollRaw returns one page of points of collection, in id order, without
// vectors, with the payload fields selected, and the offset of the next page (""
// after the last).
func (s *Store) ScrollRaw(ctx context.Context, collection string, fields PayloadFields, offset string, pageSize int) ([]RawPoint, string, error) {
	if pageSize <= 0 {
		pageSize = 256
	}
	req := &qdrant.ScrollPoints{
		CollectionName: collection,
		Limit:          qdrant.PtrOf(uint32(pageSize)),
		WithPayload:    fields.proto(),
		WithVectors:    qdrant.NewWithVectors(false),
	}
	res, next, err := s.scrollPage(ctx, req, offset)
	if err != nil {
		return nil, "", err
	}
	points := make([]RawPoint, len(res))
	for i, p := range res {
		points[i] = RawPoint{ID: idString(p.GetId()), Payload: plainPayload(p.GetPayload())}
	}
	return points, next, nil
}

// GetRaw returns the points with the given ids that exist, without vectors, with
// the payload fields selected.
func (s *Store) GetRaw(ctx context.Context, collection string, ids []string, fields PayloadFields) ([]RawPoint, error) {
	pids, err := idsProto(ids)
	if err != nil {
		return nil, err
	}
	res, err := s.client.Get(ctx, &qdrant.GetPoints{
		CollectionName: collection,
		Ids:            pids,
		WithPayload:    fields.proto(),
		WithVectors:    qdrant.NewWithVectors(false),
	})
	if err != nil {
		return nil, fmt.Errorf("vector: get points from %s: %w", collection, translate(err))
	}
	out := make([]RawPoint, len(res))
	for i, p := range res {
		out[i] = RawPoint{ID: idString(p.GetId()), Payload: plainPayload(p.GetPayload())}
	}
	return out, nil
}

func plainPayload(m map[string]*qdrant.Value) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = plainValue(v)
	}
	return out
}

func plainValue(v *qdrant.Value) any {
	switch k := v.GetKind().(type) {
	case *qdrant.Value_BoolValue:
		return k.BoolValue
	case *qdrant.Value_IntegerValue:
		return k.IntegerValue
	case *qdrant.Value_DoubleValue:
		return k.DoubleValue
	case *qdrant.Value_StringValue:
		return k.StringValue
	case *qdrant.Value_ListValue:
		vals := k.ListValue.GetValues()
		out := make([]any, len(vals))
		for i, e := range vals {
			out[i] = plainValue(e)
		}
		return out
	case *qdrant.Value_StructValue:
		return plainPayload(k.StructValue.GetFields())
	}
	return nil
}
