package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/ollamahttp"
)

// newOllama returns an adapter with a tiny backoff so retry tests are fast.
func newOllama(t *testing.T, url string, mod func(*llm.OllamaConfig)) *llm.Ollama {
	t.Helper()
	cfg := llm.OllamaConfig{
		URL: url, Model: llmtest.ChatModel, Settings: ollamahttp.Settings{MaxRetries: 3,
			RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond,
			ConnectTimeout: time.Second},
	}
	if mod != nil {
		mod(&cfg)
	}
	o, err := llm.NewOllama(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	return o
}

// collect records deltas passed to onDelta.
type collect struct {
	mu     sync.Mutex
	deltas []llm.Delta
}

func (c *collect) on(d llm.Delta) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deltas = append(c.deltas, d)
	return nil
}

func (c *collect) content() (s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.deltas {
		s += d.Content
	}
	return s
}

func userTurn(text string) []llm.Message {
	return []llm.Message{
		{Role: llm.RoleSystem, Content: "You are helpful."},
		{Role: llm.RoleUser, Content: text},
	}
}

func TestChatStreamsAnswerWithUsage(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Script{
		Tokens: []string{"Norwich ", "City ", "won."},
		Usage:  llmtest.Usage{PromptTokens: 42, CompletionTokens: 3},
	})
	o := newOllama(t, srv.URL, nil)
	temp := 0.2

	var c collect
	resp, err := o.Chat(t.Context(), llm.Request{
		Messages: userTurn("Who won?"),
		Options:  llm.Options{Temperature: &temp, NumCtx: 8192},
	}, c.on)
	require.NoError(t, err)

	require.Len(t, c.deltas, 3, "one delta per streamed chunk, in order")
	require.Equal(t, "Norwich ", c.deltas[0].Content)
	require.Equal(t, "Norwich City won.", c.content())
	require.Equal(t, llm.Message{Role: llm.RoleAssistant, Content: "Norwich City won."}, resp.Message)
	require.Equal(t, llm.Usage{PromptTokens: 42, CompletionTokens: 3}, resp.Usage)
	require.Equal(t, "stop", resp.DoneReason)
	require.Equal(t, llmtest.ChatModel, resp.Model)

	sent := srv.ChatRequests()
	require.Len(t, sent, 1)
	require.Equal(t, llmtest.ChatModel, sent[0].Model)
	require.NotNil(t, sent[0].Stream)
	require.True(t, *sent[0].Stream)
	require.Nil(t, sent[0].Think, "thinking not requested")
	require.Len(t, sent[0].Messages, 2)
	require.Equal(t, "user", sent[0].Messages[1].Role)
	require.Equal(t, "Who won?", sent[0].Messages[1].Content)
	require.InDelta(t, 0.2, sent[0].Options["temperature"], 1e-9)
	require.EqualValues(t, 8192, sent[0].Options["num_ctx"])
}

func TestChatRequestModelOverridesDefault(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.AddModel("qwen3:8b")
	o := newOllama(t, srv.URL, nil)

	resp, err := o.Chat(t.Context(), llm.Request{Model: "qwen3:8b", Messages: userTurn("hi")}, nil)
	require.NoError(t, err)
	require.Equal(t, "OK.", resp.Message.Content)
	require.Equal(t, "qwen3:8b", srv.ChatRequests()[0].Model)
}

func TestChatThinking(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Script{Thinking: []string{"The user ", "greets me."}, Tokens: []string{"Hello!"}})
	o := newOllama(t, srv.URL, nil)

	var c collect
	resp, err := o.Chat(t.Context(), llm.Request{Messages: userTurn("hi"), Think: true}, c.on)
	require.NoError(t, err)

	require.Equal(t, []llm.Delta{{Thinking: "The user "}, {Thinking: "greets me."}, {Content: "Hello!"}}, c.deltas)
	require.Equal(t, "The user greets me.", resp.Message.Thinking)
	require.Equal(t, "Hello!", resp.Message.Content)
	sent := srv.ChatRequests()[0]
	require.NotNil(t, sent.Think)
	require.True(t, sent.Think.Bool())
}

