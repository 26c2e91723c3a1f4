package vectortest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/qdrant/go-client/qdrant"
)

// RESTOption adjusts RESTFilter.
type RESTOption func(*restConverter)

// MapIDs rewrites the point ids of has_id conditions, so a case written
// against Qdrant's numeric test ids can run on a collection whose points have
// other ids (the adapter only writes UUIDs).
func MapIDs(f func(*qdrant.PointId) *qdrant.PointId) RESTOption {
	return func(c *restConverter) { c.mapID = f }
}

// RESTFilter converts a filter written in Qdrant's REST JSON (as in Qdrant's
// own tests and documentation) into the go-client's gRPC type, so parity
// cases can be pasted as Qdrant wrote them. It accepts what the REST API
// accepts for the conditions the gRPC API can express: must, should and
// must_not as a condition or a list, min_should, nested, has_id, has_vector,
// is_empty, is_null, and field conditions with match (value, any, except,
// text, text_any, phrase), range, values_count, is_empty and is_null.
// Integers are kept apart from floats as JSON writes them ("1" is an integer,
// "1.0" a float), as Qdrant does.
func RESTFilter(js string, opts ...RESTOption) (*qdrant.Filter, error) {
	c := &restConverter{mapID: func(id *qdrant.PointId) *qdrant.PointId { return id }}
	for _, o := range opts {
		o(c)
	}
	v, err := decodeJSON(js)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("restfilter: a filter is a JSON object")
	}
	return c.filter(obj)
}

// decodeJSON decodes with numbers kept as json.Number, so integers and
// floats stay distinct.
func decodeJSON(js string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("restfilter: %w", err)
	}
	if dec.More() {
		return nil, errors.New("restfilter: trailing data after the JSON value")
	}
	return v, nil
}

// PayloadFromJSON decodes a JSON object into payload values as
// vector.Store.SetPayloadByFilter takes them: integers as int64, other
// numbers as float64.
func PayloadFromJSON(js string) (map[string]any, error) {
	v, err := decodeJSON(js)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("restfilter: a payload is a JSON object")
	}
	return plainNumbers(obj).(map[string]any), nil
}

func plainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, ok := jsonInt(x); ok {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = plainNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = plainNumbers(x[k])
		}
	}
	return v
}

type restConverter struct {
	mapID func(*qdrant.PointId) *qdrant.PointId
}

func (c *restConverter) filter(obj map[string]any) (*qdrant.Filter, error) {
	f := &qdrant.Filter{}
	for key, v := range obj {
		var err error
		switch key {
		case "must":
			f.Must, err = c.conditions(v)
		case "should":
			f.Should, err = c.conditions(v)
		case "must_not":
			f.MustNot, err = c.conditions(v)
		case "min_should":
			if v == nil {
				continue
			}
			f.MinShould, err = c.minShould(v)
		default:
			err = fmt.Errorf("unknown filter clause %q", key)
		}
		if err != nil {
			return nil, fmt.Errorf("restfilter: %s: %w", key, err)
		}
	}
	return f, nil
}

// conditions takes a list of conditions, a single condition, or null.
func (c *restConverter) conditions(v any) ([]*qdrant.Condition, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]*qdrant.Condition, 0, len(x))
		for _, e := range x {
			cond, err := c.condition(e)
			if err != nil {
				return nil, err
			}
			out = append(out, cond)
		}
		return out, nil
	default:
		cond, err := c.condition(v)
		if err != nil {
			return nil, err
		}
		return []*qdrant.Condition{cond}, nil
	}
}

func (c *restConverter) minShould(v any) (*qdrant.MinShould, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("min_should is an object")
	}
	conds, err := c.conditions(obj["conditions"])
	if err != nil {
		return nil, err
	}
	n, ok := obj["min_count"].(json.Number)
	if !ok {
		return nil, errors.New("min_should needs min_count")
	}
	count, ok := jsonUint(n)
	if !ok {
		return nil, fmt.Errorf("min_count %s is not a count", n)
	}
	return &qdrant.MinShould{Conditions: conds, MinCount: count}, nil
}

