package agent_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/turnevent"
)

const (
	testWait  = 10 * time.Second
	pollEvery = time.Millisecond
)

// asyncPublisher records each event as it is sent and acknowledges it only
// when the test says so.
type asyncPublisher struct {
	mu   sync.Mutex
	sent []published
	acks []chan error
}

func (p *asyncPublisher) PublishEvent(context.Context, string, string, []byte) (uint64, error) {
	panic("an asynchronous publisher is not used synchronously")
}

func (p *asyncPublisher) PublishEventAsync(_ context.Context, _, eventType string, data []byte) (func(context.Context) (uint64, error), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, published{Type: eventType, Data: string(data)})
	ack := make(chan error, 1)
	p.acks = append(p.acks, ack)
	seq := uint64(len(p.sent))
	return func(ctx context.Context) (uint64, error) {
		select {
		case err := <-ack:
			if err != nil {
				return 0, err
			}
			return seq, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}, nil
}

func (p *asyncPublisher) sentSoFar() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.sent...)
}

// ack answers the i-th event (from 0).
func (p *asyncPublisher) ack(i int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.acks[i] <- err
}

// waitSent waits until n events were sent, failing the test if that takes
// long; sending happens on the writer's goroutine after an acknowledgement.
func (p *asyncPublisher) waitSent(t *testing.T, n int) []published {
	t.Helper()
	require.Eventually(t, func() bool { return len(p.sentSoFar()) >= n }, testWait, pollEvery)
	return p.sentSoFar()
}

func TestEventWriterAsyncSendsAtOnceAndJoinsWhenWindowIsFull(t *testing.T) {
	t.Parallel()
	pub := &asyncPublisher{}
	w := agent.NewEventWriter(context.Background(), pub, "turn-1", nil)

	// The window's events leave from the caller's goroutine, before Token returns.
	require.NoError(t, w.TurnStarted(1))
	for i := range agent.MaxEventsInFlight - 1 {
		require.NoError(t, w.Token(string(rune('a'+i))))
	}
	require.Len(t, pub.sentSoFar(), agent.MaxEventsInFlight)

	// With the window full, tokens are joined and other events queue behind them.
	require.NoError(t, w.Token("x"))
	require.NoError(t, w.Token("y"))
	require.NoError(t, w.ToolStarted("call_1", "current_time", nil))
	require.NoError(t, w.Token("z"))
	require.Len(t, pub.sentSoFar(), agent.MaxEventsInFlight)

	// Each acknowledgement frees one slot.
	pub.ack(0, nil)
	sent := pub.waitSent(t, agent.MaxEventsInFlight+1)
	require.JSONEq(t, `{"text":"xy"}`, sent[agent.MaxEventsInFlight].Data)
	pub.ack(1, nil)
	sent = pub.waitSent(t, agent.MaxEventsInFlight+2)
	require.Equal(t, turnevent.ToolStarted, sent[agent.MaxEventsInFlight+1].Type)

	// Flush waits for every acknowledgement, the last event's included.
	flushed := make(chan error, 1)
	go func() { flushed <- w.Flush(context.Background()) }()
	for i := 2; i <= agent.MaxEventsInFlight+1; i++ {
		pub.ack(i, nil)
	}
	sent = pub.waitSent(t, agent.MaxEventsInFlight+3)
	require.JSONEq(t, `{"text":"z"}`, sent[agent.MaxEventsInFlight+2].Data)
	pub.ack(agent.MaxEventsInFlight+2, nil)
	require.NoError(t, <-flushed)
	require.Equal(t, agent.MaxEventsInFlight+3, w.Published())
	require.Equal(t, uint64(agent.MaxEventsInFlight+3), w.LastSeq())

	// Idle again: the next token leaves at once, alone.
	require.NoError(t, w.Token("!"))
	sent = pub.sentSoFar()
	require.JSONEq(t, `{"text":"!"}`, sent[len(sent)-1].Data)
	pub.ack(len(sent)-1, nil)
	require.NoError(t, w.Close(context.Background()))
	require.ErrorIs(t, w.Token("late"), agent.ErrWriterClosed)
}

func TestEventWriterAsyncStopsAtFirstFailedAck(t *testing.T) {
	t.Parallel()
	pub := &asyncPublisher{}
	w := agent.NewEventWriter(context.Background(), pub, "turn-1", nil)
	for _, tok := range []string{"a", "b", "c", "d"} {
		require.NoError(t, w.Token(tok))
	}
	pub.ack(0, errBoom)
	require.ErrorIs(t, w.Flush(context.Background()), errBoom)
	require.ErrorIs(t, w.Token("e"), errBoom)
	require.ErrorIs(t, w.TurnFailed("internal", "x"), errBoom)
	require.ErrorIs(t, w.Close(context.Background()), errBoom)
	require.Len(t, pub.sentSoFar(), agent.MaxEventsInFlight, "nothing is sent after the failure")
	require.Zero(t, w.Published())
}

func TestEventWriterAsyncCloseGivesUpWhenCtxEnds(t *testing.T) {
	t.Parallel()
	pub := &asyncPublisher{}
	w := agent.NewEventWriter(context.Background(), pub, "turn-1", nil)
	require.NoError(t, w.Token("a")) // never acknowledged
	require.NoError(t, w.TurnCancelled("a"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := w.Close(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.Contains(t, err.Error(), "2 events not confirmed")
}
