package qdrantlite

import (
	"fmt"
	"slices"
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
func compileFilter(f *qdrant.Filter, nested bool, env filterEnv) (pred, error) {
	if f == nil {
		return matchAll, nil
	}
	must, err := compileConds(f.GetMust(), nested, env)
	if err != nil {
		return nil, err
	}
	should, err := compileConds(f.GetShould(), nested, env)
	if err != nil {
		return nil, err
	}
	mustNot, err := compileConds(f.GetMustNot(), nested, env)
	if err != nil {
		return nil, err
	}
	var minConds []pred
	var minCount int
	hasMin := f.MinShould != nil
	if hasMin {
		if minConds, err = compileConds(f.GetMinShould().GetConditions(), nested, env); err != nil {
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

func compileConds(cs []*qdrant.Condition, nested bool, env filterEnv) ([]pred, error) {
	out := make([]pred, 0, len(cs))
	for _, c := range cs {
		if c.GetConditionOneOf() == nil {
			// Qdrant drops empty conditions before evaluating a filter, so
			// a should list of only empty conditions constrains nothing.
			continue
		}
		p, err := compileCond(c, nested, env)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// filterEnv is what a filter is compiled against besides itself: the
// tokenizers of the full-text indexes, by key path. With such an index Qdrant
// matches text by words instead of by substring, so the index changes the
// result and the payload check must know about it.
type filterEnv struct {
	text map[string]tokenizer
	// hasVector reports which points hold a vector of the name; nil when
	// the filter runs without a collection (every point has the dense one).
	hasVector func(name string) func(pointKey) bool
}

// nestedEnv is the environment inside a nested filter on path: Qdrant applies
// the index of "a[].b" to the key "b" inside a nested filter on "a".
func (env filterEnv) nestedEnv(path jsonPath) filterEnv {
	if len(env.text) == 0 {
		return env
	}
	out := filterEnv{text: make(map[string]tokenizer)}
	for key, t := range env.text {
		p, err := parsePath(key)
		if err != nil {
			continue
		}
		if rest, ok := p.stripPrefix(path); ok {
			out.text[rest.String()] = t
		}
	}
	return out
}

func compileCond(c *qdrant.Condition, nested bool, env filterEnv) (pred, error) {
	switch x := c.GetConditionOneOf().(type) {
	case *qdrant.Condition_Field:
		return compileField(x.Field, env)
	case *qdrant.Condition_IsEmpty:
		path, err := parsePath(x.IsEmpty.GetKey())
		if err != nil {
			return nil, err
		}
		return func(_ pointKey, p map[string]any) bool { return isEmpty(path.get(p)) }, nil
	case *qdrant.Condition_IsNull:
		path, err := parsePath(x.IsNull.GetKey())
		if err != nil {
			return nil, err
		}
		return func(_ pointKey, p map[string]any) bool { return isNull(path.get(p)) }, nil
	case *qdrant.Condition_HasId:
		set := make(map[pointKey]struct{}, len(x.HasId.GetHasId()))
		for _, id := range x.HasId.GetHasId() {
			k, err := keyFromProto(id)
			if err != nil {
				return nil, err
			}
			set[k] = struct{}{}
		}
		if nested {
			// Qdrant checks the objects of a nested filter without point ids,
			// so has_id there matches nothing.
			return func(pointKey, map[string]any) bool { return false }, nil
		}
		return func(k pointKey, _ map[string]any) bool { _, ok := set[k]; return ok }, nil
	case *qdrant.Condition_Filter:
		return compileFilter(x.Filter, nested, env)
	case *qdrant.Condition_Nested:
		if x.Nested.GetFilter() == nil {
			return nil, fmt.Errorf("Nested condition must have a filter")
		}
		path, err := parsePath(x.Nested.GetKey())
		if err != nil {
			return nil, err
		}
		// Only array elements are tried: a nested filter on a single object
		// matches nothing, as in Qdrant.
		path = path.arrayKey()
		sub, err := compileFilter(x.Nested.GetFilter(), true, env.nestedEnv(path))
		if err != nil {
			return nil, err
		}
		return func(k pointKey, p map[string]any) bool {
			for _, v := range path.get(p) {
				if obj, ok := v.(map[string]any); ok && sub(k, obj) {
					return true
				}
			}
			return false
		}, nil
	case *qdrant.Condition_HasVector:
		name := x.HasVector.GetHasVector()
		switch {
		case nested:
			// Qdrant checks nested objects without vector storages.
			return func(pointKey, map[string]any) bool { return false }, nil
		case env.hasVector != nil:
			has := env.hasVector(name)
			return func(k pointKey, _ map[string]any) bool { return has(k) }, nil
		case name == "":
			return matchAll, nil
		}
		// A vector name the collection does not have matches nothing.
		return func(pointKey, map[string]any) bool { return false }, nil
	default:
		return nil, fmt.Errorf("empty condition")
	}
}

// compileField follows Qdrant's field condition check. The clauses of one
// condition (match, range, values_count, is_empty, is_null) are alternatives:
// a value passes when any clause holds for it, except that values_count,
// else is_empty, else is_null, when given, decide alone for a whole value.
// The condition holds when any value at the key passes; with no value at the
// key only values_count (against 0), is_empty and is_null can hold.
func compileField(fc *qdrant.FieldCondition, env filterEnv) (pred, error) {
	key := fc.GetKey()
	if key == "" {
		return nil, fmt.Errorf("field condition without key")
	}
	path, err := parsePath(key)
	if err != nil {
		return nil, err
	}
	if fc.GeoBoundingBox != nil || fc.GeoRadius != nil || fc.GeoPolygon != nil || fc.DatetimeRange != nil {
		return nil, fmt.Errorf("condition on %q: geo and datetime conditions are not supported", key)
	}
	var clauses []func(v any) bool
	if fc.Match != nil {
		m, err := compileMatch(fc.GetMatch())
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, m)
	}
	if r := fc.GetRange(); r != nil {
		clauses = append(clauses, func(v any) bool { f, ok := number(v); return ok && inRange(f, r) })
	}
	var count func(v any) bool
	if vc := fc.GetValuesCount(); vc != nil {
		r := &qdrant.Range{Lt: u2f(vc.Lt), Gt: u2f(vc.Gt), Gte: u2f(vc.Gte), Lte: u2f(vc.Lte)}
		count = func(v any) bool { return inRange(float64(valuesCount(v)), r) }
		clauses = append(clauses, count)
	}
	var empty, null func(v any) bool
	if fc.IsEmpty != nil {
		want := fc.GetIsEmpty()
		empty = func(v any) bool { return valueIsEmpty(v) == want }
		clauses = append(clauses, empty)
	}
	if fc.IsNull != nil {
		want := fc.GetIsNull()
		null = func(v any) bool { return valueIsNull(v) == want }
		clauses = append(clauses, null)
	}
	if len(clauses) == 0 {
		return nil, fmt.Errorf("At least one field condition must be specified")
	}
	anyClause := func(v any) bool {
		for _, c := range clauses {
			if c(v) {
				return true
			}
		}
		return false
	}
	var check func(v any) bool
	switch {
	case count != nil:
		check = count
	case empty != nil:
		check = empty
	case null != nil:
		check = null
	default:
		check = func(v any) bool {
			if arr, ok := v.([]any); ok {
				return slices.ContainsFunc(arr, anyClause)
			}
			return anyClause(v)
		}
	}
	// A full-text index on the key decides text matches by words, whatever
	// other clauses the condition has.
	if t, ok := env.text[path.String()]; ok && fc.Match != nil {
		if tc := t.textCheck(fc.GetMatch()); tc != nil {
			check = tc
		}
	}
	var whenMissing bool
	switch {
	case count != nil:
		whenMissing = count(nil)
	case fc.IsEmpty != nil:
		whenMissing = fc.GetIsEmpty()
	case fc.IsNull != nil:
		whenMissing = !fc.GetIsNull()
	}
	return func(_ pointKey, p map[string]any) bool {
		vals := path.get(p)
		if len(vals) == 0 {
			return whenMissing
		}
		return slices.ContainsFunc(vals, check)
	}, nil
}

// valuesCount is how many values one value holds for values_count: an
// array's length, none for null, one otherwise.
func valuesCount(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case []any:
		return len(x)
	}
	return 1
}

// valueIsEmpty is the is_empty clause of a field condition on one value.
func valueIsEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	}
	return false
}

// valueIsNull is the is_null clause of a field condition on one value: null,
// or an array holding a null.
func valueIsNull(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return slices.Contains(x, nil)
	}
	return false
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

// compileMatch returns the check of a match clause against one value (the
// elements of an array are tried one by one by the caller). As in Qdrant,
// except matches any value of another type but never null.
func compileMatch(m *qdrant.Match) (func(any) bool, error) {
	switch x := m.GetMatchValue().(type) {
	case *qdrant.Match_Keyword:
		return func(v any) bool { s, ok := v.(string); return ok && s == x.Keyword }, nil
	case *qdrant.Match_Integer:
		return func(v any) bool { i, ok := v.(int64); return ok && i == x.Integer }, nil
	case *qdrant.Match_Boolean:
		return func(v any) bool { b, ok := v.(bool); return ok && b == x.Boolean }, nil
	case *qdrant.Match_Keywords:
		set := stringSet(x.Keywords.GetStrings())
		return func(v any) bool { s, ok := v.(string); _, in := set[s]; return ok && in }, nil
	case *qdrant.Match_Integers:
		set := intSet(x.Integers.GetIntegers())
		return func(v any) bool { i, ok := v.(int64); _, in := set[i]; return ok && in }, nil
	case *qdrant.Match_ExceptKeywords:
		set := stringSet(x.ExceptKeywords.GetStrings())
		return func(v any) bool {
			if s, ok := v.(string); ok {
				_, in := set[s]
				return !in
			}
			return v != nil
		}, nil
	case *qdrant.Match_ExceptIntegers:
		set := intSet(x.ExceptIntegers.GetIntegers())
		return func(v any) bool {
			if i, ok := v.(int64); ok {
				_, in := set[i]
				return !in
			}
			return v != nil
		}, nil
	case *qdrant.Match_Text:
		return func(v any) bool { s, ok := v.(string); return ok && strings.Contains(s, x.Text) }, nil
	case *qdrant.Match_Phrase:
		return func(v any) bool { s, ok := v.(string); return ok && strings.Contains(s, x.Phrase) }, nil
	case *qdrant.Match_TextAny:
		words := strings.Fields(x.TextAny)
		return func(v any) bool {
			s, ok := v.(string)
			return ok && slices.ContainsFunc(words, func(w string) bool { return strings.Contains(s, w) })
		}, nil
	default:
		return nil, fmt.Errorf("Malformed Match condition")
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

func flattenOne(v any) []any {
	if arr, ok := v.([]any); ok {
		return arr
	}
	return []any{v}
}

// flatten expands arrays one level, as the payload indexes do.
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

// isEmpty is the is_empty condition: every value at the key (there may be
// none) is null or an empty array. [null] is not empty.
func isEmpty(vals []any) bool {
	return !slices.ContainsFunc(vals, func(v any) bool { return !valueIsEmpty(v) })
}

// isNull is the is_null condition: some value at the key is null. A missing
// field is not null, and neither is an array holding a null (unlike the
// is_null clause of a field condition, which looks inside arrays).
func isNull(vals []any) bool {
	return slices.Contains(vals, nil)
}