var searchTool = llm.ToolSpec{
	Name:        "search_documents",
	Description: "Search the user's documents.",
	Parameters: json.RawMessage(`{"type":"object","required":["query"],"properties":{
		"query":{"type":"string","description":"what to look for"},
		"limit":{"type":"integer"}}}`),
}

func TestChatToolCallRoundTrip(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	var second api.ChatRequest
	round := 0
	srv.Handle(func(req api.ChatRequest) llmtest.Script {
		round++
		if round == 1 {
			return llmtest.Script{ToolCalls: []llmtest.ToolCall{{
				Name: "search_documents", Arguments: map[string]any{"query": "norwich football", "limit": 3},
			}}, DoneReason: "stop"}
		}
		second = req
		return llmtest.Text("Norwich City is a football club.")
	})
	o := newOllama(t, srv.URL, nil)

	msgs := userTurn("Tell me about Norwich")
	var c collect
	resp, err := o.Chat(t.Context(), llm.Request{Messages: msgs, Tools: []llm.ToolSpec{searchTool}}, c.on)
	require.NoError(t, err)
	require.Len(t, resp.Message.ToolCalls, 1)
	call := resp.Message.ToolCalls[0]
	require.Equal(t, "call_1", call.ID)
	require.Equal(t, "search_documents", call.Name)
	require.JSONEq(t, `{"query":"norwich football","limit":3}`, string(call.Arguments))
	require.Len(t, c.deltas, 1, "the tool call is relayed as it arrives")
	require.Equal(t, resp.Message.ToolCalls, c.deltas[0].ToolCalls)

	sentTools := srv.ChatRequests()[0].Tools
	require.Len(t, sentTools, 1)
	require.Equal(t, "function", sentTools[0].Type)
	require.Equal(t, "search_documents", sentTools[0].Function.Name)
	require.Equal(t, []string{"query"}, sentTools[0].Function.Parameters.Required)
	prop, ok := sentTools[0].Function.Parameters.Properties.Get("query")
	require.True(t, ok)
	require.Equal(t, "what to look for", prop.Description)

	msgs = append(msgs, resp.Message, llm.Message{
		Role: llm.RoleTool, ToolName: call.Name, ToolCallID: call.ID, Content: `[{"title":"Norwich City F.C."}]`,
	})
	resp, err = o.Chat(t.Context(), llm.Request{Messages: msgs, Tools: []llm.ToolSpec{searchTool}}, nil)
	require.NoError(t, err)
	require.Equal(t, "Norwich City is a football club.", resp.Message.Content)

	require.Len(t, second.Messages, 4)
	asst := second.Messages[2]
	require.Equal(t, "assistant", asst.Role)
	require.Len(t, asst.ToolCalls, 1)
	require.Equal(t, "search_documents", asst.ToolCalls[0].Function.Name)
	args, err := json.Marshal(asst.ToolCalls[0].Function.Arguments)
	require.NoError(t, err)
	require.JSONEq(t, `{"query":"norwich football","limit":3}`, string(args))
	tool := second.Messages[3]
	require.Equal(t, "tool", tool.Role)
	require.Equal(t, "search_documents", tool.ToolName)
	require.Equal(t, "call_1", tool.ToolCallID)
	require.Equal(t, `[{"title":"Norwich City F.C."}]`, tool.Content)
}

func TestChatTwoToolCallsInOneMessage(t *testing.T) {
	t.Parallel()
	calls := []llmtest.ToolCall{
		{Name: "search_documents", Arguments: map[string]any{"query": "budget 2024"}},
		{Name: "get_time", Arguments: map[string]any{}},
	}
	for _, split := range []bool{false, true} {
		t.Run(map[bool]string{false: "one chunk", true: "chunk per call"}[split], func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t)
			srv.Reply(llmtest.Script{ToolCalls: calls, SplitToolCalls: split})
			o := newOllama(t, srv.URL, nil)

			resp, err := o.Chat(t.Context(), llm.Request{Messages: userTurn("q")}, nil)
			require.NoError(t, err)
			got := resp.Message.ToolCalls
			require.Len(t, got, 2)
			require.Equal(t, "call_1", got[0].ID)
			require.Equal(t, "search_documents", got[0].Name)
			require.JSONEq(t, `{"query":"budget 2024"}`, string(got[0].Arguments))
			require.Equal(t, "call_2", got[1].ID)
			require.Equal(t, "get_time", got[1].Name)
			require.JSONEq(t, `{}`, string(got[1].Arguments))
		})
	}
}

