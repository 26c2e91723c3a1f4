package qdrantlite

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
)

// pointKey is the in-memory form of a point id. Qdrant orders numeric ids
// before UUIDs and UUIDs by their 128-bit value; a fixed-size comparable
// struct keeps that order cheap to compute and usable as a map key.
type pointKey struct {
	isUUID bool
	hi, lo uint64
}

func keyFromProto(id *qdrant.PointId) (pointKey, error) {
	switch v := id.GetPointIdOptions().(type) {
	case *qdrant.PointId_Num:
		return pointKey{lo: v.Num}, nil
	case *qdrant.PointId_Uuid:
		u, err := uuid.Parse(v.Uuid)
		if err != nil {
			return pointKey{}, fmt.Errorf("Unable to parse UUID: %s", v.Uuid)
		}
		return pointKey{isUUID: true, hi: binary.BigEndian.Uint64(u[:8]), lo: binary.BigEndian.Uint64(u[8:])}, nil
	default:
		return pointKey{}, fmt.Errorf("point id is missing")
	}
}

func (k pointKey) proto() *qdrant.PointId {
	if !k.isUUID {
		return qdrant.NewIDNum(k.lo)
	}
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[:8], k.hi)
	binary.BigEndian.PutUint64(u[8:], k.lo)
	return qdrant.NewIDUUID(u.String())
}

// String formats the id as Qdrant does in messages: a number or a UUID.
func (k pointKey) String() string {
	if !k.isUUID {
		return fmt.Sprint(k.lo)
	}
	return k.proto().GetUuid()
}

func (k pointKey) less(o pointKey) bool {
	if k.isUUID != o.isUUID {
		return !k.isUUID
	}
	if k.hi != o.hi {
		return k.hi < o.hi
	}
	return k.lo < o.lo
}

// fromValue converts a protobuf payload value into plain Go values (nil, bool,
// int64, float64, string, []any, map[string]any). Plain values are several
// times smaller than protobuf messages, which matters at 100k points.
func fromValue(v *qdrant.Value) any {
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
			out[i] = fromValue(e)
		}
		return out
	case *qdrant.Value_StructValue:
		return fromPayload(k.StructValue.GetFields())
	default:
		return nil
	}
}

func fromPayload(m map[string]*qdrant.Value) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = fromValue(v)
	}
	return out
}

func toValue(v any) *qdrant.Value {
	switch x := v.(type) {
	case bool:
		return qdrant.NewValueBool(x)
	case int64:
		return qdrant.NewValueInt(x)
	case float64:
		return qdrant.NewValueDouble(x)
	case string:
		return qdrant.NewValueString(x)
	case []any:
		vals := make([]*qdrant.Value, len(x))
		for i, e := range x {
			vals[i] = toValue(e)
		}
		return qdrant.NewValueFromList(vals...)
	case map[string]any:
		return qdrant.NewValueFromFields(toPayload(x))
	default:
		return qdrant.NewValueNull()
	}
}

func toPayload(m map[string]any) map[string]*qdrant.Value {
	out := make(map[string]*qdrant.Value, len(m))
	for k, v := range m {
		out[k] = toValue(v)
	}
	return out
}

// selectPayload applies a WithPayloadSelector. Qdrant returns no payload when
// the selector is absent for search and query, and we follow that.
func selectPayload(p map[string]any, sel *qdrant.WithPayloadSelector) map[string]*qdrant.Value {
	switch s := sel.GetSelectorOptions().(type) {
	case *qdrant.WithPayloadSelector_Enable:
		if !s.Enable {
			return nil
		}
		return toPayload(p)
	case *qdrant.WithPayloadSelector_Include:
		out := make(map[string]*qdrant.Value)
		for _, f := range s.Include.GetFields() {
			if v, ok := p[f]; ok {
				out[f] = toValue(v)
			}
		}
		return out
	case *qdrant.WithPayloadSelector_Exclude:
		out := toPayload(p)
		for _, f := range s.Exclude.GetFields() {
			delete(out, f)
		}
		return out
	default:
		return nil
	}
}

// vectorSelection is which vectors a read returns: none, all (names nil),
// or the named ones ("" is the dense vector).
type vectorSelection struct {
	on    bool
	names map[string]bool
}

func (vs vectorSelection) has(name string) bool { return vs.on && (vs.names == nil || vs.names[name]) }

func wantVectors(sel *qdrant.WithVectorsSelector) vectorSelection {
	switch s := sel.GetSelectorOptions().(type) {
	case *qdrant.WithVectorsSelector_Enable:
		return vectorSelection{on: s.Enable}
	case *qdrant.WithVectorsSelector_Include:
		names := make(map[string]bool, len(s.Include.GetNames()))
		for _, n := range s.Include.GetNames() {
			names[n] = true
		}
		return vectorSelection{on: len(names) > 0, names: names}
	default:
		return vectorSelection{}
	}
}

// equalValues compares two plain payload values; used to skip index updates
// when a set-payload leaves an indexed field unchanged.
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool, int64, string:
		return a == b
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || (math.IsNaN(x) && math.IsNaN(y)))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalValues(v, w) {
				return false
			}
		}
		return true
	default:
		return false
	}
}
