package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/turnevent"
)

// memEvents is an in-memory turn event log with the semantics of queue.Turns:
// replay after a sequence, then follow live until ctx ends.
type memEvents struct {
	mu         sync.Mutex
	seq        uint64
	events     map[string][]queue.Event
	waiters    map[string][]chan struct{}
	publishErr error
	followErr  error
	// cutAfter, when set, closes every reader's channel after that many events,
	// as the real log does to a reader that falls behind.
	cutAfter int
}

func newMemEvents() *memEvents {
	return &memEvents{events: map[string][]queue.Event{}, waiters: map[string][]chan struct{}{}}
}

func (m *memEvents) PublishEvent(_ context.Context, turnID, eventType string, data []byte) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.publishErr != nil {
		return 0, m.publishErr
	}
	m.seq++
	m.events[turnID] = append(m.events[turnID], queue.Event{Seq: m.seq, Type: eventType, Data: data, Time: time.Now()})
	for _, w := range m.waiters[turnID] {
		close(w)
	}
	m.waiters[turnID] = nil
	return m.seq, nil
}

func (m *memEvents) Events(ctx context.Context, turnID string, after uint64) (<-chan queue.Event, error) {
	if m.followErr != nil {
		return nil, m.followErr
	}
	out := make(chan queue.Event)
	go func() {
		defer close(out)
		last := after
		sent := 0
		for {
			m.mu.Lock()
			var next []queue.Event
			for _, e := range m.events[turnID] {
				if e.Seq > last {
					next = append(next, e)
				}
			}
			wake := make(chan struct{})
			m.waiters[turnID] = append(m.waiters[turnID], wake)
			cutAfter := m.cutAfter
			m.mu.Unlock()
			for _, e := range next {
				if cutAfter > 0 && sent == cutAfter {
					return
				}
				select {
				case out <- e:
					last = e.Seq
					sent++
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (m *memEvents) types(turnID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, e := range m.events[turnID] {
		out = append(out, e.Type)
	}
	return out
}

type chatFixture struct {
	chat     *Chat
	store    *store.Store
	events   *memEvents
	notified atomic.Int32
	mu       sync.Mutex
	signals  []string
	sigErr   error
}

func newChatFixture(t *testing.T, cfg ChatConfig) *chatFixture {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	f := &chatFixture{store: store.New(pool), events: newMemEvents()}
	cfg.Notify = func() { f.notified.Add(1) }
	cfg.Cancel = func(_ context.Context, turnID string) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.signals = append(f.signals, turnID)
		return f.sigErr
	}
	f.chat = NewChat(f.store, f.events, cfg, logging.Discard())
	return f
}

func (f *chatFixture) user(t *testing.T, name string) access.Principal {
	t.Helper()
	u, err := f.store.CreateUser(context.Background(), name, false)
	require.NoError(t, err)
	return access.Principal{UserID: u.ID, Name: u.Name}
}

func (f *chatFixture) session(t *testing.T, p access.Principal) string {
	t.Helper()
	s, err := f.chat.CreateSession(context.Background(), p, "")
	require.NoError(t, err)
	return s.ID
}

func (f *chatFixture) submit(t *testing.T, p access.Principal, sessionID, content string) Turn {
	t.Helper()
	_, turn, err := f.chat.Submit(context.Background(), p, sessionID, SubmitRequest{Content: content})
	require.NoError(t, err)
	return turn
}

func requireChatCode(t *testing.T, err error, code Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, ErrorCode(err), "error: %v", err)
}

func TestChatSessionsBelongToTheirOwner(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t, ChatConfig{})
	ctx := context.Background()
	alice, eve := f.user(t, "alice"), f.user(t, "eve")

	s, err := f.chat.CreateSession(ctx, alice, "  Budget 2025  ")
	require.NoError(t, err)
	require.Equal(t, "Budget 2025", s.Title, "titles are trimmed")
	_, err = f.chat.CreateSession(ctx, alice, strings.Repeat("é", 201))
	requireField(t, err, CodeInvalid, "title")
	_, err = f.chat.CreateSession(ctx, alice, strings.Repeat("é", 200))
	require.NoError(t, err, "200 characters, not bytes, are allowed")

	got, err := f.chat.GetSession(ctx, alice, s.ID)
	require.NoError(t, err)
	require.Equal(t, s.ID, got.Session.ID)
	require.NotNil(t, got.Messages, "an empty history is a list, never null")
	require.Empty(t, got.Messages)

	// Eve sees nothing of Alice's session and can change nothing.
	_, err = f.chat.GetSession(ctx, eve, s.ID)
	requireChatCode(t, err, CodeNotFound)
	_, err = f.chat.RenameSession(ctx, eve, s.ID, "mine")
	requireChatCode(t, err, CodeNotFound)
	requireChatCode(t, f.chat.DeleteSession(ctx, eve, s.ID), CodeNotFound)
	_, _, err = f.chat.Submit(ctx, eve, s.ID, SubmitRequest{Content: "hello"})
	requireChatCode(t, err, CodeNotFound)
	page, err := f.chat.ListSessions(ctx, eve, 0, "")
	require.NoError(t, err)
	require.NotNil(t, page.Items)
	require.Empty(t, page.Items)
	_, err = f.chat.GetSession(ctx, alice, "not-a-uuid")
	requireChatCode(t, err, CodeNotFound)

	renamed, err := f.chat.RenameSession(ctx, alice, s.ID, "Budget")
	require.NoError(t, err)
	require.Equal(t, "Budget", renamed.Title)
	_, err = f.chat.RenameSession(ctx, alice, s.ID, strings.Repeat("x", 201))
	requireField(t, err, CodeInvalid, "title")

	// Paging: newest activity first, a cursor to the rest, a bad cursor refused.
	page, err = f.chat.ListSessions(ctx, alice, 1, "")
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, s.ID, page.Items[0].ID, "the renamed session was active last")
	require.NotNil(t, page.Next)
	page, err = f.chat.ListSessions(ctx, alice, 1, *page.Next)
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.NotEqual(t, s.ID, page.Items[0].ID)
	_, err = f.chat.ListSessions(ctx, alice, 10, "garbage")
	requireChatCode(t, err, CodeInvalid)

	require.NoError(t, f.chat.DeleteSession(ctx, alice, s.ID))
	_, err = f.chat.GetSession(ctx, alice, s.ID)
	requireChatCode(t, err, CodeNotFound)
	requireChatCode(t, f.chat.DeleteSession(ctx, alice, s.ID), CodeNotFound)
}

func TestChatSubmitQueuesTheTurnWithItsJob(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t, ChatConfig{DefaultModel: "llama3.1", MaxMessageRunes: 10,
		Models: NewModels(ModelsConfig{Allowed: []string{"llama3.1", "qwen3:8b"}}, logging.Discard())})
	ctx := logging.WithCorrelationID(context.Background(), "corr-submit-1")
	alice := f.user(t, "alice")
	sid := f.session(t, alice)

	msg, turn, err := f.chat.Submit(ctx, alice, sid, SubmitRequest{Content: "  hi there  "})
	require.NoError(t, err)
	require.Equal(t, "hi there", msg.Content, "content is trimmed")
	require.Equal(t, "user", msg.Role)
	require.Equal(t, turn.ID, *msg.TurnID)
	require.Equal(t, store.TurnQueued, turn.Status)
	require.Equal(t, "llama3.1", turn.Model, "the default model applies")
	stored, err := f.store.GetTurn(ctx, turn.ID)
	require.NoError(t, err)
	require.True(t, stored.ToolsEnabled, "tools are on unless turned off")
	require.EqualValues(t, 1, f.notified.Load(), "the outbox relay is woken")

	// The job is in the outbox, in the same transaction, with its stable id.
	jobs, err := f.store.ClaimOutbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.Equal(t, job.SubjectChat, jobs[0].Subject)
	require.Equal(t, job.ChatJob{TurnID: turn.ID}.MsgID(), jobs[0].MsgID)
	var payload job.ChatJob
	require.NoError(t, job.Decode(jobs[0].Payload, &payload))
	require.Equal(t, turn.ID, payload.TurnID)
	require.Equal(t, "corr-submit-1", jobs[0].CorrelationID, "logs of the job carry the request's id")

	history, err := f.chat.GetSession(ctx, alice, sid)
	require.NoError(t, err)
	require.Len(t, history.Messages, 1)

	// One active turn per session.
	_, _, err = f.chat.Submit(ctx, alice, sid, SubmitRequest{Content: "again"})
	requireChatCode(t, err, CodeConflict)
	require.EqualValues(t, 1, f.notified.Load(), "nothing is queued for a refused message")

	// A model and tools chosen by the user are kept.
	off := false
	_, turn2, err := f.chat.Submit(ctx, alice, f.session(t, alice), SubmitRequest{Content: "x", Model: "qwen3:8b", Tools: &off})
	require.NoError(t, err)
	require.Equal(t, "qwen3:8b", turn2.Model)
	stored, err = f.store.GetTurn(ctx, turn2.ID)
	require.NoError(t, err)
	require.False(t, stored.ToolsEnabled)
}

