package agent_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
)

func TestRunPlainAnswer(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Script{Tokens: []string{"Hello", ", ", "Alice."}, Usage: llmtest.Usage{PromptTokens: 42, CompletionTokens: 3}})
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Tools: []agent.Tool{agent.CurrentTime{}}}, agent.Config{})
	sink := &recordingSink{}

	out, err := r.Run(ctxTimeout(t), agent.Input{Principal: alice, UserMessage: "Hi!", ToolsEnabled: true}, sink)
	require.NoError(t, err)
	require.Equal(t, "Hello, Alice.", out.Answer)
	require.Equal(t, out.Answer, sink.text("token"))
	require.Equal(t, llm.Usage{PromptTokens: 42, CompletionTokens: 3}, out.Usage)
	require.Empty(t, out.ToolRuns)
	require.Empty(t, out.Citations)

	reqs := srv.ChatRequests()
	require.Len(t, reqs, 1)
	msgs := reqs[0].Messages
	require.Equal(t, "system", msgs[0].Role)
	require.Equal(t, agent.DefaultSystemPrompt, msgs[0].Content)
	require.Equal(t, api.Message{Role: "user", Content: "Hi!"}, msgs[len(msgs)-1])
	require.Equal(t, []string{"current_time"}, toolNames(reqs[0]))
}

func TestRunToolsDisabledOffersNone(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	r := newRunner(t, newOllama(t, srv.URL),
		agent.Toolset{Searcher: &fakeSearcher{}, Tools: []agent.Tool{agent.CurrentTime{}}}, agent.Config{})
	_, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "Hi", ToolsEnabled: false}, nil)
	require.NoError(t, err)
	require.Empty(t, srv.ChatRequests()[0].Tools)
}

func TestRunOneToolCall(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "convert_units", Arguments: map[string]any{"value": 5, "from": "km", "to": "m"}}}},
		llmtest.Text("Five kilometres are 5000 metres."),
	)
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Tools: []agent.Tool{agent.ConvertUnits{}}}, agent.Config{})
	sink := &recordingSink{}

	out, err := r.Run(ctxTimeout(t), agent.Input{Principal: alice, UserMessage: "5 km in m?", ToolsEnabled: true}, sink)
	require.NoError(t, err)
	require.Equal(t, "Five kilometres are 5000 metres.", out.Answer)
	require.Equal(t, []string{"tool.started", "tool.finished", "token"}, sink.kinds())
	require.Len(t, out.ToolRuns, 1)
	run := out.ToolRuns[0]
	require.Equal(t, "convert_units", run.Name)
	require.Equal(t, agent.StatusOK, run.Status)
	require.Equal(t, "5 km = 5000 m", run.Preview)
	require.JSONEq(t, `{"value":5,"from":"km","to":"m"}`, string(run.Args))
	require.Equal(t, 2, out.Steps)

	reqs := srv.ChatRequests()
	require.Len(t, reqs, 2)
	second := reqs[1].Messages
	// system, user, assistant with the call, tool result
	require.Len(t, second, 4)
	require.Equal(t, "assistant", second[2].Role)
	require.Len(t, second[2].ToolCalls, 1)
	require.Equal(t, run.CallID, second[2].ToolCalls[0].ID)
	require.Equal(t, api.Message{Role: "tool", Content: "5 km = 5000 m", ToolName: "convert_units", ToolCallID: run.CallID}, second[3])
}

