package qdrantlite

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// pathStep is one step of a payload key path after its first key: an object
// key (".b"), an array index ("[0]") or every array element ("[]").
type pathStep struct {
	key      string
	index    int
	wildcard bool
	isIndex  bool
}

// jsonPath is a parsed payload key such as `a.b[].c`, `a[0]` or `"a.b".c`,
// following Qdrant's JSON path grammar. Qdrant resolves a path strictly: a
// key step on an array, or an array step on anything but an array, yields
// nothing. So `a.b` does not look inside an array `a`; `a[].b` does.
type jsonPath struct {
	first string
	rest  []pathStep
}

// parsePath parses a key path. Raw keys are letters, digits, '_' and '-';
// any other key is written in double quotes.
func parsePath(s string) (jsonPath, error) {
	bad := func() (jsonPath, error) { return jsonPath{}, fmt.Errorf("invalid payload key %q", s) }
	first, rest, ok := pathKey(s)
	if !ok {
		return bad()
	}
	p := jsonPath{first: first}
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "[]"):
			p.rest = append(p.rest, pathStep{wildcard: true})
			rest = rest[2:]
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 2 {
				return bad()
			}
			digits := rest[1:end]
			if strings.TrimFunc(digits, func(r rune) bool { return r >= '0' && r <= '9' }) != "" {
				return bad()
			}
			n, err := strconv.Atoi(digits)
			if err != nil {
				return bad()
			}
			p.rest = append(p.rest, pathStep{index: n, isIndex: true})
			rest = rest[end+1:]
		case rest[0] == '.':
			var k string
			if k, rest, ok = pathKey(rest[1:]); !ok {
				return bad()
			}
			p.rest = append(p.rest, pathStep{key: k})
		default:
			return bad()
		}
	}
	return p, nil
}

// pathKey reads one raw or quoted key from the start of s.
func pathKey(s string) (key, rest string, ok bool) {
	if strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s[1:], `"\`)
		if end < 0 || s[1+end] != '"' {
			return "", "", false
		}
		return s[1 : 1+end], s[2+end:], true
	}
	n := strings.IndexFunc(s, func(r rune) bool { return !(unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' || r == '-') })
	if n < 0 {
		n = len(s)
	}
	if n == 0 {
		return "", "", false
	}
	return s[:n], s[n:], true
}

// arrayKey is the path a nested condition iterates: the path with "[]"
// appended unless it already ends with one. A nested filter therefore only
// ever looks at array elements, never at a single object.
func (p jsonPath) arrayKey() jsonPath {
	if n := len(p.rest); n > 0 && p.rest[n-1].wildcard {
		return p
	}
	rest := append(append([]pathStep(nil), p.rest...), pathStep{wildcard: true})
	return jsonPath{first: p.first, rest: rest}
}

// stripPrefix returns the remainder of p after prefix, as a path of its own,
// when p continues prefix with a key: "a[].b" less "a[]" is "b". Qdrant uses
// this to apply the indexes of "a[].b" inside a nested filter on "a".
func (p jsonPath) stripPrefix(prefix jsonPath) (jsonPath, bool) {
	if p.first != prefix.first || len(p.rest) <= len(prefix.rest) {
		return jsonPath{}, false
	}
	for i, st := range prefix.rest {
		if p.rest[i] != st {
			return jsonPath{}, false
		}
	}
	next := p.rest[len(prefix.rest)]
	if next.wildcard || next.isIndex {
		return jsonPath{}, false
	}
	return jsonPath{first: next.key, rest: p.rest[len(prefix.rest)+1:]}, true
}

// String formats the path back into Qdrant's syntax.
func (p jsonPath) String() string {
	var b strings.Builder
	writeKey := func(k string) {
		if _, rest, ok := pathKey(k); ok && rest == "" {
			b.WriteString(k)
		} else {
			b.WriteString(strconv.Quote(k))
		}
	}
	writeKey(p.first)
	for _, st := range p.rest {
		switch {
		case st.wildcard:
			b.WriteString("[]")
		case st.isIndex:
			fmt.Fprintf(&b, "[%d]", st.index)
		default:
			b.WriteByte('.')
			writeKey(st.key)
		}
	}
	return b.String()
}

// get returns the values at the path. The values themselves are not
// flattened: an array found at the end of the path is one value, so that
// is_empty, is_null and values_count can see it whole.
func (p jsonPath) get(m map[string]any) []any {
	v, ok := m[p.first]
	if !ok {
		return nil
	}
	if len(p.rest) == 0 {
		return []any{v}
	}
	var out []any
	getSteps(p.rest, v, &out)
	return out
}

func getSteps(steps []pathStep, v any, out *[]any) {
	if len(steps) == 0 {
		*out = append(*out, v)
		return
	}
	st := steps[0]
	switch {
	case st.wildcard:
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				getSteps(steps[1:], e, out)
			}
		}
	case st.isIndex:
		if arr, ok := v.([]any); ok && st.index < len(arr) {
			getSteps(steps[1:], arr[st.index], out)
		}
	default:
		if obj, ok := v.(map[string]any); ok {
			if e, ok := obj[st.key]; ok {
				getSteps(steps[1:], e, out)
			}
		}
	}
}

// parsedPaths caches parsed index keys: lookup runs for every indexed field
// of every written point.
var parsedPaths sync.Map

// lookup returns the values at a key path (see jsonPath.get); an invalid
// path has no values.
func lookup(p map[string]any, key string) []any {
	if p == nil {
		return nil
	}
	if !strings.ContainsAny(key, `.["`) {
		v, ok := p[key]
		if !ok {
			return nil
		}
		return []any{v}
	}
	if cached, ok := parsedPaths.Load(key); ok {
		return cached.(jsonPath).get(p)
	}
	path, err := parsePath(key)
	if err != nil {
		return nil
	}
	parsedPaths.Store(key, path)
	return path.get(p)
}