func TestChatSubmitValidatesEveryField(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t, ChatConfig{DefaultModel: "m", MaxMessageRunes: 5,
		Models: NewModels(ModelsConfig{Allowed: []string{"m", "qwen3:8b"}}, logging.Discard())})
	ctx := context.Background()
	alice := f.user(t, "alice")
	sid := f.session(t, alice)

	for name, tc := range map[string]struct {
		req    SubmitRequest
		fields []string
	}{
		"empty":               {SubmitRequest{Content: ""}, []string{"content"}},
		"blank":               {SubmitRequest{Content: " \n\t "}, []string{"content"}},
		"too long":            {SubmitRequest{Content: "ééééééé"}, []string{"content"}},
		"model with space":    {SubmitRequest{Content: "ok", Model: "llama 3"}, []string{"model"}},
		"model too long":      {SubmitRequest{Content: "ok", Model: strings.Repeat("m", 101)}, []string{"model"}},
		"both fields at once": {SubmitRequest{Content: "", Model: "a\tb"}, []string{"content", "model"}},
		"model not allowed":   {SubmitRequest{Content: "ok", Model: "llama3.1:70b"}, []string{"model"}},
		"another tag":         {SubmitRequest{Content: "ok", Model: "qwen3:32b"}, []string{"model"}},
	} {
		_, _, err := f.chat.Submit(ctx, alice, sid, tc.req)
		var e *Error
		require.ErrorAs(t, err, &e, name)
		require.Equal(t, CodeInvalid, e.Code, name)
		var got []string
		for _, fe := range e.Fields {
			got = append(got, fe.Field)
		}
		require.Equal(t, tc.fields, got, name)
	}
	_, _, err := f.chat.Submit(ctx, alice, sid, SubmitRequest{Content: "ééééé"})
	require.NoError(t, err, "the limit counts characters, not bytes")
	_, _, err = f.chat.Submit(ctx, alice, uuid.NewString(), SubmitRequest{Content: "ok"})
	requireChatCode(t, err, CodeNotFound)
	_, _, err = f.chat.Submit(ctx, alice, "not-a-uuid", SubmitRequest{Content: "ok"})
	requireChatCode(t, err, CodeNotFound)
}

