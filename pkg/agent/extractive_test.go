package agent_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
)

func TestExtractiveAnswersWithCitedPassages(t *testing.T) {
	t.Parallel()
	for _, toolsEnabled := range []bool{true, false} {
		search := &fakeSearcher{Default: vacationPassages()}
		r := newRunner(t, agent.Extractive{MaxPassages: 2},
			agent.Toolset{Searcher: search, Tools: []agent.Tool{agent.CurrentTime{}}}, agent.Config{})
		sink := &recordingSink{}

		out, err := r.Run(ctxTimeout(t), agent.Input{Principal: alice, UserMessage: "How many vacation days do I get?", ToolsEnabled: toolsEnabled}, sink)
		require.NoError(t, err)
		// It searched with the user's message, tools enabled or not.
		require.Equal(t, []string{"How many vacation days do I get?"}, search.Queries())
		require.Len(t, out.ToolRuns, 1)
		require.Equal(t, agent.SearchToolName, out.ToolRuns[0].Name)

		lines := strings.Split(out.Answer, "\n")
		require.Contains(t, lines[0], "No language model is configured")
		require.Contains(t, out.Answer, "- Employees receive 30 days of paid vacation per year. Unused days expire in March. (handbook.pdf, page 12) [1]")
		require.Contains(t, out.Answer, "[2]")
		require.NotContains(t, out.Answer, "[3]", "only the best MaxPassages are quoted")
		require.Equal(t, []agent.Citation{
			{Index: 1, DocumentID: "doc-hr", Filename: "handbook.pdf", ChunkIndex: 4, Score: 0.91},
			{Index: 2, DocumentID: "doc-hr", Filename: "handbook.pdf", ChunkIndex: 5, Score: 0.72},
		}, out.Citations)
		require.Equal(t, llm.Usage{}, out.Usage)
		// Streamed in small pieces that add up to the answer.
		require.Equal(t, out.Answer, sink.text("token"))
		require.Greater(t, len(sink.all()), 10)
	}
}

func TestExtractiveNoPassages(t *testing.T) {
	t.Parallel()
	r := newRunner(t, agent.Extractive{}, agent.Toolset{Searcher: &fakeSearcher{}}, agent.Config{})
	out, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "Anything about unicorns?", ToolsEnabled: true}, nil)
	require.NoError(t, err)
	require.Contains(t, out.Answer, "No language model is configured")
	require.Contains(t, out.Answer, "found no passages")
	require.Empty(t, out.Citations)
}

func TestExtractiveSearchFailsOrMissing(t *testing.T) {
	t.Parallel()
	r := newRunner(t, agent.Extractive{}, agent.Toolset{Searcher: &fakeSearcher{Err: errBoom}}, agent.Config{})
	out, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "q", ToolsEnabled: true}, nil)
	require.NoError(t, err)
	require.Contains(t, out.Answer, "searching your documents failed")
	require.Equal(t, agent.StatusError, out.ToolRuns[0].Status)

	r = newRunner(t, agent.Extractive{}, agent.Toolset{}, agent.Config{})
	out, err = r.Run(ctxTimeout(t), agent.Input{UserMessage: "q", ToolsEnabled: true}, nil)
	require.NoError(t, err)
	require.Contains(t, out.Answer, "document search is not available")
	require.Empty(t, out.ToolRuns)
}

func TestExtractiveTrimsLongPassages(t *testing.T) {
	t.Parallel()
	long := agent.Passage{DocumentID: "d", Filename: "policy.docx", ChunkIndex: 1, Score: 0.9,
		Text: "Intro sentence about nothing in particular that is quite long, longer than a hundred and twenty characters for sure, yes. " +
			"The travel budget is 500 euros per trip. Other rules follow here. " + strings.Repeat("Filler text. ", 50)}
	r := newRunner(t, agent.Extractive{}, agent.Toolset{Searcher: &fakeSearcher{Default: []agent.Passage{long}}}, agent.Config{})
	out, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "what is the travel budget per trip", ToolsEnabled: true}, nil)
	require.NoError(t, err)
	require.Contains(t, out.Answer, "- The travel budget is 500 euros per trip. Other rules follow here. (policy.docx) [1]")
	require.NotContains(t, out.Answer, "Filler")
}

// A model that is down (or not installed) at a turn's first call degrades the
// turn to an extractive answer that says so; without ExtractiveFallback the turn
// fails as before, and a model that answers is used as always.
func TestModelDownFallsBackToExtractive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
	}{{"unavailable", http.StatusServiceUnavailable}, {"model missing", http.StatusNotFound}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t)
			srv.FailNext("/api/chat", 100, tc.status)
			search := &fakeSearcher{Default: vacationPassages()}
			tools := agent.Toolset{Searcher: search}
			sink := &recordingSink{}
			r := newRunner(t, newOllama(t, srv.URL), tools, agent.Config{ExtractiveFallback: true})
			out, err := r.Run(ctxTimeout(t), agent.Input{Principal: alice, UserMessage: "How many vacation days do I get?", ToolsEnabled: true}, sink)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(out.Answer, "The language model is not available right now, so here are"), out.Answer)
			require.NotEmpty(t, out.Citations)
			require.Equal(t, out.Answer, sink.text("token"), "only the extractive answer was streamed")

			strict := newRunner(t, newOllama(t, srv.URL), tools, agent.Config{})
			_, err = strict.Run(ctxTimeout(t), agent.Input{Principal: alice, UserMessage: "again?", ToolsEnabled: true}, &recordingSink{})
			require.Error(t, err)
		})
	}
}
