package qdrantlite

import (
	"fmt"
	"strings"

	"github.com/qdrant/go-client/qdrant"
)

// pred reports whether a point (its id and payload) satisfies a compiled
// filter. Filters are compiled once per request so that per-point evaluation
// is a chain of closures without re-inspecting the protobuf tree.
type pred func(k pointKey, p map[string]any) bool

func matchAll(pointKey, map[string]any) bool { return true }

// compileFilter turns a Qdrant filter into a predicate with Qdrant's
// semantics: every must holds, at least one should holds (when any is given),
// no must_not holds, and at least min_count of min_should hold.
func compileFilter(f *qdrant.Filter, nested bool) (pred, error) {
	if f == nil {
		return matchAll, nil
	}
	must, err := compileConds(f.GetMust(), nested)
	if err != nil {
		return nil, err
	}
	should, err := compileConds(f.GetShould(), nested)
	if err != nil {
		return nil, err
	}
	mustNot, err := compileConds(f.GetMustNot(), nested)
	if err != nil {
		return nil, err
	}
	var minConds []pred
	var minCount int
	hasMin := f.MinShould != nil
	if hasMin {
		if minConds, err = compileConds(f.GetMinShould().GetConditions(), nested); err != nil {
			return nil, err
		}
		minCount = int(f.GetMinShould().GetMinCount())
	}
	if len(must) == 0 && len(should) == 0 && len(mustNot) == 0 && !hasMin {
		return matchAll, nil
	}
	return func(k pointKey, p map[string]any) bool {
		for _, c := range must {
			if !c(k, p) {
				return false
			}
		}
		if len(should) > 0 {
			ok := false
			for _, c := range should {
				if c(k, p) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		for _, c := range mustNot {
			if c(k, p) {
				return false
			}
		}
		if hasMin {
			n := 0
			for _, c := range minConds {
				if c(k, p) {
					n++
					if n >= minCount {
						break
					}
				}
			}
			if n < minCount {
				return false
			}
		}
		return true
	}, nil
}

func compileConds(cs []*qdrant.Condition, nested bool) ([]pred, error) {
	out := make([]pred, 0, len(cs))
	for _, c := range cs {
		p, err := compileCond(c, nested)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func compileCond(c *qdrant.Condition, nested bool) (pred, error) {
	switch x := c.GetConditionOneOf().(type) {
	case *qdrant.Condition_Field:
		return compileField(x.Field)
	case *qdrant.Condition_IsEmpty:
		key := x.IsEmpty.GetKey()
		return func(_ pointKey, p map[string]any) bool { return isEmpty(lookup(p, key)) }, nil
	case *qdrant.Condition_IsNull:
		key := x.IsNull.GetKey()
		return func(_ pointKey, p map[string]any) bool { return isNull(lookup(p, key)) }, nil
	case *qdrant.Condition_HasId:
		if nested {
			return nil, fmt.Errorf("has_id is not allowed inside a nested filter")
		}
		set := make(map[pointKey]struct{}, len(x.HasId.GetHasId()))
		for _, id := range x.HasId.GetHasId() {
			k, err := keyFromProto(id)
			if err != nil {
				return nil, err
			}
			set[k] = struct{}{}
		}
		return func(k pointKey, _ map[string]any) bool { _, ok := set[k]; return ok }, nil
	case *qdrant.Condition_Filter:
		return compileFilter(x.Filter, nested)
	case *qdrant.Condition_Nested:
		key := x.Nested.GetKey()
		sub, err := compileFilter(x.Nested.GetFilter(), true)
		if err != nil {
			return nil, err
		}
		return func(k pointKey, p map[string]any) bool {
			for _, v := range flatten(lookup(p, key)) {
				if obj, ok := v.(map[string]any); ok && sub(k, obj) {
					return true
				}
			}
			return false
		}, nil
	case *qdrant.Condition_HasVector:
		if x.HasVector.GetHasVector() != "" {
			return nil, fmt.Errorf("named vector %q does not exist", x.HasVector.GetHasVector())
		}
		return matchAll, nil
	default:
		return nil, fmt.Errorf("empty condition")
	}
}

func compileField(fc *qdrant.FieldCondition) (pred, error) {
	key := fc.GetKey()
	if key == "" {
		return nil, fmt.Errorf("field condition without key")
	}
	var checks []func(vals []any) bool
	if fc.Match != nil {
		m, err := compileMatch(fc.GetMatch())
		if err != nil {
			return nil, err
		}
		checks = append(checks, m)
	}
	if r := fc.GetRange(); r != nil {
		checks = append(checks, func(vals []any) bool {
			for _, v := range flatten(vals) {
				if f, ok := number(v); ok && inRange(f, r) {
					return true
				}
			}
			return false
		})
	}
	if vc := fc.GetValuesCount(); vc != nil {
		checks = append(checks, func(vals []any) bool {
			n := float64(len(flatten(vals)))
			return inRange(n, &qdrant.Range{Lt: u2f(vc.Lt), Gt: u2f(vc.Gt), Gte: u2f(vc.Gte), Lte: u2f(vc.Lte)})
		})
	}
	if fc.IsEmpty != nil {
		want := fc.GetIsEmpty()
		checks = append(checks, func(vals []any) bool { return isEmpty(vals) == want })
	}
	if fc.IsNull != nil {
		want := fc.GetIsNull()
		checks = append(checks, func(vals []any) bool { return isNull(vals) == want })
	}
	if fc.GeoBoundingBox != nil || fc.GeoRadius != nil || fc.GeoPolygon != nil || fc.DatetimeRange != nil {
		return nil, fmt.Errorf("condition on %q: geo and datetime conditions are not supported", key)
	}
	if len(checks) == 0 {
		return nil, fmt.Errorf("condition on %q has no match, range or check", key)
	}
	return func(_ pointKey, p map[string]any) bool {
		vals := lookup(p, key)
		for _, c := range checks {
			if !c(vals) {
				return false
			}
		}
		return true
	}, nil
}

func u2f(u *uint64) *float64 {
	if u == nil {
		return nil
	}
	f := float64(*u)
	return &f
}

func inRange(f float64, r *qdrant.Range) bool {
	return (r.Lt == nil || f < *r.Lt) && (r.Gt == nil || f > *r.Gt) &&
		(r.Lte == nil || f <= *r.Lte) && (r.Gte == nil || f >= *r.Gte)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// compileMatch returns a check over the values found at the key. As in Qdrant,
// an array matches when any element matches, and except never matches a
// missing or null value.
func compileMatch(m *qdrant.Match) (func([]any) bool, error) {
	anyOf := func(f func(v any) bool) func([]any) bool {
		return func(vals []any) bool {
			for _, v := range flatten(vals) {
				if f(v) {
					return true
				}
			}
			return false
		}
	}
	switch x := m.GetMatchValue().(type) {
	case *qdrant.Match_Keyword:
		return anyOf(func(v any) bool { s, ok := v.(string); return ok && s == x.Keyword }), nil
	case *qdrant.Match_Integer:
		return anyOf(func(v any) bool { i, ok := v.(int64); return ok && i == x.Integer }), nil
	case *qdrant.Match_Boolean:
		return anyOf(func(v any) bool { b, ok := v.(bool); return ok && b == x.Boolean }), nil
	case *qdrant.Match_Keywords:
		set := stringSet(x.Keywords.GetStrings())
		return anyOf(func(v any) bool { s, ok := v.(string); _, in := set[s]; return ok && in }), nil
	case *qdrant.Match_Integers:
		set := intSet(x.Integers.GetIntegers())
		return anyOf(func(v any) bool { i, ok := v.(int64); _, in := set[i]; return ok && in }), nil
	case *qdrant.Match_ExceptKeywords:
		set := stringSet(x.ExceptKeywords.GetStrings())
		return anyOf(func(v any) bool {
			if s, ok := v.(string); ok {
				_, in := set[s]
				return !in
			}
			return v != nil
		}), nil
	case *qdrant.Match_ExceptIntegers:
		set := intSet(x.ExceptIntegers.GetIntegers())
		return anyOf(func(v any) bool {
			if i, ok := v.(int64); ok {
				_, in := set[i]
				return !in
			}
			return v != nil
		}), nil
	case *qdrant.Match_Text:
		return anyOf(func(v any) bool { s, ok := v.(string); return ok && strings.Contains(s, x.Text) }), nil
	case *qdrant.Match_Phrase:
		return anyOf(func(v any) bool { s, ok := v.(string); return ok && strings.Contains(s, x.Phrase) }), nil
	case *qdrant.Match_TextAny:
		words := strings.Fields(x.TextAny)
		return anyOf(func(v any) bool {
			s, ok := v.(string)
			if !ok {
				return false
			}
			for _, w := range words {
				if strings.Contains(s, w) {
					return true
				}
			}
			return false
		}), nil
	default:
		return nil, fmt.Errorf("empty match")
	}
}

func stringSet(ss []string) map[string]struct{} {
	m := make(map[string]struct{}, len(ss))
	for _, s := range ss {
		m[s] = struct{}{}
	}
	return m
}

func intSet(is []int64) map[int64]struct{} {
	m := make(map[int64]struct{}, len(is))
	for _, i := range is {
		m[i] = struct{}{}
	}
	return m
}

// lookup returns the values at a dotted key path ("a.b", "a[].b"). Arrays met
// on the way are traversed element by element; the final values are returned
// unflattened so that is_null and is_empty can tell [] from null.
func lookup(p map[string]any, key string) []any {
	if !strings.Contains(key, ".") && !strings.Contains(key, "[") {
		v, ok := p[key]
		if !ok {
			return nil
		}
		return []any{v}
	}
	cur := []any{p}
	for _, part := range strings.Split(key, ".") {
		part = strings.TrimSuffix(part, "[]")
		var next []any
		for _, c := range cur {
			for _, o := range flattenOne(c) {
				if obj, ok := o.(map[string]any); ok {
					if v, ok := obj[part]; ok {
						next = append(next, v)
					}
				}
			}
		}
		if len(next) == 0 {
			return nil
		}
		cur = next
	}
	return cur
}

func flattenOne(v any) []any {
	if arr, ok := v.([]any); ok {
		return arr
	}
	return []any{v}
}

// flatten expands top-level arrays so checks see individual values.
func flatten(vals []any) []any {
	for _, v := range vals {
		if _, ok := v.([]any); ok {
			var out []any
			for _, w := range vals {
				out = append(out, flattenOne(w)...)
			}
			return out
		}
	}
	return vals
}

// isEmpty matches a missing field, null, or an empty array.
func isEmpty(vals []any) bool {
	for _, v := range flatten(vals) {
		if v != nil {
			return false
		}
	}
	return true
}

// isNull matches a field present with a null value (or an array holding a
// null); a missing field is not null in Qdrant.
func isNull(vals []any) bool {
	for _, v := range vals {
		if v == nil {
			return true
		}
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				if e == nil {
					return true
				}
			}
		}
	}
	return false
}
