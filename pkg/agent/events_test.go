package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/turnevent"
	"github.com/youworker/youworker/pkg/vector"
)

type published struct {
	Type string
	Data string
}

// gatedPublisher holds every publish until the test releases it, so the test
// decides exactly when a publish is in flight.
type gatedPublisher struct {
	started chan published // a publish began
	release chan error     // lets it finish with this error
	mu      sync.Mutex
	stored  []published
}

func newGatedPublisher() *gatedPublisher {
	return &gatedPublisher{started: make(chan published), release: make(chan error)}
}

func (p *gatedPublisher) PublishEvent(ctx context.Context, _, eventType string, data []byte) (uint64, error) {
	ev := published{Type: eventType, Data: string(data)}
	select {
	case p.started <- ev:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case err := <-p.release:
		if err != nil {
			return 0, err
		}
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stored = append(p.stored, ev)
	return uint64(len(p.stored)), nil
}

// next waits for the next publish to start and lets it finish.
func (p *gatedPublisher) next(t *testing.T) published {
	t.Helper()
	select {
	case ev := <-p.started:
		p.release <- nil
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no publish started")
		return published{}
	}
}

func (p *gatedPublisher) await(t *testing.T) published {
	t.Helper()
	select {
	case ev := <-p.started:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no publish started")
		return published{}
	}
}

func TestEventWriterCoalescesOnlyWhileInFlight(t *testing.T) {
	t.Parallel()
	pub := newGatedPublisher()
	w := agent.NewEventWriter(context.Background(), pub, "turn-1", slog.New(slog.DiscardHandler))

	// Idle: a token goes out on its own, at once.
	require.NoError(t, w.Token("Hel"))
	first := pub.await(t)
	require.JSONEq(t, `{"text":"Hel"}`, first.Data)

	// While it is in flight, tokens pile up...
	require.NoError(t, w.Token("lo"))
	require.NoError(t, w.Token(", "))
	require.NoError(t, w.Token("world"))
	pub.release <- nil
	// ...and leave as one event when the acknowledgement arrives.
	second := pub.next(t)
	require.Equal(t, turnevent.Token, second.Type)
	require.JSONEq(t, `{"text":"lo, world"}`, second.Data)

	// Idle again (everything acknowledged): no coalescing.
	flushed := make(chan error, 1)
	go func() { flushed <- w.Flush(context.Background()) }()
	require.NoError(t, <-flushed)
	require.NoError(t, w.Token("!"))
	third := pub.next(t)
	require.JSONEq(t, `{"text":"!"}`, third.Data)

	// A non-token event waits behind pending tokens and does not join them.
	require.NoError(t, w.Token("a"))
	inFlight := pub.await(t)
	require.NoError(t, w.Token("b"))
	require.NoError(t, w.ToolStarted("call_1", "current_time", json.RawMessage(`{}`)))
	require.NoError(t, w.Token("c"))
	pub.release <- nil
	require.JSONEq(t, `{"text":"a"}`, inFlight.Data)
	require.JSONEq(t, `{"text":"b"}`, pub.next(t).Data)
	tool := pub.next(t)
	require.Equal(t, turnevent.ToolStarted, tool.Type)
	require.JSONEq(t, `{"call_id":"call_1","name":"current_time","args":{}}`, tool.Data)
	require.JSONEq(t, `{"text":"c"}`, pub.next(t).Data)

	closed := make(chan error, 1)
	go func() { closed <- w.Close(context.Background()) }()
	require.NoError(t, <-closed)
	require.Equal(t, 7, w.Published())
	require.ErrorIs(t, w.Token("late"), agent.ErrWriterClosed)
}

func TestEventWriterStopsAtFirstError(t *testing.T) {
	t.Parallel()
	pub := newGatedPublisher()
	w := agent.NewEventWriter(context.Background(), pub, "turn-1", nil)
	require.NoError(t, w.Token("a"))
	pub.await(t)
	require.NoError(t, w.Token("b"))
	pub.release <- errBoom
	require.ErrorIs(t, w.Flush(context.Background()), errBoom)
	require.ErrorIs(t, w.Token("c"), errBoom)
	require.ErrorIs(t, w.TurnFailed("internal", "x"), errBoom)
	require.ErrorIs(t, w.Close(context.Background()), errBoom)
}

func TestEventWriterCloseGivesUpWhenCtxEnds(t *testing.T) {
	t.Parallel()
	pub := newGatedPublisher()
	w := agent.NewEventWriter(context.Background(), pub, "turn-1", nil)
	require.NoError(t, w.Token("a"))
	pub.await(t) // never released
	require.NoError(t, w.TurnCancelled("a"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := w.Close(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.Contains(t, err.Error(), "2 events not confirmed")
}

// TestEventWriterOnJetStream runs a turn with a real model protocol and a
// real turn event log, then replays the log as a client would.
func TestEventWriterOnJetStream(t *testing.T) {
	t.Parallel()
	qs := queuetest.Start(t)
	turns := queue.NewTurns(qs.JS, nil, nil)
	ctx := ctxTimeout(t)

	srv := llmtest.New(t)
	var tokens []string
	for i := range 300 {
		tokens = append(tokens, fmt.Sprintf("w%d ", i))
	}
	srv.Reply(
		llmtest.Script{Tokens: []string{"Let me check. "}, ToolCalls: []llmtest.ToolCall{{Name: "convert_units", Arguments: map[string]any{"value": 1, "from": "kg", "to": "lb"}}}},
		llmtest.Script{Thinking: []string{"ok"}, Tokens: tokens},
	)
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Tools: []agent.Tool{agent.ConvertUnits{}}}, agent.Config{})

	w := agent.NewEventWriter(ctx, turns, "turn-42", nil)
	require.NoError(t, w.TurnStarted(1))
	out, err := r.Run(ctx, agent.Input{UserMessage: "1 kg in lb?", ToolsEnabled: true}, w)
	require.NoError(t, err)
	require.NoError(t, w.TurnCompleted("msg-1", out.Answer, out.Citations, out.Usage))
	require.NoError(t, w.Close(ctx))

	evCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := turns.Events(evCtx, "turn-42", 0)
	require.NoError(t, err)
	var types []string
	var text strings.Builder
	var completed agent.TurnCompletedEvent
	for ev := range events {
		if ev.Type != turnevent.Token || len(types) == 0 || types[len(types)-1] != turnevent.Token {
			types = append(types, ev.Type)
		}
		switch ev.Type {
		case turnevent.Token:
			var te agent.TextEvent
			require.NoError(t, json.Unmarshal(ev.Data, &te))
			text.WriteString(te.Text)
		case turnevent.Started:
			require.JSONEq(t, `{"turn_id":"turn-42","attempt":1}`, string(ev.Data))
		case turnevent.ToolFinished:
			var tf agent.ToolFinishedEvent
			require.NoError(t, json.Unmarshal(ev.Data, &tf))
			require.Equal(t, agent.StatusOK, tf.Status)
			require.Equal(t, "1 kg = 2.204622622 lb", tf.Preview)
		case turnevent.Completed:
			require.NoError(t, json.Unmarshal(ev.Data, &completed))
			require.Contains(t, string(ev.Data), `"citations":[]`)
			cancel()
		}
	}
	require.Equal(t, []string{
		turnevent.Started, turnevent.Token, turnevent.ToolStarted, turnevent.ToolFinished,
		turnevent.Thinking, turnevent.Token, turnevent.Completed,
	}, types)
	require.Equal(t, out.Answer, text.String(), "concatenated tokens are the answer")
	require.Equal(t, out.Answer, completed.Answer)
	require.Equal(t, "msg-1", completed.MessageID)
	require.Equal(t, out.Usage, completed.Usage)
	require.NotEqual(t, llm.Usage{}, completed.Usage)
	require.Equal(t, w.Published(), countEvents(t, turns, "turn-42"))
}

func countEvents(t *testing.T, turns *queue.Turns, turnID string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(ctxTimeout(t))
	defer cancel()
	events, err := turns.Events(ctx, turnID, 0)
	require.NoError(t, err)
	n := 0
	for ev := range events {
		n++
		if ev.Type == turnevent.Completed {
			cancel()
		}
	}
	return n
}

func TestEventPayloads(t *testing.T) {
	t.Parallel()
	pub := &memPublisher{}
	w := agent.NewEventWriter(context.Background(), pub, "t1", nil)
	require.NoError(t, w.TurnRestarted(2))
	require.NoError(t, w.Thinking("hmm"))
	require.NoError(t, w.ToolFinished("call_1", "x", agent.StatusError, 1500*time.Millisecond, "bad"))
	require.NoError(t, w.TurnFailed("llm_unavailable", "the model server is down"))
	require.NoError(t, w.TurnCancelled("part"))
	require.NoError(t, w.TurnCompleted("m1", "A [1]", []agent.Citation{{Index: 1, DocumentID: "d", Filename: "f.pdf", ChunkIndex: 3, Score: 0.5, Matched: vector.Matched{Lexical: new(2)}}}, llm.Usage{PromptTokens: 1, CompletionTokens: 2}))
	require.NoError(t, w.Close(context.Background()))
	want := []published{
		{turnevent.Restarted, `{"attempt":2}`},
		{turnevent.Thinking, `{"text":"hmm"}`},
		{turnevent.ToolFinished, `{"call_id":"call_1","name":"x","status":"error","latency_ms":1500,"preview":"bad"}`},
		{turnevent.Failed, `{"error":{"code":"llm_unavailable","message":"the model server is down"}}`},
		{turnevent.Cancelled, `{"answer":"part"}`},
		{turnevent.Completed, `{"message_id":"m1","answer":"A [1]","citations":[{"index":1,"document_id":"d","filename":"f.pdf","chunk_index":3,"score":0.5,"matched":{"dense":null,"lexical":2}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`},
	}
	got := pub.all()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i].Type, got[i].Type)
		require.JSONEq(t, want[i].Data, got[i].Data)
	}
}

// memPublisher stores events at once.
type memPublisher struct {
	mu     sync.Mutex
	events []published
}

func (p *memPublisher) PublishEvent(_ context.Context, _, eventType string, data []byte) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, published{eventType, string(data)})
	return uint64(len(p.events)), nil
}

func (p *memPublisher) all() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.events...)
}