func TestChatLimitsActiveTurnsPerUser(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t, ChatConfig{MaxActiveTurns: 2})
	ctx := context.Background()
	alice, bob := f.user(t, "alice"), f.user(t, "bob")

	first := f.submit(t, alice, f.session(t, alice), "one")
	second := f.submit(t, alice, f.session(t, alice), "two")
	_, ok, err := f.store.ClaimTurn(ctx, second.ID) // running counts too
	require.NoError(t, err)
	require.True(t, ok)
	third := f.session(t, alice)
	_, _, err = f.chat.Submit(ctx, alice, third, SubmitRequest{Content: "three"})
	requireChatCode(t, err, CodeTooManyTurns)
	require.Contains(t, err.Error(), "2 turns running")

	// Another user is not affected.
	f.submit(t, bob, f.session(t, bob), "bob's")

	// An ended turn frees its slot.
	_, err = f.chat.Cancel(ctx, alice, first.ID)
	require.NoError(t, err)
	f.submit(t, alice, third, "three")

	// The defaults apply to a zero config.
	d := NewChat(f.store, f.events, ChatConfig{}, logging.Discard())
	require.Equal(t, 4, d.cfg.MaxActiveTurns)
	require.Equal(t, 32000, d.cfg.MaxMessageRunes)
	d.cfg.Notify()
	require.NoError(t, d.cfg.Cancel(ctx, "x"))
}

