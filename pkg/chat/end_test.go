package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/chat"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/turnevent"
)

// A worker that stored a turn's end and died (or lost NATS) before publishing it
// left a turn that clients would follow forever; the job comes back, and the next
// delivery publishes the end from the stored turn — once, however often it comes.
// Found by the chaos harness (pkg/chaos) when a NATS node was killed.
func TestEndStoredButNotPublishedIsPublishedByTheNextDelivery(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	turn := r.newTurn(t, "What happened?", false)
	claimed, ok, err := r.st.ClaimTurn(ctx, turn.ID)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = r.turns.PublishEvent(ctx, turn.ID, turnevent.Started, []byte(`{"attempt":1}`))
	require.NoError(t, err)
	msgID, err := r.st.FinishTurn(ctx, turn.ID, claimed.Attempt, store.TurnOutcome{Status: store.TurnCompleted, Answer: "All is well.",
		Usage: &store.Usage{PromptTokens: 7, CompletionTokens: 3}, SaveMessage: true})
	require.NoError(t, err)
	// ... and the worker died here.

	log := r.follow(t, turn.ID)
	w := r.worker(r.runner(t), time.Second)
	for range 2 { // redelivered twice: the end is published once
		require.NoError(t, w.Handle(ctx, &queue.Msg{Subject: "jobs.chat", Data: mustEncode(t, turn.ID), Delivery: 2}))
	}
	evs := log.waitFor(t, "turn.completed", hasType(turnevent.Completed))
	require.Equal(t, []string{turnevent.Started, turnevent.Completed}, types(evs))
	var done agent.TurnCompletedEvent
	require.NoError(t, json.Unmarshal(evs[1].Data, &done))
	require.Equal(t, "All is well.", done.Answer)
	require.Equal(t, msgID, done.MessageID)
	require.Equal(t, 3, done.Usage.CompletionTokens)
	require.Zero(t, r.llm.Count("/api/chat"), "an ended turn is not run again")

	// Published again by anyone (a lost ack retried), the end is stored once:
	// the stream answers with the sequence it already has.
	seq, err := r.turns.PublishEvent(ctx, turn.ID, turnevent.Completed, evs[1].Data)
	require.NoError(t, err)
	require.Equal(t, evs[1].Seq, seq)
	require.Equal(t, 1, log.count(turnevent.Completed))
}

// flakyPublisher is the turn event log through a NATS connection that drops one
// token event: its publish fails, as when the node the worker talks to dies.
type flakyPublisher struct {
	*queue.Turns
	mu     sync.Mutex
	tokens int
	failAt int
}

func (p *flakyPublisher) PublishEventAsync(ctx context.Context, turnID, eventType string, data []byte) (func(context.Context) (uint64, error), error) {
	if eventType == turnevent.Token {
		p.mu.Lock()
		p.tokens++
		fail := p.tokens == p.failAt
		p.mu.Unlock()
		if fail {
			// The failure shows late, after the model has finished.
			return func(ctx context.Context) (uint64, error) {
				select {
				case <-time.After(300 * time.Millisecond):
				case <-ctx.Done():
				}
				return 0, errors.New("nats: server is disconnected")
			}, nil
		}
	}
	return p.Turns.PublishEventAsync(ctx, turnID, eventType, data)
}

// An attempt that lost one of its events must not end the turn: the client would
// read an answer with a hole in it. The attempt fails, and the next one starts
// over with turn.restarted. Found by the chaos harness when a NATS node was killed.
func TestAttemptThatLostAnEventDoesNotEndTheTurn(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	r.llm.Reply(
		llmtest.Script{Tokens: []string{"one ", "two ", "three ", "four ", "five"}, TokenDelay: 10 * time.Millisecond},
		llmtest.Script{Tokens: []string{"one ", "two ", "three ", "four ", "five"}},
	)
	turn := r.newTurn(t, "Count to five", false)
	log := r.follow(t, turn.ID)
	run := r.runner(t)

	flaky := chat.New(r.st, &flakyPublisher{Turns: r.turns, failAt: 1}, r.q.Conn, run, chat.Config{FenceEvery: time.Second}, logging.Discard())
	err := flaky.Handle(ctx, &queue.Msg{Subject: "jobs.chat", Data: mustEncode(t, turn.ID), Delivery: 1})
	require.Error(t, err, "the attempt fails, so its job is retried")
	stored, err := r.st.GetTurn(ctx, turn.ID)
	require.NoError(t, err)
	require.Equal(t, store.TurnRunning, stored.Status, "the turn did not end with a hole in its answer")
	require.Empty(t, r.assistantMessages(t, turn))

	require.NoError(t, r.worker(run, time.Second).Handle(ctx, &queue.Msg{Subject: "jobs.chat", Data: mustEncode(t, turn.ID), Delivery: 2}))
	evs := log.waitFor(t, "turn.completed", hasType(turnevent.Completed))
	restarted := -1
	for i, e := range evs {
		if e.Type == turnevent.Restarted {
			restarted = i
		}
	}
	require.Positive(t, restarted, "the next attempt announces the restart: %v", types(evs))
	require.Equal(t, "one two three four five", tokenText(evs[restarted:]))
	require.Equal(t, 1, log.count(turnevent.Completed))
}