func TestRunParallelToolCallsKeepCallOrder(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{
			{Name: "slow", Arguments: map[string]any{"x": "1"}},
			{Name: "fast", Arguments: map[string]any{"x": "2"}},
		}},
		llmtest.Text("Done."),
	)
	sink := &recordingSink{}
	// slow finishes only once fast's tool.finished went out, which can only
	// happen when the two run at the same time; run one after the other, slow
	// would time out. Waiting for the event, not for fast's return, keeps the
	// order certain: fast still records its metrics and span after returning.
	slow := funcTool{name: "slow", fn: func(ctx context.Context, _ agent.Call) (agent.Result, error) {
		for {
			for _, e := range sink.all() {
				if e.Kind == "tool.finished" && e.Name == "fast" {
					return agent.Result{Text: "slow result"}, nil
				}
			}
			select {
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
				return agent.Result{}, ctx.Err()
			}
		}
	}}
	fast := funcTool{name: "fast", fn: func(context.Context, agent.Call) (agent.Result, error) {
		return agent.Result{Text: "fast result"}, nil
	}}
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Tools: []agent.Tool{slow, fast}}, agent.Config{})

	out, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "go", ToolsEnabled: true}, sink)
	require.NoError(t, err)
	require.Equal(t, "Done.", out.Answer)

	// Results go back to the model in the order of the calls...
	tm := toolMessages(srv.ChatRequests()[1])
	require.Len(t, tm, 2)
	require.Equal(t, "slow result", tm[0].Content)
	require.Equal(t, "fast result", tm[1].Content)
	require.Equal(t, []string{"slow", "fast"}, []string{out.ToolRuns[0].Name, out.ToolRuns[1].Name})
	// ...while tool.finished events come as the calls complete.
	var finished []string
	for _, e := range sink.all() {
		if e.Kind == "tool.finished" {
			finished = append(finished, e.Name)
		}
	}
	require.Equal(t, []string{"fast", "slow"}, finished)
	require.Equal(t, []string{"tool.started", "tool.started", "tool.finished", "tool.finished", "token"}, sink.kinds())
}

// A tool's own account of a failure (a ToolError) goes to the model and the
// user's preview as is; an internal error's text stays in the log, and both are
// told only that the tool failed.
func TestRunToolErrorGoesToModel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, said string
		err        error
	}{
		{"own account", "backend said no: boom", &agent.ToolError{Message: "backend said no: boom"}},
		{"internal", "the tool broken failed (the details are in the server log)",
			fmt.Errorf("dial tcp 10.1.2.3:5432: %w", errBoom)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t)
			srv.Reply(
				llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "broken", Arguments: map[string]any{}}}},
				llmtest.Text("The tool failed, sorry."),
			)
			broken := funcTool{name: "broken", fn: func(context.Context, agent.Call) (agent.Result, error) {
				return agent.Result{}, tc.err
			}}
			r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Tools: []agent.Tool{broken}}, agent.Config{})
			sink := &recordingSink{}

			out, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "try", ToolsEnabled: true}, sink)
			require.NoError(t, err)
			require.Equal(t, "The tool failed, sorry.", out.Answer)
			require.Equal(t, agent.StatusError, out.ToolRuns[0].Status)
			require.Equal(t, tc.said, out.ToolRuns[0].Error)
			tm := toolMessages(srv.ChatRequests()[1])
			require.Equal(t, "Error: "+tc.said, tm[0].Content)
			for _, e := range sink.all() {
				if e.Kind == "tool.finished" {
					require.Equal(t, agent.StatusError, e.Status)
					require.Equal(t, tc.said, e.Preview)
					require.NotContains(t, e.Preview, "10.1.2.3")
				}
			}
		})
	}
}

func TestRunInvalidArgumentsGoToModel(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{
			{Name: "convert_units", Arguments: map[string]any{"value": "five", "from": "km"}},
			{Name: "no_such_tool", Arguments: map[string]any{}},
		}},
		llmtest.Text("I could not convert that."),
	)
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Tools: []agent.Tool{agent.ConvertUnits{}}}, agent.Config{})

	out, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "convert", ToolsEnabled: true}, nil)
	require.NoError(t, err)
	require.Equal(t, "I could not convert that.", out.Answer)
	tm := toolMessages(srv.ChatRequests()[1])
	require.Len(t, tm, 2)
	require.Contains(t, tm[0].Content, `Error: invalid arguments for tool "convert_units"`)
	require.Contains(t, tm[0].Content, "to") // the missing required property is named
	require.Contains(t, tm[1].Content, `unknown tool "no_such_tool"`)
	require.Contains(t, tm[1].Content, "convert_units")
	require.Equal(t, agent.StatusError, out.ToolRuns[0].Status)
	require.Equal(t, agent.StatusError, out.ToolRuns[1].Status)
}

