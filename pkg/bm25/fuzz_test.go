package bm25

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func FuzzDocument(f *testing.F) {
	for _, seed := range []string{
		"",
		"The contracts were running.",
		"See RFC-7231, v1.17, ACME_42, user@example.com, 10.0.0.1 and 3.14.",
		"l'homme dell’arte don't Straße ΣΊΣΥΦΟΣ 中文字 Kündigungsfrist",
		"soft\u00adware zero\u200bwidth e\u0301te\u0301 ＡＢＣ ﬁle İstanbul ǰ",
		"a--b _x_ -y- https://example.com/a/b?x=1 1,000 ..::@@//",
		"\xff\xfe invalid \xc3\x28 utf-8",
		"a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a",
	} {
		f.Add(seed)
	}
	e, err := New(Params{})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, text string) {
		v, n := e.Document(text)
		requireWellFormed(t, v)
		require.Equal(t, n, e.Length(text))
		require.LessOrEqual(t, len(v.Indices), 2*n, "a stem and at most one exact form per term")
		// Every term takes at least one letter or digit of the text.
		require.LessOrEqual(t, n, 2*utf8.RuneCountInString(text))

		q := e.Query(text)
		requireWellFormed(t, q)
		for _, w := range q.Values {
			require.LessOrEqual(t, w, float32(1))
		}

		m := e.Matcher(text)
		require.LessOrEqual(t, m.Count(text), m.Len())
	})
}
