package pdf

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLexerObjects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src  string
		want any
	}{
		{"42", int64(42)},
		{"-3.5", -3.5},
		{"--5", 5.0}, // malformed numbers are read leniently: signs cancel out
		{"0.0.1", 0.01},
		{"true", true},
		{"null", nil},
		{"/A#20Name", name("A Name")},
		{`(a \(nested\) (pair) \101\n\
end)`, str("a (nested) (pair) A\nend")},
		{"<48 65 6C 6c 6F 7>", str("Hellop")},
		{"[1 0 R 2 (x)]", array{ref{num: 1}, int64(2), str("x")}},
		{"<< /Length 5 0 R /Kids [3 0 R] /Key >>", dict{"Length": ref{num: 5}, "Kids": array{ref{num: 3}}}},
		{"<< /A 1 endobj", dict{"A": int64(1)}},
		{"Tj", keyword("Tj")},
	}
	for _, tc := range cases {
		got, err := (&lexer{data: []byte(tc.src)}).object(0)
		require.NoError(t, err, tc.src)
		require.Equal(t, tc.want, got, tc.src)
	}
}

func TestLexerBounds(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	_, err := (&lexer{data: []byte(deep)}).object(0)
	require.ErrorIs(t, err, errSyntax, "nesting is bounded")

	// Parsed arrays take many times their source: the lexer's limit counts it.
	wide := "[" + strings.Repeat("1 ", 10_000) + "]"
	_, err = (&lexer{data: []byte(wide), limit: 64 << 10}).object(0)
	require.ErrorIs(t, err, errTooBig)
	_, err = (&lexer{data: []byte(wide), limit: 1 << 20}).object(0)
	require.NoError(t, err)
}

// FuzzExtract: no input makes the reader panic, loop or pass its budget.
func FuzzExtract(f *testing.F) {
	page, _ := pdfFile(onePage("BT /F1 12 Tf 72 700 Td (Hello) Tj [(a) -300 (b)] TJ 12 TL (c) ' 1 2 (d) \" ET"), "")
	f.Add(page)
	f.Add(xrefStreamFile(f, ""))
	f.Add([]byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Kids[3 0 R]>>endobj 3 0 obj<</Type/Page/Contents 4 0 R>>endobj"))
	f.Fuzz(func(t *testing.T, data []byte) {
		budget := &testBudget{limit: 16 << 20}
		_, _ = Extract(context.Background(), bytes.NewReader(data), int64(len(data)), budget, Limits{MaxInflatedBytes: 16 << 20, MaxPages: 100})
	})
}
