package bm25

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// newEncoder returns an Encoder for p or fails the test.
func newEncoder(t testing.TB, p Params) *Encoder {
	t.Helper()
	e, err := New(p)
	require.NoError(t, err)
	return e
}

// tokenText is a token as tests write it.
type tokenText struct {
	Text string
	Kind kind
}

// tokens returns the tokens of text.
func tokens(text string) []tokenText {
	sc := newScratch()
	sc.analyze(text, newStopIndex())
	out := make([]tokenText, 0, len(sc.tokens))
	for _, t := range sc.tokens {
		out = append(out, tokenText{string(sc.span(t)), t.kind})
	}
	return out
}

// normalized returns the normalised, case-folded form of text.
func normalized(text string) string {
	sc := newScratch()
	sc.normalize(text)
	return string(sc.text)
}

// stemOf returns the stem of word in language lang ("en", "it", ...).
func stemOf(t testing.TB, lang, word string) string {
	t.Helper()
	i := languageIndex(lang)
	require.GreaterOrEqual(t, i, 0, lang)
	return string(stem(newScratch().env, i, []byte(word), nil))
}

// docTerms returns the terms of a document as strings, sorted, one per
// occurrence: what Document hashes.
func docTerms(e *Encoder, text string) []string {
	sc := newScratch()
	lang := docLanguage(e.analyze(sc, text))
	var out []string
	for _, t := range sc.tokens {
		switch {
		case t.kind != kindWord:
			out = append(out, string(sc.span(t)))
		case !t.stop.has(lang):
			s := string(stem(sc.env, lang, sc.span(t), nil))
			out = append(out, s)
			if x := exactTerm(string(sc.span(t))); x[1:] != s {
				out = append(out, x)
			}
		}
	}
	slices.Sort(out)
	return out
}

// exactTerm is the term of a word's exact form.
func exactTerm(word string) string {
	return string(appendUnaccented([]byte{exactMark}, word))
}

// stemsOnly drops the exact forms from terms: what the length counts.
func stemsOnly(terms []string) []string {
	var out []string
	for _, t := range terms {
		if !strings.HasPrefix(t, string(rune(exactMark))) {
			out = append(out, t)
		}
	}
	return out
}

// ids returns the sorted, distinct term ids of terms.
func ids(terms ...string) []uint32 {
	out := make([]uint32, 0, len(terms))
	for _, t := range terms {
		out = append(out, hash([]byte(t)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// requireWellFormed fails unless v is a valid Qdrant sparse vector.
func requireWellFormed(t testing.TB, v Vector) {
	t.Helper()
	require.Len(t, v.Values, len(v.Indices))
	for i, id := range v.Indices {
		if i > 0 {
			require.Greater(t, id, v.Indices[i-1], "indices must be strictly increasing")
		}
		w := float64(v.Values[i])
		require.False(t, w != w || w > 1e30, "value %v must be finite", w)
		require.Greater(t, w, 0.0)
	}
}
