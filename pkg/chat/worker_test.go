package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/chat"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/ollamahttp"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/turnevent"
)

// rig is a real Postgres, an embedded JetStream and a scripted model.
type rig struct {
	st    *store.Store
	q     *queuetest.Server
	turns *queue.Turns
	llm   *llmtest.Server
}

func newRig(t *testing.T, opts ...queuetest.Option) *rig {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	q := queuetest.Start(t, opts...)
	return &rig{st: store.New(pool), q: q, turns: queue.NewTurns(q.JS, nil, nil), llm: llmtest.New(t)}
}

// runner is the production agent loop on the scripted model.
func (r *rig) runner(t *testing.T, tools ...agent.Tool) *agent.Runner {
	t.Helper()
	model, err := llm.NewOllama(llm.OllamaConfig{URL: r.llm.URL, Model: llmtest.ChatModel, Settings: ollamahttp.Settings{MaxRetries: -1}}, logging.Discard())
	require.NoError(t, err)
	t.Cleanup(func() { _ = model.Close() })
	run, err := agent.NewRunner(model, agent.Toolset{Tools: tools}, agent.Config{}, logging.Discard())
	require.NoError(t, err)
	return run
}

func (r *rig) worker(runner chat.Runner, fenceEvery time.Duration) *chat.Worker {
	return chat.New(r.st, r.turns, r.q.Conn, runner, chat.Config{FenceEvery: fenceEvery}, logging.Discard())
}

// newTurn records a user message and its queued turn.
func (r *rig) newTurn(t *testing.T, content string, tools bool) store.Turn {
	t.Helper()
	ctx := context.Background()
	u, err := r.st.CreateUser(ctx, "user"+strings.ReplaceAll(t.Name(), "/", "_"), false)
	require.NoError(t, err)
	s, err := r.st.CreateSession(ctx, u.ID, "")
	require.NoError(t, err)
	_, turn, err := r.st.CreateTurn(ctx, s.ID, u.ID, content, llmtest.ChatModel, tools, nil)
	require.NoError(t, err)
	return turn
}

func (r *rig) enqueue(t *testing.T, turnID string) {
	t.Helper()
	payload, err := job.Encode(job.ChatJob{TurnID: turnID})
	require.NoError(t, err)
	require.NoError(t, queue.NewPublisher(r.q.JS, nil).Publish(context.Background(), job.SubjectChat, job.ChatJob{TurnID: turnID}.MsgID(), payload, nil))
}

// consume runs a worker replica on the chat consumer; the returned function kills it.
func (r *rig) consume(t *testing.T, w *chat.Worker) (kill func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- queue.Run(ctx, r.q.JS, queue.ConsumerChat, w.Handle, queue.RunOptions{
			Concurrency: 2, FetchWait: 100 * time.Millisecond, DrainTimeout: time.Millisecond,
			RetryBase: 20 * time.Millisecond, OnDeadLetter: w.OnDeadLetter, Logger: logging.Discard(),
		})
	}()
	var once sync.Once
	kill = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Error("worker did not stop")
			}
		})
	}
	t.Cleanup(kill)
	return kill
}

// eventLog follows a turn's events in the background.
type eventLog struct {
	mu     sync.Mutex
	events []queue.Event
}

func (r *rig) follow(t *testing.T, turnID string) *eventLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := r.turns.Events(ctx, turnID, 0)
	require.NoError(t, err)
	l := &eventLog{}
	go func() {
		for ev := range ch {
			l.mu.Lock()
			l.events = append(l.events, ev)
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *eventLog) all() []queue.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]queue.Event(nil), l.events...)
}

