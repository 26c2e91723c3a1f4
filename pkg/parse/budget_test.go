package parse

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBudgetRetain(t *testing.T) {
	t.Parallel()
	b := newBudget(t.Context(), Limits{MaxRetainedBytes: 1000})
	require.NoError(t, b.retain(600, memTable))
	b.release(200)
	require.NoError(t, b.retain(600, memTable))
	require.Equal(t, int64(1000), b.held)
	require.Equal(t, int64(1000), b.peak)
	require.Nil(t, b.over)

	err := b.retain(1, memSharedStrings)
	require.Equal(t, CodeTooLarge, CodeOf(err))
	require.Equal(t, "too_large: the spreadsheet's shared strings exceed the parser's memory budget of 1000 bytes", err.Error())
	// The first failure is kept for parsers that read past errors.
	require.Equal(t, err, error(b.over))
	require.Error(t, b.retain(1, memTable))
	require.Equal(t, err, error(b.over))

	// Without a limit nothing fails, and working buffers keep their ceiling.
	free := newBudget(t.Context(), Limits{})
	require.NoError(t, free.retain(1<<40, memDocument))
	require.Equal(t, int64(16<<20), free.workingLimit(16<<20))
	require.Equal(t, int64(125), b.workingLimit(16<<20))
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{900: "900 bytes", 256 << 20: "256 MiB", 3 << 29: "1.5 GiB", 1536: "1.5 KiB"} {
		require.Equal(t, want, byteSize(n))
	}
}

// TestParseFailsWholeOverBudget checks that a document over the memory budget
// yields an error and no partial Document, whatever the format.
func TestParseFailsWholeOverBudget(t *testing.T) {
	t.Parallel()
	limits := DefaultLimits()
	limits.MaxRetainedBytes = 64 << 10
	cases := map[Format]string{
		FormatText:     strings.Repeat("a paragraph of some words\n\n", 10000),
		FormatCSV:      strings.Repeat("a,b,c\n", 20000),
		FormatHTML:     strings.Repeat("<p>some text</p>", 10000),
		FormatMarkdown: strings.Repeat("- an item\n", 10000),
	}
	for format, src := range cases {
		doc, err := Parse(t.Context(), format, strings.NewReader(src), int64(len(src)), limits)
		require.Nil(t, doc, "%s", format)
		require.Equal(t, CodeTooLarge, CodeOf(err), "%s: %v", format, err)
		require.Contains(t, err.Error(), "the parser's memory budget of 64 KiB")
	}
	data := seedXLSX(t)
	doc, err := Parse(t.Context(), FormatXLSX, strings.NewReader(string(data)), int64(len(data)), Limits{MaxRetainedBytes: 1 << 10})
	require.Nil(t, doc)
	require.Equal(t, CodeTooLarge, CodeOf(err))
}