func TestChatGetTurnAndEventsAreTheOwnersOnly(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t, ChatConfig{})
	ctx := context.Background()
	alice, eve := f.user(t, "alice"), f.user(t, "eve")
	turn := f.submit(t, alice, f.session(t, alice), "hello")

	got, err := f.chat.GetTurn(ctx, alice, turn.ID)
	require.NoError(t, err)
	require.Equal(t, store.TurnQueued, got.Status)
	require.NotNil(t, got.ToolCalls)
	require.NotNil(t, got.Citations)
	_, err = f.chat.GetTurn(ctx, eve, turn.ID)
	requireChatCode(t, err, CodeNotFound)
	_, _, err = f.chat.Events(ctx, eve, turn.ID, 0)
	requireChatCode(t, err, CodeNotFound)
	_, err = f.chat.Cancel(ctx, eve, turn.ID)
	requireChatCode(t, err, CodeNotFound)
	_, err = f.chat.WaitTurn(ctx, eve, turn.ID)
	requireChatCode(t, err, CodeNotFound)

	// Events replay after the given sequence, then follow.
	for _, typ := range []string{"turn.started", "token", "token"} {
		_, err := f.events.PublishEvent(ctx, turn.ID, typ, []byte(`{}`))
		require.NoError(t, err)
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, ch, err := f.chat.Events(ectx, alice, turn.ID, 1)
	require.NoError(t, err)
	require.Equal(t, uint64(2), (<-ch).Seq)
	require.Equal(t, uint64(3), (<-ch).Seq)

	// A log that cannot be followed is an internal error, not a 404.
	f.events.followErr = errors.New("stream gone")
	_, _, err = f.chat.Events(ctx, alice, turn.ID, 0)
	require.ErrorContains(t, err, "stream gone")
	require.Empty(t, ErrorCode(err))
	require.True(t, turnevent.IsTerminal(turnevent.Cancelled) && turnevent.IsTerminal(turnevent.Failed) && turnevent.IsTerminal(turnevent.Completed))
	require.False(t, turnevent.IsTerminal("token"))
}

func TestChatCancel(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t, ChatConfig{})
	ctx := context.Background()
	alice := f.user(t, "alice")

	// A queued turn ends at once, with an event for whoever follows it.
	queued := f.submit(t, alice, f.session(t, alice), "queued")
	got, err := f.chat.Cancel(ctx, alice, queued.ID)
	require.NoError(t, err)
	require.Equal(t, store.TurnCancelled, got.Status)
	require.NotNil(t, got.FinishedAt)
	require.Equal(t, []string{turnevent.Cancelled}, f.events.types(queued.ID))
	_, ok, err := f.store.ClaimTurn(ctx, queued.ID)
	require.NoError(t, err)
	require.False(t, ok, "a worker never runs a cancelled turn")
	require.Empty(t, f.signals, "no worker to signal")

	// A running turn is flagged and its worker signalled; it stays running until
	// the worker stops.
	running := f.submit(t, alice, f.session(t, alice), "running")
	claimed, _, err := f.store.ClaimTurn(ctx, running.ID)
	require.NoError(t, err)
	got, err = f.chat.Cancel(ctx, alice, running.ID)
	require.NoError(t, err)
	require.Equal(t, store.TurnRunning, got.Status)
	require.Equal(t, []string{running.ID}, f.signals)
	require.Empty(t, f.events.types(running.ID), "the worker publishes turn.cancelled with the partial answer")
	cancel, err := f.store.CheckFence(ctx, running.ID, claimed.Attempt)
	require.NoError(t, err)
	require.True(t, cancel, "the flag is the fallback for a lost signal")

	// A lost signal is not the user's problem.
	f.sigErr = errors.New("nats down")
	_, err = f.chat.Cancel(ctx, alice, running.ID)
	require.NoError(t, err)
	require.Len(t, f.signals, 2)

	// An ended turn is left as it was.
	_, err = f.store.FinishTurn(ctx, running.ID, claimed.Attempt, store.TurnOutcome{Status: store.TurnCompleted, Answer: "done", SaveMessage: true})
	require.NoError(t, err)
	got, err = f.chat.Cancel(ctx, alice, running.ID)
	require.NoError(t, err)
	require.Equal(t, store.TurnCompleted, got.Status)
	require.Len(t, f.signals, 2, "no signal for an ended turn")

	// The cancellation cannot be announced: the caller hears of it.
	f.events.publishErr = errors.New("stream full")
	other := f.submit(t, alice, f.session(t, alice), "other")
	_, err = f.chat.Cancel(ctx, alice, other.ID)
	require.ErrorContains(t, err, "stream full")
}