func TestRunStepCap(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	// The model keeps asking for the time as long as it may call tools.
	srv.Handle(func(req api.ChatRequest) llmtest.Script {
		if len(req.Tools) > 0 {
			return llmtest.Script{Tokens: []string{"Checking."}, ToolCalls: []llmtest.ToolCall{{Name: "current_time", Arguments: map[string]any{}}}}
		}
		return llmtest.Text("It is late.")
	})
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Tools: []agent.Tool{agent.CurrentTime{}}}, agent.Config{MaxSteps: 2})
	sink := &recordingSink{}

	out, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "time?", ToolsEnabled: true}, sink)
	require.NoError(t, err)
	require.True(t, out.StepLimitReached)
	require.Equal(t, 3, out.Steps)
	require.Len(t, out.ToolRuns, 2)
	require.NotEqual(t, out.ToolRuns[0].CallID, out.ToolRuns[1].CallID)
	require.Equal(t, "Checking.\n\nChecking.\n\nIt is late.\n\n"+agent.StepLimitNote, out.Answer)
	require.Equal(t, out.Answer, sink.text("token"))

	reqs := srv.ChatRequests()
	require.Len(t, reqs, 3)
	require.NotEmpty(t, reqs[0].Tools)
	require.NotEmpty(t, reqs[1].Tools)
	require.Empty(t, reqs[2].Tools, "the last call offers no tools")
	last := reqs[2].Messages[len(reqs[2].Messages)-1]
	require.Equal(t, "system", last.Role)
	require.Contains(t, last.Content, "step limit")
}

func TestRunStreamsThinking(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Script{Thinking: []string{"The user ", "greets me."}, Tokens: []string{"Hi!"}})
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{}, agent.Config{Think: true})
	sink := &recordingSink{}

	out, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "Hello"}, sink)
	require.NoError(t, err)
	require.Equal(t, "Hi!", out.Answer)
	require.Equal(t, "The user greets me.", sink.text("thinking"))
	require.Equal(t, []string{"thinking", "thinking", "token"}, sink.kinds())
	require.NotNil(t, srv.ChatRequests()[0].Think)
}

func TestRunModelNotFound(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{}, agent.Config{})
	_, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "Hi", Model: "no-such-model"}, nil)
	require.ErrorIs(t, err, llm.ErrModelNotFound)
}

func TestRunOllamaDown(t *testing.T) {
	t.Parallel()
	r := newRunner(t, newOllama(t, llmtest.DeadURL(t)), agent.Toolset{}, agent.Config{})
	_, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "Hi"}, nil)
	require.ErrorIs(t, err, llm.ErrUnavailable)
}

func TestRunCancelledKeepsPartialAnswer(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Script{Tokens: []string{"Partial", " answer"}, Stall: true})
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{}, agent.Config{})
	ctx, cancel := context.WithCancel(ctxTimeout(t))
	defer cancel()
	sink := &recordingSink{onToken: func(s string) {
		if s == " answer" {
			cancel()
		}
	}}

	out, err := r.Run(ctx, agent.Input{UserMessage: "Tell me"}, sink)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, "Partial answer", out.Answer)
}

func TestRunTrimsHistoryToBudget(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	var history []llm.Message
	for i := range 40 {
		history = append(history,
			llm.Message{Role: llm.RoleUser, Content: fmt.Sprintf("question %d %s", i, strings.Repeat("lorem ipsum dolor ", 10))},
			llm.Message{Role: llm.RoleAssistant, Content: fmt.Sprintf("answer %d %s", i, strings.Repeat("sit amet consectetur ", 10))},
		)
	}
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{}, agent.Config{ContextTokens: 1200, AnswerReserve: 200})

	_, err := r.Run(ctxTimeout(t), agent.Input{History: history, UserMessage: "the new question"}, nil)
	require.NoError(t, err)
	msgs := srv.ChatRequests()[0].Messages
	require.Equal(t, "system", msgs[0].Role)
	require.Equal(t, agent.DefaultSystemPrompt, msgs[0].Content)
	require.Equal(t, api.Message{Role: "user", Content: "the new question"}, msgs[len(msgs)-1])
	kept := msgs[1 : len(msgs)-1]
	require.NotEmpty(t, kept)
	require.Less(t, len(kept), len(history), "old history must be dropped")
	require.Equal(t, "user", kept[0].Role, "kept history starts with a user message")
	// What is kept is the most recent history, unchanged.
	require.Equal(t, history[len(history)-1].Content, kept[len(kept)-1].Content)
	require.Equal(t, history[len(history)-len(kept)].Content, kept[0].Content)
}

