package bm25

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

func TestTokenize(t *testing.T) {
	t.Parallel()
	w, n, c, g := kindWord, kindNumber, kindCode, kindWhole
	long := strings.Repeat("x", maxTermBytes+1)
	tests := []struct {
		name string
		text string
		want []tokenText
	}{
		{"hyphenated code, sentence-final dot", "See RFC-7231.", []tokenText{
			{"see", w}, {"rfc", w}, {"7231", n}, {"rfc-7231", g}}},
		{"version", "v1.17", []tokenText{{"v1", c}, {"17", n}, {"v1.17", g}}},
		{"underscore", "ACME_42", []tokenText{{"acme", w}, {"42", n}, {"acme_42", g}}},
		{"email", "user@example.com,", []tokenText{
			{"user", w}, {"example", w}, {"com", w}, {"user@example.com", g}}},
		{"ip address", "10.0.0.1", []tokenText{
			{"10", n}, {"0", n}, {"0", n}, {"1", n}, {"10.0.0.1", g}}},
		{"decimal", "pi is 3.14.", []tokenText{{"pi", w}, {"is", w}, {"3", n}, {"14", n}, {"3.14", g}}},
		{"path", "/etc/hosts", []tokenText{{"etc", w}, {"hosts", w}, {"etc/hosts", g}}},
		{"url scheme is cut at ://", "https://example.com/a", []tokenText{
			{"https", w}, {"example", w}, {"com", w}, {"a", w}, {"example.com/a", g}}},
		{"mixed letters and digits", "H2O costs 42", []tokenText{{"h2o", c}, {"costs", w}, {"42", n}}},
		{"double joiner breaks", "a--b", []tokenText{{"a", w}, {"b", w}}},
		{"leading and trailing joiners", "_x_ -y-", []tokenText{{"x", w}, {"y", w}}},
		{"french elision", "l'homme", []tokenText{{"l", w}, {"homme", w}}},
		{"italian elision, typographic apostrophe", "dell’arte", []tokenText{{"dell", w}, {"arte", w}}},
		{"english contraction", "don't", []tokenText{{"don", w}, {"t", w}}},
		{"comma in number", "1,000", []tokenText{{"1", n}, {"000", n}}},
		{"ideographs one by one", "中文字", []tokenText{{"中", w}, {"文", w}, {"字", w}}},
		{"soft hyphen removed", "soft\u00adware", []tokenText{{"software", w}}},
		{"zero width space breaks", "zero\u200bwidth", []tokenText{{"zero", w}, {"width", w}}},
		{"punctuation and emoji only", "... !!! 👍 — ?", nil},
		{"too long skipped", "ok " + long + " ok", []tokenText{{"ok", w}, {"ok", w}}},
		{"too long whole skipped, parts kept", "a-" + long[:40] + "-b" + long[:30], []tokenText{
			{"a", w}, {long[:40], w}, {"b" + long[:30], w}}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tokens(tt.text)
			if len(tt.want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, want string
	}{
		{"ascii", "Hello WORLD", "hello world"},
		{"german sharp s", "STRASSE Straße", "strasse strasse"},
		{"greek final sigma", "ΣΊΣΥΦΟΣ σίσυφος", "σίσυφοσ σίσυφοσ"},
		{"accents kept", "Città ÉTÉ", "città été"},
		{"decomposed accent composed", "e\u0301te\u0301", "été"},
		{"fullwidth", "ＡＢＣ１２３", "abc123"},
		{"ligature", "ﬁle", "file"},
		{"dotted capital i", "İstanbul", "i̇stanbul"},
		{"format characters dropped", "a\u200db\u00adc\u2060d\ufeff", "abcd"},
		{"invalid utf-8 replaced", "a\xffb", "a\ufffdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, normalized(tt.text))
		})
	}
}

// TestFoldLatin checks the fast path against the general one for every rune
// it accepts.
func TestFoldLatin(t *testing.T) {
	t.Parallel()
	fold := cases.Fold()
	taken := 0
	for r := rune(0); r < 0x300; r++ {
		src := norm.NFKC.String(string(r) + "A")
		got, ok := foldLatin(nil, []byte(src))
		if !ok {
			continue
		}
		taken++
		want := fold.String(src)
		want = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Cf, r) {
				return -1
			}
			return r
		}, want)
		require.Equal(t, want, string(got), "%U", r)
	}
	require.Greater(t, taken, 500)
}
