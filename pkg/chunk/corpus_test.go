package chunk

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/youworker/youworker/pkg/corpustest"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/parse"
)

// TestSplitCorpus checks on real text that every word of the input comes out, in
// order, exactly once once overlaps are removed, within budget, whatever the size.
func TestSplitCorpus(t *testing.T) {
	t.Parallel()
	dir := corpustest.Dir(t)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	tested := 0
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".txt" && ext != ".md" && ext != ".csv" && ext != ".tsv") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		if !utf8.Valid(data) {
			continue // other encodings are the parser's business
		}
		tested++
		text := string(data)
		docs := map[string]*parse.Document{
			"structured": docFromText(text),
			"one block":  {Blocks: []parse.Block{para(text, 1)}},
		}
		for name, doc := range docs {
			for _, opts := range []Options{{}, {TargetTokens: 64, OverlapTokens: 16}, {TargetTokens: 200, OverlapTokens: -1}} {
				chunks, repeat, err := split(doc, opts)
				require.NoError(t, err)
				checkChunks(t, doc, opts, chunks, repeat)
				sp := newSplitter(opts)
				requireSameWords(t, words(bodyText(doc)), words(newText(chunks, repeat)), sp.target-sp.overlap,
					fmt.Sprintf("%s (%s, %+v)", e.Name(), name, opts))
			}
		}
	}
	require.Positive(t, tested, "no UTF-8 text files in %s", dir)
}