func (c *restConverter) condition(v any) (*qdrant.Condition, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a condition is an object, got %T", v)
	}
	switch {
	case has(obj, "key"):
		fc, err := c.field(obj)
		if err != nil {
			return nil, err
		}
		return &qdrant.Condition{ConditionOneOf: &qdrant.Condition_Field{Field: fc}}, nil
	case has(obj, "has_id"):
		ids, ok := obj["has_id"].([]any)
		if !ok {
			return nil, errors.New("has_id is a list of ids")
		}
		pids := make([]*qdrant.PointId, 0, len(ids))
		for _, id := range ids {
			pid, err := pointID(id)
			if err != nil {
				return nil, err
			}
			pids = append(pids, c.mapID(pid))
		}
		return qdrant.NewHasID(pids...), nil
	case has(obj, "has_vector"):
		name, ok := obj["has_vector"].(string)
		if !ok {
			return nil, errors.New("has_vector is a vector name")
		}
		return qdrant.NewHasVector(name), nil
	case has(obj, "is_empty"):
		key, err := payloadField(obj["is_empty"])
		if err != nil {
			return nil, fmt.Errorf("is_empty: %w", err)
		}
		return qdrant.NewIsEmpty(key), nil
	case has(obj, "is_null"):
		key, err := payloadField(obj["is_null"])
		if err != nil {
			return nil, fmt.Errorf("is_null: %w", err)
		}
		return qdrant.NewIsNull(key), nil
	case has(obj, "nested"):
		n, ok := obj["nested"].(map[string]any)
		if !ok {
			return nil, errors.New("nested is an object")
		}
		key, _ := n["key"].(string)
		sub, ok := n["filter"].(map[string]any)
		if key == "" || !ok {
			return nil, errors.New("nested needs a key and a filter")
		}
		f, err := c.filter(sub)
		if err != nil {
			return nil, err
		}
		return qdrant.NewNestedFilter(key, f), nil
	case has(obj, "must") || has(obj, "should") || has(obj, "must_not") || has(obj, "min_should"):
		f, err := c.filter(obj)
		if err != nil {
			return nil, err
		}
		return qdrant.NewFilterAsCondition(f), nil
	}
	return nil, fmt.Errorf("unknown condition %v", keys(obj))
}

func (c *restConverter) field(obj map[string]any) (*qdrant.FieldCondition, error) {
	key, ok := obj["key"].(string)
	if !ok || key == "" {
		return nil, errors.New("key is a non-empty string")
	}
	fc := &qdrant.FieldCondition{Key: key}
	for name, v := range obj {
		if v == nil {
			continue
		}
		var err error
		switch name {
		case "key":
		case "match":
			fc.Match, err = match(v)
		case "range":
			fc.Range, err = rangeOf(v)
		case "values_count":
			fc.ValuesCount, err = valuesCount(v)
		case "is_empty", "is_null":
			b, ok := v.(bool)
			if !ok {
				err = fmt.Errorf("%s is a boolean", name)
			} else if name == "is_empty" {
				fc.IsEmpty = &b
			} else {
				fc.IsNull = &b
			}
		default:
			// geo conditions and datetime ranges exist in Qdrant but not in
			// the stores these cases run against.
			err = fmt.Errorf("unsupported field condition %q", name)
		}
		if err != nil {
			return nil, fmt.Errorf("condition on %q: %w", key, err)
		}
	}
	return fc, nil
}

func match(v any) (*qdrant.Match, error) {
	obj, ok := v.(map[string]any)
	if !ok || len(obj) != 1 {
		return nil, errors.New("match is an object with one member")
	}
	kind, val := only(obj)
	switch kind {
	case "value":
		switch x := val.(type) {
		case string:
			return &qdrant.Match{MatchValue: &qdrant.Match_Keyword{Keyword: x}}, nil
		case bool:
			return &qdrant.Match{MatchValue: &qdrant.Match_Boolean{Boolean: x}}, nil
		case json.Number:
			i, ok := jsonInt(x)
			if !ok {
				return nil, fmt.Errorf("match value %s: only integers can be matched", x)
			}
			return &qdrant.Match{MatchValue: &qdrant.Match_Integer{Integer: i}}, nil
		}
		return nil, fmt.Errorf("match value of type %T", val)
	case "any", "except":
		strs, ints, err := stringsOrInts(val)
		if err != nil {
			return nil, fmt.Errorf("match %s: %w", kind, err)
		}
		switch {
		case kind == "any" && ints != nil:
			return &qdrant.Match{MatchValue: &qdrant.Match_Integers{Integers: &qdrant.RepeatedIntegers{Integers: ints}}}, nil
		case kind == "any":
			return &qdrant.Match{MatchValue: &qdrant.Match_Keywords{Keywords: &qdrant.RepeatedStrings{Strings: strs}}}, nil
		case ints != nil:
			return &qdrant.Match{MatchValue: &qdrant.Match_ExceptIntegers{ExceptIntegers: &qdrant.RepeatedIntegers{Integers: ints}}}, nil
		default:
			return &qdrant.Match{MatchValue: &qdrant.Match_ExceptKeywords{ExceptKeywords: &qdrant.RepeatedStrings{Strings: strs}}}, nil
		}
	case "text", "text_any", "phrase":
		s, ok := val.(string)
		if !ok {
			return nil, fmt.Errorf("match %s is a string", kind)
		}
		switch kind {
		case "text":
			return &qdrant.Match{MatchValue: &qdrant.Match_Text{Text: s}}, nil
		case "text_any":
			return &qdrant.Match{MatchValue: &qdrant.Match_TextAny{TextAny: s}}, nil
		default:
			return &qdrant.Match{MatchValue: &qdrant.Match_Phrase{Phrase: s}}, nil
		}
	}
	return nil, fmt.Errorf("unsupported match %q", kind)
}

