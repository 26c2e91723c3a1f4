package agent_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/chunk"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
)

// trimSink records context.trimmed besides every other event.
type trimSink struct {
	recordingSink
	trims []agent.ContextTrimmedEvent
}

func (s *trimSink) ContextTrimmed(ev agent.ContextTrimmedEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trims = append(s.trims, ev)
	return nil
}

// longHistory is n earlier questions and answers of about 45 tokens each.
func longHistory(n int) []llm.Message {
	var history []llm.Message
	for i := range n {
		history = append(history,
			llm.Message{Role: llm.RoleUser, Content: fmt.Sprintf("question %d %s", i, strings.Repeat("lorem ipsum dolor ", 10))},
			llm.Message{Role: llm.RoleAssistant, Content: fmt.Sprintf("answer %d %s", i, strings.Repeat("sit amet consectetur ", 10))})
	}
	return history
}

// promptTokens estimates a request's prompt as the agent counts it.
func promptTokens(req api.ChatRequest) int {
	n := 0
	for _, m := range req.Messages {
		n += 4 + chunk.CountTokens(m.Content)
	}
	for _, tl := range req.Tools {
		n += 4 + chunk.CountTokens(tl.Function.Name) + chunk.CountTokens(tl.Function.Description) + chunk.CountTokens(fmt.Sprint(tl.Function.Parameters))
	}
	return n
}

func TestRunFitsTheModelsOwnContextWindow(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.SetContextLength(llmtest.ChatModel, 2048)
	model := newOllama(t, srv.URL)
	r := newRunner(t, model, agent.Toolset{}, agent.Config{}) // up to 8192 tokens, but the model has 2048
	history := longHistory(80)
	sink := &trimSink{}

	_, err := r.Run(ctxTimeout(t), agent.Input{History: history, UserMessage: "the new question"}, sink)
	require.NoError(t, err)
	req := srv.ChatRequests()[0]
	require.EqualValues(t, 2048, req.Options["num_ctx"], "the model server is asked for the model's own window")
	require.LessOrEqual(t, promptTokens(req), 2048-512, "the prompt leaves a quarter of the window for the answer")
	kept := req.Messages[1 : len(req.Messages)-1]
	require.NotEmpty(t, kept)
	require.Equal(t, history[len(history)-1].Content, kept[len(kept)-1].Content, "the newest turns are kept")
	require.Len(t, sink.trims, 1, "said once")
	require.Equal(t, agent.ContextTrimmedEvent{DroppedTurns: 80 - len(kept)/2, ContextWindow: 2048}, sink.trims[0])

	// A window the model's metadata does not state is the configured one; so is a
	// larger one, since the configured window is what the server allocates.
	for _, n := range []int{0, 131072} {
		srv.SetContextLength("other-model", n)
		srv.AddModel("other-model")
		sink := &trimSink{}
		_, err := newRunner(t, newOllama(t, srv.URL), agent.Toolset{}, agent.Config{ContextTokens: 4096}).
			Run(ctxTimeout(t), agent.Input{History: history, UserMessage: "again", Model: "other-model"}, sink)
		require.NoError(t, err)
		reqs := srv.ChatRequests()
		require.EqualValues(t, 4096, reqs[len(reqs)-1].Options["num_ctx"])
		require.Equal(t, 4096, sink.trims[0].ContextWindow)
	}
	// A short chat needs nothing left out, and nothing is said.
	sink = &trimSink{}
	_, err = r.Run(ctxTimeout(t), agent.Input{History: history[:4], UserMessage: "short"}, sink)
	require.NoError(t, err)
	require.Empty(t, sink.trims)
}

// bigPassages are n passages of about 200 tokens each, best first.
func bigPassages(n int) []agent.Passage {
	var out []agent.Passage
	for i := range n {
		out = append(out, agent.Passage{DocumentID: fmt.Sprintf("doc-%d", i), Filename: fmt.Sprintf("report-%d.pdf", i), ChunkIndex: 0,
			Score: 1 - float32(i)/100, Text: fmt.Sprintf("Finding %d: %s end of finding %d.", i, strings.Repeat("the quarterly numbers grew ", 40), i)})
	}
	return out
}

