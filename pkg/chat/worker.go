// Package chat is the agent worker's job handler: it claims a turn with a new attempt
// number (the fence), runs the agent loop with the session's history, streams every
// event to the turn's subject, and persists the answer, the tool runs and the usage.
// A worker that was overtaken by a newer attempt writes nothing more.
package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/tracing"
	"github.com/youworker/youworker/pkg/turnevent"
)

// CancelSubject is where the API signals that a running turn must stop.
func CancelSubject(turnID string) string { return "yw.turn.cancel." + turnID }

var (
	errCancelled = errors.New("turn cancelled by its user")
	errFenced    = errors.New("turn taken over by a newer attempt")
)

// Runner runs the agent loop for one turn.
type Runner interface {
	Run(ctx context.Context, in agent.Input, sink agent.Sink) (agent.Output, error)
}

// Config tunes the worker.
type Config struct {
	// FenceEvery is how often a running turn re-checks its fence and cancel flag in
	// Postgres, the fallback for a missed cancel signal.
	FenceEvery time.Duration
	// ModelName is recorded on turns when the model has no name of its own (extractive).
	ModelName string
	// Queue, when set, makes each turn wait for a slot of its model before it
	// starts (the fleet-wide fair queue); nil runs turns at once.
	Queue ModelQueue
}

// ModelQueue hands out a model's slots to turns (modelqueue.Queue).
type ModelQueue interface {
	Acquire(ctx context.Context, turn store.Turn, onPosition func(position int) error) (release func(), err error)
}

// Worker handles chat jobs.
type Worker struct {
	store  *store.Store
	events agent.EventPublisher
	nc     *nats.Conn
	runner Runner
	cfg    Config
	logger *slog.Logger
}

// New returns the chat worker. nc carries cancel signals; it may be nil in tests.
func New(st *store.Store, events agent.EventPublisher, nc *nats.Conn, runner Runner, cfg Config, logger *slog.Logger) *Worker {
	if cfg.FenceEvery <= 0 {
		cfg.FenceEvery = time.Second
	}
	return &Worker{store: st, events: events, nc: nc, runner: runner, cfg: cfg, logger: logger.With("component", "chat")}
}

// Handle runs one chat job.
func (w *Worker) Handle(ctx context.Context, m *queue.Msg) error {
	var j job.ChatJob
	if err := job.Decode(m.Data, &j); err != nil {
		return err
	}
	start, ok, err := w.store.StartTurn(ctx, j.TurnID)
	if err != nil {
		return err
	}
	if !ok {
		// Finished or cancelled before this delivery: by an attempt that may have
		// stored its end without publishing it.
		return w.ensureEnded(ctx, j.TurnID)
	}
	turn := start.Turn
	log := queue.Logger(ctx, w.logger).With("turn_id", turn.ID, "attempt", turn.Attempt)
	// Events outlive the turn's own cancellation so turn.cancelled still goes out.
	ew := agent.NewEventWriter(context.WithoutCancel(ctx), w.events, turn.ID, log)
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := ew.Close(closeCtx); err != nil {
			log.WarnContext(ctx, "closing turn events", "error", err)
		}
	}()
	if turn.Attempt > 1 {
		if err := ew.TurnRestarted(turn.Attempt); err != nil {
			return err
		}
	}
	ctx, span := tracing.Start(ctx, "chat.turn", attribute.String("chat.turn.id", turn.ID), attribute.Int("chat.turn.attempt", turn.Attempt),
		attribute.String("gen_ai.request.model", turn.Model), attribute.String("enduser.id", turn.UserID))
	err = w.run(ctx, log, start, ew)
	if err == nil {
		// The turn's end is stored: unless its event is stored too, the job comes
		// back and ensureEnded publishes it, so no client waits for it forever.
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if cerr := ew.Close(closeCtx); cerr != nil {
			err = fmt.Errorf("publish the end of the turn: %w", cerr)
		}
		cancel()
	}
	tracing.End(span, &err)
	return err
}

// eventLog tells whether a turn's end reached the event log (queue.Turns).
type eventLog interface {
	LastEventType(ctx context.Context, turnID string) (string, error)
}