// stringsOrInts reads the list of any or except. An empty list is a list of
// strings, as Qdrant reads it.
func stringsOrInts(v any) ([]string, []int64, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, nil, errors.New("a list is required")
	}
	if len(list) == 0 {
		return []string{}, nil, nil
	}
	if _, isNum := list[0].(json.Number); isNum {
		ints := make([]int64, 0, len(list))
		for _, e := range list {
			n, ok := e.(json.Number)
			i, isInt := jsonInt(n)
			if !ok || !isInt {
				return nil, nil, fmt.Errorf("%v is not an integer", e)
			}
			ints = append(ints, i)
		}
		return nil, ints, nil
	}
	strs := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, nil, fmt.Errorf("%v is not a string", e)
		}
		strs = append(strs, s)
	}
	return strs, nil, nil
}

func rangeOf(v any) (*qdrant.Range, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("range is an object")
	}
	r := &qdrant.Range{}
	for bound, val := range obj {
		if val == nil {
			continue
		}
		n, ok := val.(json.Number)
		if !ok {
			return nil, fmt.Errorf("range %s: only numeric ranges are supported", bound)
		}
		f, err := n.Float64()
		if err != nil {
			return nil, err
		}
		switch bound {
		case "gt":
			r.Gt = &f
		case "gte":
			r.Gte = &f
		case "lt":
			r.Lt = &f
		case "lte":
			r.Lte = &f
		default:
			return nil, fmt.Errorf("unknown range bound %q", bound)
		}
	}
	return r, nil
}

func valuesCount(v any) (*qdrant.ValuesCount, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("values_count is an object")
	}
	vc := &qdrant.ValuesCount{}
	for bound, val := range obj {
		if val == nil {
			continue
		}
		n, _ := val.(json.Number)
		u, ok := jsonUint(n)
		if !ok {
			return nil, fmt.Errorf("values_count %s: %v is not a count", bound, val)
		}
		switch bound {
		case "gt":
			vc.Gt = &u
		case "gte":
			vc.Gte = &u
		case "lt":
			vc.Lt = &u
		case "lte":
			vc.Lte = &u
		default:
			return nil, fmt.Errorf("unknown values_count bound %q", bound)
		}
	}
	return vc, nil
}

func pointID(v any) (*qdrant.PointId, error) {
	switch x := v.(type) {
	case string:
		return qdrant.NewIDUUID(x), nil
	case json.Number:
		if u, ok := jsonUint(x); ok {
			return qdrant.NewIDNum(u), nil
		}
	}
	return nil, fmt.Errorf("point id %v is neither an unsigned integer nor a UUID", v)
}

func payloadField(v any) (string, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return "", errors.New("an object with a key is required")
	}
	key, ok := obj["key"].(string)
	if !ok || key == "" {
		return "", errors.New("key is a non-empty string")
	}
	return key, nil
}

// jsonInt reads an integer written without fraction or exponent.
func jsonInt(n json.Number) (int64, bool) {
	if strings.ContainsAny(string(n), ".eE") {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func jsonUint(n json.Number) (uint64, bool) {
	i, ok := jsonInt(n)
	if !ok {
		// Counts and ids above MaxInt64 are still integers.
		var u uint64
		if _, err := fmt.Sscan(string(n), &u); err == nil && !strings.ContainsAny(string(n), ".eE-") {
			return u, true
		}
		return 0, false
	}
	if i < 0 {
		return 0, false
	}
	return uint64(i), true
}

func has(obj map[string]any, key string) bool {
	_, ok := obj[key]
	return ok
}

func keys(obj map[string]any) string {
	var b bytes.Buffer
	for k := range obj {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
	}
	return b.String()
}

// only returns the one member of a one-member object.
func only(obj map[string]any) (string, any) {
	for k, v := range obj {
		return k, v
	}
	return "", nil
}
