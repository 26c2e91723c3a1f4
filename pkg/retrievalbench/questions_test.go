package retrievalbench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQuestionsParse(t *testing.T) {
	t.Parallel()
	qs, err := loadQuestions(questionsJSON)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(qs), 60)
	docs := map[string]bool{}
	formats := map[string]bool{}
	for _, q := range qs {
		require.Equal(t, setQuestion, q.set)
		require.True(t, strings.HasSuffix(q.text, "?") || len(strings.Fields(q.text)) >= 4, "a question a user would ask: %q", q.text)
		for _, d := range q.want {
			docs[d] = true
			formats[filepath.Ext(d)] = true
		}
	}
	require.GreaterOrEqual(t, len(docs), 40, "spread over many documents")
	require.GreaterOrEqual(t, len(formats), 10, "and many formats")
}

func TestLoadQuestionsRefusesBadEntries(t *testing.T) {
	t.Parallel()
	_, err := loadQuestions([]byte(`[{"question": " ", "documents": ["a.txt"]},
		{"question": "Who?", "documents": []},
		{"question": "Why?", "documents": ["a.txt"]},
		{"question": "Why?", "documents": ["b.txt"]}]`))
	require.ErrorContains(t, err, "entry 0: no question")
	require.ErrorContains(t, err, `entry 1 ("Who?"): no documents`)
	require.ErrorContains(t, err, `entry 3: "Why?" appears twice`)
	_, err = loadQuestions([]byte(`{"question": "Why?"}`))
	require.Error(t, err)
}

// corpusDir is the shared corpus, or skips the test when it is absent outside CI.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := findCorpus(os.Getenv)
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("the shared corpus is missing (../shared/corpus beside the repository, or YW_TEST_CORPUS)")
		}
		t.Skip("the shared corpus is missing (../shared/corpus beside the repository, or YW_TEST_CORPUS)")
	}
	return dir
}

// TestQuestionsNameCorpusFiles checks that every listed document is a corpus
// file, and that no question copies six consecutive words of a document it
// names: the questions paraphrase, as a user would.
func TestQuestionsNameCorpusFiles(t *testing.T) {
	t.Parallel()
	dir := corpusDir(t)
	qs, err := loadQuestions(questionsJSON)
	require.NoError(t, err)
	texts := map[string]string{}
	for _, q := range qs {
		for _, name := range q.want {
			path := filepath.Join(dir, name)
			require.FileExists(t, path, "question %q names %s", q.text, name)
			if _, ok := texts[name]; !ok {
				s := source{name: name, path: path}
				require.NoError(t, readSource(context.Background(), &s, "")) // PDFs are not read: no pdftotext needed
				texts[name] = normalized(tokenize(s.text))
			}
			tokens := tokenize(q.text)
			for i := 0; i+6 <= len(tokens); i++ {
				run := normalized(tokens[i : i+6])
				require.NotContains(t, texts[name], run, "question %q copies %s", q.text, name)
			}
		}
	}
}