// ensureEnded publishes the terminal event of an ended turn whose log lacks it,
// built from the turn as stored. The attempt that ended the turn may have died,
// or lost NATS, between storing the end and publishing it; its job comes back
// here. A terminal event carries a message id of its turn, so one that was
// stored meanwhile after all is not doubled.
func (w *Worker) ensureEnded(ctx context.Context, turnID string) error {
	events, ok := w.events.(eventLog)
	if !ok {
		return nil
	}
	// A request the stream never answers (a node going away) must fail the
	// job, which comes back, rather than hold it forever.
	ctx, cancel := context.WithTimeout(ctx, ensureEndedTimeout)
	defer cancel()
	turn, err := w.store.GetTurn(ctx, turnID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted with its chat
	}
	if err != nil || !turn.Terminal() {
		return err
	}
	last, err := events.LastEventType(ctx, turnID)
	if err != nil || turnevent.IsTerminal(last) {
		return err
	}
	var typ string
	var payload any
	switch turn.Status {
	case store.TurnCompleted:
		msgID, err := w.answerID(ctx, turn)
		if err != nil {
			return err
		}
		u := llm.Usage{}
		if turn.Usage != nil {
			u = llm.Usage{PromptTokens: turn.Usage.PromptTokens, CompletionTokens: turn.Usage.CompletionTokens}
		}
		typ, payload = turnevent.Completed, agent.TurnCompletedEvent{MessageID: msgID, Answer: deref(turn.Answer),
			Citations: agentCitations(turn.Citations), Usage: u}
	case store.TurnCancelled:
		typ, payload = turnevent.Cancelled, agent.TurnCancelledEvent{Answer: deref(turn.Answer)}
	default:
		e := agent.TurnError{Code: "failed", Message: "the turn failed"}
		if turn.Error != nil {
			e = agent.TurnError{Code: turn.Error.Code, Message: turn.Error.Message}
		}
		typ, payload = turnevent.Failed, agent.TurnFailedEvent{Error: e}
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	if _, err := w.events.PublishEvent(ctx, turnID, typ, data); err != nil {
		return err
	}
	queue.Logger(ctx, w.logger).WarnContext(ctx, "published the end of a turn its attempt stored without publishing", "turn_id", turnID, "event", typ)
	return nil
}

// ensureEndedTimeout bounds ensureEnded's reads and its publish.
const ensureEndedTimeout = 30 * time.Second

// answerID is the id of the assistant message a completed turn stored.
func (w *Worker) answerID(ctx context.Context, turn store.Turn) (string, error) {
	msgs, err := w.store.ListMessages(ctx, turn.SessionID)
	if err != nil {
		return "", err
	}
	for _, m := range msgs {
		if m.Role == "assistant" && m.TurnID != nil && *m.TurnID == turn.ID {
			return m.ID, nil
		}
	}
	return "", nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// streamed waits until every event the attempt wrote is stored. An attempt whose
// events did not all reach the log must not end the turn — a client would miss
// part of the answer, unaware — so its job is retried and the next attempt
// starts over with turn.restarted.
func streamed(ctx context.Context, ew *agent.EventWriter) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := ew.Flush(fctx); err != nil {
		return fmt.Errorf("the attempt's events were not all stored: %w", err)
	}
	return nil
}

func (w *Worker) run(ctx context.Context, log *slog.Logger, start store.TurnStart, ew *agent.EventWriter) error {
	turn := start.Turn
	in, err := input(start)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	stopWatch := w.watch(runCtx, turn, stop)
	defer stopWatch()

	release := func() {}
	if w.cfg.Queue != nil {
		var err error
		release, err = w.cfg.Queue.Acquire(runCtx, turn, ew.TurnQueued)
		switch cause := context.Cause(runCtx); {
		case err == nil:
			defer release()
		case errors.Is(cause, errFenced):
			log.WarnContext(ctx, "turn taken over by another worker while it waited for the model; stopping")
			return nil
		case errors.Is(cause, errCancelled):
			return w.finish(ctx, turn, ew, store.TurnOutcome{Status: store.TurnCancelled})
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			return fmt.Errorf("wait for the model: %w", err)
		}
	}
	if err := ew.TurnStarted(turn.Attempt); err != nil {
		return err
	}
	sink := &recordingSink{EventWriter: ew, store: w.store, turn: turn, args: map[string]json.RawMessage{}}
	out, err := w.runner.Run(runCtx, in, sink)
	// The model is done with this turn: the next in line may have it while
	// the answer is stored.
	release()
	stopWatch()
	cause := context.Cause(runCtx)
	switch {
	case errors.Is(cause, errFenced) || errors.Is(sink.err, store.ErrFenced):
		log.WarnContext(ctx, "turn taken over by another worker; stopping")
		return nil
	case errors.Is(cause, errCancelled):
		return w.finish(ctx, turn, ew, store.TurnOutcome{Status: store.TurnCancelled, Answer: out.Answer,
			Citations: citations(out), Usage: usage(out), SaveMessage: out.Answer != ""})
	case ctx.Err() != nil:
		return ctx.Err() // shutting down: another worker takes the turn over
	case errors.Is(err, llm.ErrModelNotFound):
		return w.fail(ctx, turn, ew, "model_not_found", fmt.Sprintf("the model %q is not available", turn.Model))
	case errors.Is(err, llm.ErrUnavailable):
		return w.fail(ctx, turn, ew, "llm_unavailable", "the language model could not be reached; try again later")
	case isContextExceeded(err):
		// Asking again cannot help: the question itself is too long for the model.
		ce, _ := errors.AsType[*agent.ContextExceededError](err)
		return w.fail(ctx, turn, ew, "context_exceeded", ce.Error())
	case err != nil:
		return err
	}
	return w.finish(ctx, turn, ew, store.TurnOutcome{Status: store.TurnCompleted, Answer: out.Answer,
		Citations: citations(out), Usage: usage(out), SaveMessage: true})
}

func isContextExceeded(err error) bool {
	_, ok := errors.AsType[*agent.ContextExceededError](err)
	return ok
}

// input is what the agent needs: the user as the rule sees them now, and the
// session's history before this turn.
func input(start store.TurnStart) (agent.Input, error) {
	turn, user, msgs := start.Turn, start.User, start.Messages
	// A turn asked with a key limited to some groups sees only those.
	limit := start.GroupLimit
	principal := access.Principal{UserID: user.ID, Name: user.Name, IsAdmin: user.IsAdmin, GroupIDs: start.GroupIDs}
	in := agent.Input{
		Principal:    principal.Limit(access.Limits{GroupIDs: limit}),
		ToolsEnabled: turn.ToolsEnabled, Model: turn.Model,
		// The documents and groups the user grounded the turn in: a filter on top
		// of the principal's access, never a widening of it.
		Scope: turn.Scope,
	}
	// A place asked more than once (regenerated, or its question edited) keeps
	// every answer, but the chat goes on from its newest turn only: the others
	// are no part of the history.
	newest := map[string]string{}
	for _, m := range msgs {
		if m.TurnID != nil {
			newest[m.Slot()] = *m.TurnID
		}
	}
	for _, m := range msgs {
		if m.TurnID != nil && *m.TurnID == turn.ID {
			if m.Role == "user" {
				in.UserMessage = m.Content
			}
			continue
		}
		if m.TurnID != nil && newest[m.Slot()] != *m.TurnID {
			continue
		}
		in.History = append(in.History, llm.Message{Role: m.Role, Content: m.Content})
	}
	if in.UserMessage == "" {
		return agent.Input{}, job.Permanent(fmt.Errorf("turn %s has no user message", turn.ID))
	}
	return in, nil
}

// watch stops the run when the user cancels (a NATS signal, or the flag in Postgres
// as a fallback) or when a newer attempt has taken the turn over.
func (w *Worker) watch(ctx context.Context, turn store.Turn, stop context.CancelCauseFunc) func() {
	done := make(chan struct{})
	var once sync.Once
	var sub *nats.Subscription
	if w.nc != nil {
		sub, _ = w.nc.Subscribe(CancelSubject(turn.ID), func(*nats.Msg) { stop(errCancelled) })
	}
	go func() {
		// Turns submitted together would check together, a burst of queries every
		// period; a random phase spreads them.
		t := time.NewTimer(w.cfg.FenceEvery/2 + rand.N(w.cfg.FenceEvery))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				t.Reset(w.cfg.FenceEvery)
				cancel, err := w.store.CheckFence(ctx, turn.ID, turn.Attempt)
				switch {
				case errors.Is(err, store.ErrFenced):
					stop(errFenced)
				case err == nil && cancel:
					stop(errCancelled)
				}
			}
		}
	}()
	return func() {
		once.Do(func() {
			close(done)
			if sub != nil {
				_ = sub.Unsubscribe()
			}
		})
	}
}

