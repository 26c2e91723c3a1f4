package chunk

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/parse"
)

// The packer prices a chunk from the prices of its atoms when whitespace joins them.
// Pieces of one word are joined without it, and their prices need not add up: "12"
// and "3" cost a token each, "123" one in all.
func TestSplitPricesPiecesJoinedWithoutSpace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		opts Options
	}{
		{"number cut before a mark", "123\u0301123\u0301", Options{TargetTokens: 2, OverlapTokens: 1}},
		// Full-width Latin letters are words of their own to the scanner, which may cut
		// between any two of them, but one word to counter.
		{"full-width letters", "ＡＢＡＢＡＢＡＢＡＢＡＢ", Options{TargetTokens: 2, OverlapTokens: -1}},
		{"full-width letters after overlap", "ＡＢＡＢＡＢＡＢＡＢＡＢ", Options{TargetTokens: 2, OverlapTokens: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := &parse.Document{Blocks: []parse.Block{para(tt.text, 1)}}
			chunks, repeat, err := split(doc, tt.opts)
			require.NoError(t, err)
			require.NotEmpty(t, chunks)
			for _, c := range chunks {
				require.Equal(t, CountTokens(c.Text), c.Tokens, "%q", c.Text)
			}
			checkChunks(t, doc, tt.opts, chunks, repeat)
		})
	}
}

// A table piece is priced from its header and rows, also when a row too long for a
// chunk is cut into fragments, each under the header.
func TestSplitPricesTablePieces(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a note that goes on and on, ", 40)
	rows := [][]string{{"Name", "Note"}, {"first", "short"}, {"second", long}, {"third", "short again"}}
	doc := &parse.Document{Blocks: []parse.Block{{Kind: parse.KindTable, Text: renderTable(rows), Rows: rows, Page: 1}}}
	opts := Options{TargetTokens: 40}
	chunks, repeat, err := split(doc, opts)
	require.NoError(t, err)
	require.Greater(t, len(chunks), 3)
	for _, c := range chunks {
		require.Equal(t, CountTokens(c.Text), c.Tokens, "%q", c.Text)
	}
	checkChunks(t, doc, opts, chunks, repeat)
}