func TestChatToolCallIDsContinueAcrossRounds(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "get_time"}}})
	o := newOllama(t, srv.URL, nil)

	history := append(userTurn("q"),
		llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
			{ID: "call_1", Name: "a", Arguments: json.RawMessage(`{}`)},
			{ID: "call_2", Name: "b"},
		}},
		llm.Message{Role: llm.RoleTool, ToolName: "a", ToolCallID: "call_1", Content: "x"},
		llm.Message{Role: llm.RoleTool, ToolName: "b", ToolCallID: "call_2", Content: "y"},
	)
	resp, err := o.Chat(t.Context(), llm.Request{Messages: history}, nil)
	require.NoError(t, err)
	require.Len(t, resp.Message.ToolCalls, 1)
	require.Equal(t, "call_3", resp.Message.ToolCalls[0].ID, "ids stay unique within the conversation")
}

func TestChatRetriesServerErrorsBeforeStreaming(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.FailNext("/api/chat", 2, http.StatusInternalServerError)
	srv.Reply(llmtest.Text("fine"))
	o := newOllama(t, srv.URL, nil)

	var c collect
	resp, err := o.Chat(t.Context(), llm.Request{Messages: userTurn("q")}, c.on)
	require.NoError(t, err)
	require.Equal(t, "fine", resp.Message.Content)
	require.Equal(t, "fine", c.content(), "failed attempts relay nothing")
	require.Equal(t, 3, srv.Count("/api/chat"))
}

func TestChatRetriesStreamCutBeforeFirstDelta(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Script{Tokens: []string{"lost"}, Drop: true}, llmtest.Text("kept"))
	o := newOllama(t, srv.URL, nil)

	resp, err := o.Chat(t.Context(), llm.Request{Messages: userTurn("q")}, nil)
	require.NoError(t, err)
	require.Equal(t, "kept", resp.Message.Content)
	require.Equal(t, 2, srv.Count("/api/chat"))
}

func TestChatNeverRetriesAfterFirstDelta(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Script{Tokens: []string{"Hel", "lo", " there"}, Drop: true, DropAfter: 2}, llmtest.Text("duplicate"))
	o := newOllama(t, srv.URL, nil)

	var c collect
	_, err := o.Chat(t.Context(), llm.Request{Messages: userTurn("q")}, c.on)
	require.ErrorIs(t, err, llm.ErrUnavailable)
	require.Equal(t, "Hello", c.content())
	require.Equal(t, 1, srv.Count("/api/chat"))
}

func TestChatGivesUpAfterRetries(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.FailNext("/api/chat", 10, http.StatusServiceUnavailable)
	o := newOllama(t, srv.URL, func(c *llm.OllamaConfig) { c.MaxRetries = 2 })

	_, err := o.Chat(t.Context(), llm.Request{Messages: userTurn("q")}, nil)
	require.ErrorIs(t, err, llm.ErrUnavailable)
	require.Equal(t, 3, srv.Count("/api/chat"), "first attempt plus two retries")
}

func TestChatModelNotFound(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	o := newOllama(t, srv.URL, nil)

	_, err := o.Chat(t.Context(), llm.Request{Model: "missing:7b", Messages: userTurn("q")}, nil)
	require.ErrorIs(t, err, llm.ErrModelNotFound)
	require.NotErrorIs(t, err, llm.ErrUnavailable)
	require.Equal(t, 1, srv.Count("/api/chat"), "a missing model is not retried")
}

func TestChatClientErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Script{Status: http.StatusBadRequest, Error: "registry.ollama.ai/library/gemma does not support tools"})
	o := newOllama(t, srv.URL, nil)

	_, err := o.Chat(t.Context(), llm.Request{Messages: userTurn("q"), Tools: []llm.ToolSpec{searchTool}}, nil)
	require.Error(t, err)
	require.ErrorContains(t, err, "does not support tools")
	require.NotErrorIs(t, err, llm.ErrUnavailable)
	require.NotErrorIs(t, err, llm.ErrModelNotFound)
	require.Equal(t, 1, srv.Count("/api/chat"))
}

func TestChatServerDown(t *testing.T) {
	t.Parallel()
	o := newOllama(t, llmtest.DeadURL(t), nil)

	_, err := o.Chat(t.Context(), llm.Request{Messages: userTurn("q")}, nil)
	require.ErrorIs(t, err, llm.ErrUnavailable)
	require.ErrorContains(t, err, "after 4 attempts")
	require.ErrorIs(t, o.Check(t.Context()), llm.ErrUnavailable)
}

func TestChatCancelMidStreamStopsPromptly(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Script{Tokens: []string{"one", "two"}, Stall: true})
	o := newOllama(t, srv.URL, nil)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []string
	errc := make(chan error, 1)
	go func() {
		_, err := o.Chat(ctx, llm.Request{Messages: userTurn("q")}, func(d llm.Delta) error {
			got = append(got, d.Content)
			if len(got) == 2 {
				cancel()
			}
			return nil
		})
		errc <- err
	}()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, llm.ErrUnavailable, "a caller's cancellation is not an outage")
	case <-time.After(10 * time.Second):
		t.Fatal("Chat did not return after cancellation")
	}
	require.Equal(t, []string{"one", "two"}, got)
	require.Equal(t, 1, srv.Count("/api/chat"))
}

func TestChatTurnTimeout(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Script{Tokens: []string{"slow"}, Stall: true})
	o := newOllama(t, srv.URL, func(c *llm.OllamaConfig) { c.Timeout = 100 * time.Millisecond })

	_, err := o.Chat(t.Context(), llm.Request{Messages: userTurn("q")}, nil)
	require.ErrorIs(t, err, llm.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestChatCallbackErrorAborts(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(llmtest.Text("a", "b", "c"))
	o := newOllama(t, srv.URL, nil)
	errStop := errors.New("client went away")

	n := 0
	_, err := o.Chat(t.Context(), llm.Request{Messages: userTurn("q")}, func(llm.Delta) error {
		n++
		return errStop
	})
	require.ErrorIs(t, err, errStop)
	require.Equal(t, 1, n)
	require.Equal(t, 1, srv.Count("/api/chat"))
}

func TestCheckAndModels(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	o := newOllama(t, srv.URL, nil)
	require.NoError(t, o.Check(t.Context()))

	missing := newOllama(t, srv.URL, func(c *llm.OllamaConfig) { c.Model = "nope" })
	err := missing.Check(t.Context())
	require.ErrorIs(t, err, llm.ErrModelNotFound)
	require.ErrorContains(t, err, "nope")

	models, err := o.Models(t.Context())
	require.NoError(t, err)
	var names []string
	for _, m := range models {
		names = append(names, m.Name)
	}
	require.Equal(t, []string{llmtest.ChatModel + ":latest", llmtest.EmbedModel + ":latest", llmtest.VisionModel + ":latest"}, names)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	_, err := llm.NewOllama(llm.OllamaConfig{URL: "localhost", Timeout: -1}, nil)
	require.Error(t, err)
	require.ErrorContains(t, err, "not an absolute URL")
	require.ErrorContains(t, err, "model is required")
	require.ErrorContains(t, err, "must not be negative")
}

func TestInvalidToolSchemaIsRejected(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	o := newOllama(t, srv.URL, nil)
	_, err := o.Chat(t.Context(), llm.Request{
		Messages: userTurn("q"),
		Tools:    []llm.ToolSpec{{Name: "bad", Parameters: json.RawMessage(`[1,2]`)}},
	}, nil)
	require.ErrorContains(t, err, `tool "bad"`)
	require.Equal(t, 0, srv.Count("/api/chat"))
}