func (w *Worker) finish(ctx context.Context, turn store.Turn, ew *agent.EventWriter, o store.TurnOutcome) error {
	if err := streamed(ctx, ew); err != nil {
		return err
	}
	msgID, err := w.store.FinishTurn(context.WithoutCancel(ctx), turn.ID, turn.Attempt, o)
	if errors.Is(err, store.ErrFenced) {
		return nil
	}
	if err != nil {
		return err
	}
	if o.Status == store.TurnCancelled {
		return ew.TurnCancelled(o.Answer)
	}
	return ew.TurnCompleted(msgID, o.Answer, agentCitations(o.Citations), llm.Usage{
		PromptTokens: o.Usage.PromptTokens, CompletionTokens: o.Usage.CompletionTokens})
}

func (w *Worker) fail(ctx context.Context, turn store.Turn, ew *agent.EventWriter, code, message string) error {
	if err := streamed(ctx, ew); err != nil {
		return err
	}
	err := w.finishFailed(ctx, turn, code, message)
	if errors.Is(err, store.ErrFenced) {
		return nil
	}
	if err != nil {
		return err
	}
	return ew.TurnFailed(code, message)
}

func (w *Worker) finishFailed(ctx context.Context, turn store.Turn, code, message string) error {
	_, err := w.store.FinishTurn(context.WithoutCancel(ctx), turn.ID, turn.Attempt,
		store.TurnOutcome{Status: store.TurnFailed, Error: &store.TurnError{Code: code, Message: message}})
	return err
}