func (l *eventLog) count(typ string) int {
	n := 0
	for _, e := range l.all() {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// waitFor polls until cond holds on the events, or fails after a deadline.
func (l *eventLog) waitFor(t *testing.T, what string, cond func([]queue.Event) bool) []queue.Event {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		evs := l.all()
		if cond(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; events: %v", what, types(evs))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func hasType(typ string) func([]queue.Event) bool {
	return func(evs []queue.Event) bool {
		for _, e := range evs {
			if e.Type == typ {
				return true
			}
		}
		return false
	}
}

func types(evs []queue.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func tokenText(evs []queue.Event) string {
	var b strings.Builder
	for _, e := range evs {
		if e.Type == turnevent.Token {
			var d agent.TextEvent
			_ = json.Unmarshal(e.Data, &d)
			b.WriteString(d.Text)
		}
	}
	return b.String()
}

func (r *rig) assistantMessages(t *testing.T, turn store.Turn) []store.Message {
	t.Helper()
	msgs, err := r.st.ListMessages(context.Background(), turn.SessionID)
	require.NoError(t, err)
	var out []store.Message
	for _, m := range msgs {
		if m.Role == "assistant" {
			out = append(out, m)
		}
	}
	return out
}

func words(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + string(rune('a'+i%26)) + " "
	}
	return out
}

func TestWorkerKilledMidTurnIsRedeliveredAndStartsOver(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	// The first attempt streams slowly and is killed; the second answers at once.
	r.llm.Reply(
		llmtest.Script{Tokens: words("slow", 200), TokenDelay: 20 * time.Millisecond},
		llmtest.Script{Tokens: []string{"The ", "whole ", "answer."}},
	)
	turn := r.newTurn(t, "Tell me everything", false)
	log := r.follow(t, turn.ID)
	run := r.runner(t)

	kill := r.consume(t, r.worker(run, time.Second))
	r.enqueue(t, turn.ID)
	log.waitFor(t, "three tokens of the first attempt", func(evs []queue.Event) bool {
		return strings.Count(tokenText(evs), "slow") >= 3
	})
	kill() // the process dies mid-turn: its job goes back to the stream

	r.consume(t, r.worker(run, time.Second)) // a replica takes over
	evs := log.waitFor(t, "turn.completed", hasType(turnevent.Completed))

	got := types(evs)
	require.Equal(t, turnevent.Started, got[0])
	restarted := -1
	for i, typ := range got {
		if typ == turnevent.Restarted {
			require.Equal(t, -1, restarted, "one restart: %v", got)
			restarted = i
		}
	}
	require.Positive(t, restarted, "the new attempt announces the restart: %v", got)
	var re agent.TurnRestartedEvent
	require.NoError(t, json.Unmarshal(evs[restarted].Data, &re))
	require.Equal(t, 2, re.Attempt)
	require.Equal(t, turnevent.Started, got[restarted+1])
	require.Contains(t, tokenText(evs[:restarted]), "slow", "the first attempt's text was streamed")
	require.Equal(t, "The whole answer.", tokenText(evs[restarted:]), "after the restart the answer starts over")
	require.Equal(t, 1, log.count(turnevent.Completed))
	require.Equal(t, turnevent.Completed, got[len(got)-1])

	stored, err := r.st.GetTurn(context.Background(), turn.ID)
	require.NoError(t, err)
	require.Equal(t, store.TurnCompleted, stored.Status)
	require.Equal(t, 2, stored.Attempt)
	require.Equal(t, "The whole answer.", *stored.Answer)
	msgs := r.assistantMessages(t, turn)
	require.Len(t, msgs, 1, "exactly one assistant message per turn")
	require.Equal(t, "The whole answer.", msgs[0].Content)

	reqs := r.llm.ChatRequests()
	require.Len(t, reqs, 2, "the model was asked again from the start")
	require.Equal(t, reqs[0].Messages, reqs[1].Messages)
}

// failingRunner fails every run with an error that is not the turn's fault.
type failingRunner struct {
	mu   sync.Mutex
	runs int
}

func (f *failingRunner) Run(context.Context, agent.Input, agent.Sink) (agent.Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs++
	return agent.Output{}, errors.New("tool backend exploded")
}

func TestTurnIsGivenUpAfterTheDeliveryLimit(t *testing.T) {
	t.Parallel()
	r := newRig(t, queuetest.WithConfig(func(c *queue.Config) { c.MaxDeliver = 3 }))
	turn := r.newTurn(t, "Doomed", true)
	log := r.follow(t, turn.ID)
	runner := &failingRunner{}
	r.consume(t, r.worker(runner, time.Second))
	r.enqueue(t, turn.ID)

	evs := log.waitFor(t, "turn.failed", hasType(turnevent.Failed))
	var failed agent.TurnFailedEvent
	require.NoError(t, json.Unmarshal(evs[len(evs)-1].Data, &failed))
	require.Equal(t, "worker_gave_up", failed.Error.Code)
	require.Equal(t, 3, log.count(turnevent.Started), "one attempt per delivery")
	require.Equal(t, 2, log.count(turnevent.Restarted))
	runner.mu.Lock()
	require.Equal(t, 3, runner.runs)
	runner.mu.Unlock()

	stored, err := r.st.GetTurn(context.Background(), turn.ID)
	require.NoError(t, err)
	require.Equal(t, store.TurnFailed, stored.Status)
	require.Equal(t, "worker_gave_up", stored.Error.Code)
	require.NotNil(t, stored.FinishedAt)
	require.Empty(t, r.assistantMessages(t, turn))
}

func TestStalledWorkerIsFencedOutWithinFenceEvery(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	// The stalled attempt: a few tokens, then the model hangs.
	r.llm.Reply(llmtest.Script{Tokens: []string{"Partial ", "text"}, Stall: true})
	turn := r.newTurn(t, "Hang on", false)
	log := r.follow(t, turn.ID)
	const fenceEvery = 100 * time.Millisecond
	w := r.worker(r.runner(t), fenceEvery)

	done := make(chan error, 1)
	go func() {
		done <- w.Handle(context.Background(), &queue.Msg{Data: mustEncode(t, turn.ID), Delivery: 1})
	}()
	log.waitFor(t, "the stalled attempt's text", func(evs []queue.Event) bool { return tokenText(evs) == "Partial text" })

	// Another worker claims the turn (its job was redelivered past AckWait).
	second, ok, err := r.st.ClaimTurn(context.Background(), turn.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 2, second.Attempt)
	claimed := time.Now()

	select {
	case err := <-done:
		require.NoError(t, err, "being fenced out is not a failure of the job")
		t.Logf("the stalled worker stopped %s after the takeover (fence every %s)", time.Since(claimed), fenceEvery)
	case <-time.After(10 * fenceEvery):
		t.Fatal("the stalled worker did not stop after being fenced out")
	}

	// Whatever the old attempt still tries to write is refused.
	_, err = r.st.FinishTurn(context.Background(), turn.ID, 1, store.TurnOutcome{Status: store.TurnCompleted, Answer: "stale", SaveMessage: true})
	require.ErrorIs(t, err, store.ErrFenced)
	err = r.st.RecordToolRun(context.Background(), turn.ID, 1, store.ToolRun{CallID: "c1", Name: "current_time", Status: "ok"})
	require.ErrorIs(t, err, store.ErrFenced)

	stored, err := r.st.GetTurn(context.Background(), turn.ID)
	require.NoError(t, err)
	require.Equal(t, store.TurnRunning, stored.Status, "the turn belongs to the new attempt")
	require.Equal(t, 2, stored.Attempt)
	require.Nil(t, stored.Answer)
	require.Empty(t, r.assistantMessages(t, turn))
	for _, typ := range []string{turnevent.Completed, turnevent.Failed, turnevent.Cancelled} {
		require.Zero(t, log.count(typ), "the fenced attempt announces no end")
	}
}

// gateTool blocks until released, so a test can take the turn over mid-call.
type gateTool struct {
	started chan struct{}
	release chan struct{}
}

func (g *gateTool) Spec() llm.ToolSpec {
	return llm.ToolSpec{Name: "slow_lookup", Description: "Looks something up slowly.", Parameters: json.RawMessage(`{"type":"object"}`)}
}

func (g *gateTool) Call(ctx context.Context, _ agent.Call) (agent.Result, error) {
	close(g.started)
	select {
	case <-g.release:
	case <-ctx.Done():
	}
	return agent.Result{Text: "found it"}, nil
}

func TestFencedWorkerCannotRecordItsToolRun(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.llm.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "slow_lookup", Arguments: map[string]any{}}}},
		llmtest.Script{Tokens: []string{"never", " sent"}},
	)
	turn := r.newTurn(t, "Look it up", true)
	log := r.follow(t, turn.ID)
	gate := &gateTool{started: make(chan struct{}), release: make(chan struct{})}
	// A fence check interval far away: only the conditional write can stop it.
	w := r.worker(r.runner(t, gate), time.Hour)

	done := make(chan error, 1)
	go func() {
		done <- w.Handle(context.Background(), &queue.Msg{Data: mustEncode(t, turn.ID), Delivery: 1})
	}()
	select {
	case <-gate.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the tool was not called")
	}
	_, ok, err := r.st.ClaimTurn(context.Background(), turn.ID)
	require.NoError(t, err)
	require.True(t, ok)
	close(gate.release)

	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the fenced worker went on")
	}
	log.waitFor(t, "tool.started", hasType(turnevent.ToolStarted))
	require.Zero(t, log.count(turnevent.ToolFinished), "a refused tool run is not announced")
	require.Equal(t, 1, r.llm.Count("/api/chat"), "the fenced attempt asks the model nothing more")

	var n int
	require.NoError(t, r.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM tool_runs WHERE turn_id = $1`, turn.ID).Scan(&n))
	require.Zero(t, n)
	stored, err := r.st.GetTurn(context.Background(), turn.ID)
	require.NoError(t, err)
	require.Equal(t, store.TurnRunning, stored.Status)
	require.Empty(t, r.assistantMessages(t, turn))
}

func mustEncode(t *testing.T, turnID string) []byte {
	t.Helper()
	b, err := job.Encode(job.ChatJob{TurnID: turnID})
	require.NoError(t, err)
	return b
}