func TestRunLeavesOutTheOldestTurnsThenTheLowestRankedPassages(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: agent.SearchToolName, Arguments: map[string]any{"query": "numbers", "limit": 12}}}},
		llmtest.Text("They grew [1]."),
	)
	search := &fakeSearcher{Default: bigPassages(12)}
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Searcher: search}, agent.Config{ContextTokens: 2048, AnswerReserve: 256})
	sink := &trimSink{}
	history := longHistory(3)

	out, err := r.Run(ctxTimeout(t), agent.Input{Principal: alice, History: history, UserMessage: "how did the numbers do?", ToolsEnabled: true}, sink)
	require.NoError(t, err)
	require.Equal(t, "They grew [1].", out.Answer)
	reqs := srv.ChatRequests()
	require.Len(t, reqs, 2)
	// The first call had room for the history; the second, with the passages, did not.
	require.Len(t, reqs[0].Messages, 1+len(history)+1)
	second := reqs[1]
	require.Equal(t, "system", second.Messages[0].Role)
	require.Equal(t, "how did the numbers do?", second.Messages[1].Content, "every earlier turn went before any passage")
	require.LessOrEqual(t, promptTokens(second), 2048-256)
	result := toolMessages(second)[0].Content
	lines := strings.Split(result, "\n\n")
	require.Greater(t, len(lines), 2, "some passages fit")
	require.Less(t, len(lines), 12, "not all of them")
	for i, line := range lines {
		require.True(t, strings.HasPrefix(line, fmt.Sprintf("[%d] report-%d.pdf: Finding %d:", i+1, i, i)), "the best passages, in order: %s", line)
		require.True(t, strings.HasSuffix(line, fmt.Sprintf("end of finding %d.", i)), "each one whole: %s", line)
	}
	require.NotContains(t, result, "truncated")
	require.Equal(t, []agent.ContextTrimmedEvent{
		{DroppedTurns: 3, DroppedPassages: 12 - len(lines), ContextWindow: 2048},
	}, sink.trims, "said once the passages came, with everything left out so far")
	kinds := sink.kinds()
	require.Equal(t, []string{"tool.started", "tool.finished", "token"}, kinds, "context.trimmed goes to the sink's own method")
}

func TestRunLeavesOutOtherToolResultsLast(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "echo", Arguments: map[string]any{"x": "a"}}, {Name: "echo", Arguments: map[string]any{"x": "b"}},
			{Name: "echo", Arguments: map[string]any{"x": "c"}}, {Name: "echo", Arguments: map[string]any{"x": "d"}}, {Name: "echo", Arguments: map[string]any{"x": "e"}}}},
		llmtest.Text("Done."),
	)
	big := funcTool{name: "echo", fn: func(context.Context, agent.Call) (agent.Result, error) {
		return agent.Result{Text: strings.Repeat("result words here ", 400)}, nil
	}}
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Tools: []agent.Tool{big}}, agent.Config{ContextTokens: 2048, AnswerReserve: 256})
	sink := &trimSink{}
	_, err := r.Run(ctxTimeout(t), agent.Input{Principal: alice, UserMessage: "echo five times", ToolsEnabled: true}, sink)
	require.NoError(t, err)
	second := srv.ChatRequests()[1]
	require.LessOrEqual(t, promptTokens(second), 2048-256)
	results := toolMessages(second)
	require.Len(t, results, 5, "every call keeps its result message")
	require.Equal(t, "[This result was left out to fit the model's context window.]", results[0].Content, "the oldest went")
	require.Contains(t, results[4].Content, "result words here", "the newest stayed")
	require.Len(t, sink.trims, 1)
	require.Positive(t, sink.trims[0].DroppedResults)
}

func TestRunRefusesAMessageLongerThanTheWindow(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.SetContextLength(llmtest.ChatModel, 2048)
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{}, agent.Config{})
	_, err := r.Run(ctxTimeout(t), agent.Input{History: longHistory(3), UserMessage: strings.Repeat("far too long ", 1200)}, nil)
	ce, ok := errors.AsType[*agent.ContextExceededError](err)
	require.True(t, ok, "got %v", err)
	require.Equal(t, 2048, ce.Window)
	require.Greater(t, ce.Needed, 2048)
	require.Contains(t, ce.Error(), "context window of 2048 tokens")
	require.Zero(t, srv.Count("/api/chat"), "nothing is sent for the model to cut silently")
}

func TestRunSearchesWithinTheTurnsScope(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: agent.SearchToolName, Arguments: map[string]any{"query": "vacation"}}}},
		llmtest.Text("30 days [1]."),
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: agent.SearchToolName, Arguments: map[string]any{"query": "vacation"}}}},
		llmtest.Text("30 days [1]."),
	)
	search := &fakeSearcher{Default: vacationPassages()}
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Searcher: search}, agent.Config{})
	scope := access.DocumentScope{DocumentIDs: []string{"doc-hr"}, GroupIDs: []string{"g1"}}
	_, err := r.Run(ctxTimeout(t), agent.Input{Principal: alice, UserMessage: "vacation?", ToolsEnabled: true, Scope: scope}, nil)
	require.NoError(t, err)
	_, err = r.Run(ctxTimeout(t), agent.Input{Principal: alice, UserMessage: "vacation?", ToolsEnabled: true}, nil)
	require.NoError(t, err)
	require.Equal(t, []access.DocumentScope{scope, {}}, search.scopes, "the scope goes with the search, and only that turn's")
	require.Equal(t, alice.UserID, search.who[0].UserID, "besides the user's own access")
	reqs := srv.ChatRequests()
	require.Contains(t, reqs[0].Tools[0].Function.Description, "the user chose for this conversation", "the model knows why it finds so little")
	require.Contains(t, reqs[2].Tools[0].Function.Description, "the user may see")
}