func TestChatWaitTurn(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t, ChatConfig{})
	ctx := context.Background()
	alice := f.user(t, "alice")
	turn := f.submit(t, alice, f.session(t, alice), "wait for me")
	claimed, _, err := f.store.ClaimTurn(ctx, turn.ID)
	require.NoError(t, err)

	// A waiter whose context ends gets the context's error.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = f.chat.WaitTurn(short, alice, turn.ID)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// A waiter returns the stored turn once the terminal event arrives.
	type result struct {
		turn Turn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		got, err := f.chat.WaitTurn(ctx, alice, turn.ID)
		done <- result{got, err}
	}()
	_, err = f.events.PublishEvent(ctx, turn.ID, "token", []byte(`{"text":"Hi"}`))
	require.NoError(t, err)
	select {
	case <-done:
		t.Fatal("WaitTurn returned before the turn ended")
	case <-time.After(50 * time.Millisecond):
	}
	_, err = f.store.FinishTurn(ctx, turn.ID, claimed.Attempt, store.TurnOutcome{Status: store.TurnCompleted, Answer: "Hi", SaveMessage: true})
	require.NoError(t, err)
	data, _ := json.Marshal(map[string]string{"answer": "Hi"})
	_, err = f.events.PublishEvent(ctx, turn.ID, turnevent.Completed, data)
	require.NoError(t, err)
	select {
	case r := <-done:
		require.NoError(t, r.err)
		require.Equal(t, store.TurnCompleted, r.turn.Status)
		require.Equal(t, "Hi", *r.turn.Answer)
	case <-time.After(5 * time.Second):
		t.Fatal("WaitTurn did not return after the terminal event")
	}

	// A waiter the log lets go of mid-turn follows again from where it was.
	cut := f.submit(t, alice, f.session(t, alice), "cut")
	cc, _, err := f.store.ClaimTurn(ctx, cut.ID)
	require.NoError(t, err)
	f.events.mu.Lock()
	f.events.cutAfter = 1
	f.events.mu.Unlock()
	go func() {
		got, err := f.chat.WaitTurn(ctx, alice, cut.ID)
		done <- result{got, err}
	}()
	for _, text := range []string{"a", "b", "c"} {
		_, err = f.events.PublishEvent(ctx, cut.ID, "token", fmt.Appendf(nil, `{"text":%q}`, text))
		require.NoError(t, err)
	}
	_, err = f.store.FinishTurn(ctx, cut.ID, cc.Attempt, store.TurnOutcome{Status: store.TurnCompleted, Answer: "abc", SaveMessage: true})
	require.NoError(t, err)
	_, err = f.events.PublishEvent(ctx, cut.ID, turnevent.Completed, []byte(`{"answer":"abc"}`))
	require.NoError(t, err)
	select {
	case r := <-done:
		require.NoError(t, r.err)
		require.Equal(t, store.TurnCompleted, r.turn.Status)
	case <-time.After(5 * time.Second):
		t.Fatal("WaitTurn did not follow the log again after it was let go")
	}
	f.events.mu.Lock()
	f.events.cutAfter = 0
	f.events.mu.Unlock()

	// An ended turn returns at once, even when its log holds no terminal event.
	silent := f.submit(t, alice, f.session(t, alice), "silent")
	sc, _, err := f.store.ClaimTurn(ctx, silent.ID)
	require.NoError(t, err)
	_, err = f.store.FinishTurn(ctx, silent.ID, sc.Attempt, store.TurnOutcome{Status: store.TurnFailed,
		Error: &store.TurnError{Code: "llm_unavailable", Message: "down"}})
	require.NoError(t, err)
	got, err := f.chat.WaitTurn(ctx, alice, silent.ID)
	require.NoError(t, err)
	require.Equal(t, store.TurnFailed, got.Status)
	require.Equal(t, "llm_unavailable", got.Error.Code)
}