// OnDeadLetter ends a turn whose job exhausted its deliveries as failed, with an event
// so a client following it is not left waiting.
func (w *Worker) OnDeadLetter(ctx context.Context, m *queue.Msg, reason error) {
	var j job.ChatJob
	if err := job.Decode(m.Data, &j); err != nil || j.TurnID == "" {
		w.logger.ErrorContext(ctx, "undecodable chat job dead-lettered", "error", reason)
		return
	}
	msg := "the turn failed repeatedly and was given up"
	changed, err := w.store.FailTurn(ctx, j.TurnID, "worker_gave_up", msg)
	if err != nil {
		w.logger.ErrorContext(ctx, "mark turn failed", "turn_id", j.TurnID, "error", err)
		return
	}
	if !changed {
		return
	}
	data, _ := json.Marshal(agent.TurnFailedEvent{Error: agent.TurnError{Code: "worker_gave_up", Message: msg}})
	if _, err := w.events.PublishEvent(ctx, j.TurnID, turnevent.Failed, data); err != nil {
		w.logger.ErrorContext(ctx, "publish turn.failed", "turn_id", j.TurnID, "error", err)
	}
}

// recordingSink forwards events to the writer and records each finished tool call.
type recordingSink struct {
	*agent.EventWriter
	store *store.Store
	turn  store.Turn
	mu    sync.Mutex
	args  map[string]json.RawMessage
	err   error
}

func (s *recordingSink) ToolStarted(callID, name string, args json.RawMessage) error {
	s.mu.Lock()
	s.args[callID] = args
	s.mu.Unlock()
	return s.EventWriter.ToolStarted(callID, name, args)
}

func (s *recordingSink) ToolFinished(callID, name, status string, latency time.Duration, preview string) error {
	s.mu.Lock()
	args := s.args[callID]
	s.mu.Unlock()
	err := s.store.RecordToolRun(context.Background(), s.turn.ID, s.turn.Attempt, store.ToolRun{
		CallID: callID, Name: name, Args: args, Status: status, LatencyMS: int(latency.Milliseconds()), Preview: preview})
	if err != nil {
		s.err = err
		return err // fenced out or the database is gone: stop this attempt
	}
	return s.EventWriter.ToolFinished(callID, name, status, latency, preview)
}

func citations(out agent.Output) []store.Citation {
	cs := make([]store.Citation, len(out.Citations))
	for i, c := range out.Citations {
		cs[i] = store.Citation{Index: c.Index, DocumentID: c.DocumentID, Filename: c.Filename, ChunkIndex: c.ChunkIndex, Score: c.Score, Matched: c.Matched, URL: c.URL}
	}
	return cs
}

func agentCitations(cs []store.Citation) []agent.Citation {
	out := make([]agent.Citation, len(cs))
	for i, c := range cs {
		out[i] = agent.Citation{Index: c.Index, DocumentID: c.DocumentID, Filename: c.Filename, ChunkIndex: c.ChunkIndex, Score: c.Score, Matched: c.Matched, URL: c.URL}
	}
	return out
}

func usage(out agent.Output) *store.Usage {
	return &store.Usage{PromptTokens: out.Usage.PromptTokens, CompletionTokens: out.Usage.CompletionTokens}
}