func TestTrimHistoryKeepsToolPairs(t *testing.T) {
	t.Parallel()
	call := llm.ToolCall{ID: "call_1", Name: "current_time", Arguments: []byte(`{}`)}
	history := []llm.Message{
		{Role: llm.RoleUser, Content: "what time is it " + strings.Repeat("x ", 50)},
		{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{call}},
		{Role: llm.RoleTool, Content: "2026-01-01T10:00:00Z", ToolCallID: "call_1"},
		{Role: llm.RoleAssistant, Content: "It is ten."},
		{Role: llm.RoleUser, Content: "thanks"},
		{Role: llm.RoleAssistant, Content: "You are welcome."},
	}
	for budget := 0; budget < 200; budget++ {
		kept, dropped := agent.TrimHistory(history, budget)
		require.Equal(t, len(history), len(kept)+dropped)
		if len(kept) > 0 {
			require.Equal(t, llm.RoleUser, kept[0].Role, "budget %d", budget)
		}
		for i, m := range kept {
			if m.Role == llm.RoleTool {
				require.Positive(t, i)
				require.True(t, kept[i-1].Role == llm.RoleTool || len(kept[i-1].ToolCalls) > 0, "tool result without its call at budget %d", budget)
			}
		}
	}
	kept, dropped := agent.TrimHistory(history, 1<<20)
	require.Equal(t, history, kept)
	require.Zero(t, dropped)
}

func TestRunCitationsOnlyForUsedMarkers(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: agent.SearchToolName, Arguments: map[string]any{"query": "vacation days"}}}},
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: agent.SearchToolName, Arguments: map[string]any{"query": "parking"}}}},
		llmtest.Text("You get 30 days [1]; parking is at reception [4]. Ignore [9]."),
	)
	search := &fakeSearcher{
		byWord:  map[string][]agent.Passage{"parking": {{DocumentID: "doc-park", Filename: "parking.md", ChunkIndex: 2, Score: 0.8, Text: "Ask reception for a parking space."}}},
		Default: vacationPassages(),
	}
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Searcher: search}, agent.Config{})
	sink := &recordingSink{}

	out, err := r.Run(ctxTimeout(t), agent.Input{Principal: alice, UserMessage: "vacation and parking?", ToolsEnabled: true}, sink)
	require.NoError(t, err)
	require.Equal(t, []agent.Citation{
		{Index: 1, DocumentID: "doc-hr", Filename: "handbook.pdf", ChunkIndex: 4, Score: 0.91},
		{Index: 4, DocumentID: "doc-park", Filename: "parking.md", ChunkIndex: 2, Score: 0.8},
	}, out.Citations)
	require.Equal(t, []string{"vacation days", "parking"}, search.Queries())
	require.Equal(t, alice.UserID, search.who[0].UserID, "the search runs as the user of the turn")

	// The model saw the passages numbered across the two calls.
	reqs := srv.ChatRequests()
	first := toolMessages(reqs[1])[0].Content
	require.True(t, strings.HasPrefix(first, "[1] handbook.pdf (page 12): Employees receive 30 days"), first)
	require.Contains(t, first, "[3] faq.txt: Parking spaces")
	second := toolMessages(reqs[2])[1].Content
	require.Equal(t, "[4] parking.md: Ask reception for a parking space.", second)
	require.Contains(t, out.ToolRuns[0].Preview, "3 passages")
}

func TestRunSinkErrorStopsTurn(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Text("a", "b", "c"))
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{}, agent.Config{})
	_, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "x"}, failingSink{})
	require.ErrorIs(t, err, errBoom)
}

type failingSink struct{ agent.NopSink }

func (failingSink) Token(string) error { return errBoom }

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	err := agent.Config{MaxSteps: -1, ToolTimeout: -1, ContextTokens: 100, AnswerReserve: 200}.Validate()
	require.Error(t, err)
	for _, want := range []string{"max steps", "tool timeout", "answer reserve"} {
		require.Contains(t, err.Error(), want)
	}
	require.NoError(t, agent.Config{}.Validate())
	_, err = agent.NewRunner(nil, agent.Toolset{}, agent.Config{}, nil)
	require.Error(t, err)
	require.False(t, errors.Is(err, llm.ErrUnavailable))
}
