package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/ollamahttp"
)

// newOllama returns an adapter for url with no retries, so failure tests are fast.
func newOllama(t *testing.T, url string) *llm.Ollama {
	t.Helper()
	o, err := llm.NewOllama(llm.OllamaConfig{
		URL: url, Model: llmtest.ChatModel, Settings: ollamahttp.Settings{MaxRetries: -1, ConnectTimeout: time.Second},
	}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	return o
}

func newRunner(t *testing.T, model llm.ChatModel, tools agent.Toolset, cfg agent.Config) *agent.Runner {
	t.Helper()
	r, err := agent.NewRunner(model, tools, cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return r
}

var alice = access.Principal{UserID: "u-alice", Name: "alice"}

// event is one Sink call.
type event struct {
	Kind    string // token, thinking, tool.started, tool.finished
	Text    string
	CallID  string
	Name    string
	Args    string
	Status  string
	Preview string
}

// recordingSink records every event; onToken, when set, runs after a token
// is recorded.
type recordingSink struct {
	mu      sync.Mutex
	events  []event
	onToken func(string)
}

func (s *recordingSink) add(e event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *recordingSink) Token(text string) error {
	s.add(event{Kind: "token", Text: text})
	if s.onToken != nil {
		s.onToken(text)
	}
	return nil
}

func (s *recordingSink) Thinking(text string) error {
	s.add(event{Kind: "thinking", Text: text})
	return nil
}

func (s *recordingSink) ToolStarted(callID, name string, args json.RawMessage) error {
	s.add(event{Kind: "tool.started", CallID: callID, Name: name, Args: string(args)})
	return nil
}

func (s *recordingSink) ToolFinished(callID, name, status string, _ time.Duration, preview string) error {
	s.add(event{Kind: "tool.finished", CallID: callID, Name: name, Status: status, Preview: preview})
	return nil
}

func (s *recordingSink) all() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event(nil), s.events...)
}

func (s *recordingSink) text(kind string) string {
	var b strings.Builder
	for _, e := range s.all() {
		if e.Kind == kind {
			b.WriteString(e.Text)
		}
	}
	return b.String()
}

func (s *recordingSink) kinds() []string {
	var out []string
	for _, e := range s.all() {
		if e.Kind == "token" && len(out) > 0 && out[len(out)-1] == "token" {
			continue // runs of tokens count once
		}
		out = append(out, e.Kind)
	}
	return out
}

// fakeSearcher answers every query with the passages registered for the
// first of its words found in the query, or with Default.
type fakeSearcher struct {
	mu      sync.Mutex
	byWord  map[string][]agent.Passage
	Default []agent.Passage
	Err     error
	queries []string
	who     []access.Principal
	scopes  []access.DocumentScope
}

func (f *fakeSearcher) Search(_ context.Context, p access.Principal, q agent.SearchQuery) ([]agent.Passage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	query, limit := q.Text, q.Limit
	f.queries = append(f.queries, query)
	f.who = append(f.who, p)
	f.scopes = append(f.scopes, q.Scope)
	if f.Err != nil {
		return nil, f.Err
	}
	out := f.Default
	for w, ps := range f.byWord {
		if strings.Contains(strings.ToLower(query), w) {
			out = ps
			break
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeSearcher) Queries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries...)
}

func page(n int) *int { return &n }

func vacationPassages() []agent.Passage {
	return []agent.Passage{
		{DocumentID: "doc-hr", Filename: "handbook.pdf", ChunkIndex: 4, Score: 0.91, Page: page(12),
			Text: "Employees receive 30 days of paid vacation per year. Unused days expire in March."},
		{DocumentID: "doc-hr", Filename: "handbook.pdf", ChunkIndex: 5, Score: 0.72, Page: page(13),
			Text: "Vacation requests go to the team lead at least two weeks ahead."},
		{DocumentID: "doc-faq", Filename: "faq.txt", ChunkIndex: 0, Score: 0.55,
			Text: "Parking spaces are assigned by facilities. Ask at reception."},
	}
}

// funcTool is a test tool whose behaviour is a function.
type funcTool struct {
	name string
	fn   func(ctx context.Context, call agent.Call) (agent.Result, error)
}

func (f funcTool) Spec() llm.ToolSpec {
	return llm.ToolSpec{
		Name: f.name, Description: "test tool " + f.name,
		Parameters: json.RawMessage(`{"type":"object","properties":{"x":{"type":"string"}}}`),
	}
}

func (f funcTool) Call(ctx context.Context, call agent.Call) (agent.Result, error) {
	return f.fn(ctx, call)
}

// toolMessages returns the tool messages of a recorded chat request.
func toolMessages(req api.ChatRequest) []api.Message {
	var out []api.Message
	for _, m := range req.Messages {
		if m.Role == "tool" {
			out = append(out, m)
		}
	}
	return out
}

func toolNames(req api.ChatRequest) []string {
	var out []string
	for _, t := range req.Tools {
		out = append(out, t.Function.Name)
	}
	return out
}

func ctxTimeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var errBoom = errors.New("boom")
