package chunk

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/parse"
)

// corpusDir finds the shared corpus of real documents: YW_TEST_CORPUS, else the
// corpus folder next to the repository. It skips the test when there is none, except
// under CI=true, where a missing corpus must fail rather than pass silently.
func corpusDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("YW_TEST_CORPUS"); dir != "" {
		return dir
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			corpus := filepath.Join(dir, "..", "shared", "corpus")
			if _, err := os.Stat(corpus); err == nil {
				return corpus
			}
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("test corpus not found: set YW_TEST_CORPUS")
	}
	t.Skip("test corpus not found; set YW_TEST_CORPUS to run")
	return ""
}

// TestSplitCorpus checks on real text that every word of the input comes out, in
// order, exactly once once overlaps are removed, within budget, whatever the size.
func TestSplitCorpus(t *testing.T) {
	t.Parallel()
	dir := corpusDir(t)
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
