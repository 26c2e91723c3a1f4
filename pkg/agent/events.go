package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/youworker/youworker/pkg/llm"
)

// Turn event types, as the API streams them.
const (
	EventTurnStarted   = "turn.started"
	EventToken         = "token"
	EventThinking      = "thinking"
	EventToolStarted   = "tool.started"
	EventToolFinished  = "tool.finished"
	EventTurnRestarted = "turn.restarted"
	EventTurnCompleted = "turn.completed"
	EventTurnFailed    = "turn.failed"
	EventTurnCancelled = "turn.cancelled"
)

// TextEvent is the payload of token and thinking events.
type TextEvent struct {
	Text string `json:"text"`
}

// ToolStartedEvent is the payload of tool.started.
type ToolStartedEvent struct {
	CallID string          `json:"call_id"`
	Name   string          `json:"name"`
	Args   json.RawMessage `json:"args"`
}

// ToolFinishedEvent is the payload of tool.finished.
type ToolFinishedEvent struct {
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	LatencyMS int64  `json:"latency_ms"`
	Preview   string `json:"preview"`
}

// TurnStartedEvent is the payload of turn.started.
type TurnStartedEvent struct {
	TurnID  string `json:"turn_id"`
	Attempt int    `json:"attempt"`
}

// TurnRestartedEvent is the payload of turn.restarted.
type TurnRestartedEvent struct {
	Attempt int `json:"attempt"`
}

// TurnCompletedEvent is the payload of turn.completed.
type TurnCompletedEvent struct {
	MessageID string     `json:"message_id"`
	Answer    string     `json:"answer"`
	Citations []Citation `json:"citations"`
	Usage     llm.Usage  `json:"usage"`
}

// TurnError is the error object of turn.failed.
type TurnError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// TurnFailedEvent is the payload of turn.failed.
type TurnFailedEvent struct {
	Error TurnError `json:"error"`
}

// TurnCancelledEvent is the payload of turn.cancelled.
type TurnCancelledEvent struct {
	Answer string `json:"answer"`
}

// EventPublisher appends an event to a turn's log and returns once it is
// stored. *queue.Turns implements it.
type EventPublisher interface {
	PublishEvent(ctx context.Context, turnID, eventType string, data []byte) (uint64, error)
}

// ErrWriterClosed is returned by an EventWriter used after Close.
var ErrWriterClosed = errors.New("turn event writer closed")

// EventWriter publishes the events of one turn in order, one at a time. A
// token is published at once when nothing is in flight; tokens that arrive
// while a publish waits for its acknowledgement are joined into one token
// event, sent as soon as the acknowledgement comes. So an idle stream has
// the latency of one round trip per token, and a fast model is not paced by
// round trips. Other events queue behind pending tokens, keeping the order.
//
// Methods are safe for concurrent use and do not block on the network. The
// first publish error stops the writer (a gap in the log would corrupt the
// answer clients assemble) and is returned by every later call.
type EventWriter struct {
	pub    EventPublisher
	turnID string
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger

	mu        sync.Mutex
	cond      *sync.Cond
	queue     []*pendingEvent // not yet taken by the publisher
	busy      bool            // a publish is in flight
	closing   bool
	err       error
	lastSeq   uint64
	events    int
	done      chan struct{} // closed when the publishing goroutine exits
	closeDone chan struct{} // closed when Close has finished
	closeErr  error
}

type pendingEvent struct {
	typ  string
	data []byte
	text strings.Builder // token text, encoded when published
}

var _ Sink = (*EventWriter)(nil)

// NewEventWriter returns a writer for turnID's events and starts its
// publishing goroutine; Close stops it. ctx bounds publishing and carries the
// correlation id: give it one that outlives the turn's own cancellation, so
// that turn.cancelled can still be published.
func NewEventWriter(ctx context.Context, pub EventPublisher, turnID string, logger *slog.Logger) *EventWriter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &EventWriter{
		pub: pub, turnID: turnID, ctx: ctx, cancel: cancel,
		log:  logger.With("component", "agent.events", "turn_id", turnID),
		done: make(chan struct{}), closeDone: make(chan struct{}),
	}
	w.cond = sync.NewCond(&w.mu)
	go w.run()
	return w
}

func (w *EventWriter) run() {
	defer close(w.done)
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && !w.closing && w.err == nil {
			w.cond.Wait()
		}
		if w.err != nil || len(w.queue) == 0 {
			w.mu.Unlock()
			return
		}
		ev := w.queue[0]
		w.queue = w.queue[1:]
		w.busy = true
		w.mu.Unlock()

		data := ev.data
		if ev.typ == EventToken {
			// A struct of one string always encodes.
			data, _ = json.Marshal(TextEvent{Text: ev.text.String()})
		}
		seq, err := w.pub.PublishEvent(w.ctx, w.turnID, ev.typ, data)

		w.mu.Lock()
		w.busy = false
		if err != nil {
			w.err = fmt.Errorf("publish turn event: %w", err)
			w.queue = nil
			if w.ctx.Err() == nil { // not our own Close giving up
				w.log.Warn("turn event publishing stopped", "event", ev.typ, "error", err)
			}
		} else {
			w.lastSeq = seq
			w.events++
		}
		w.cond.Broadcast()
		w.mu.Unlock()
	}
}

// enqueue adds an event behind everything pending.
func (w *EventWriter) enqueue(typ string, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	w.queue = append(w.queue, &pendingEvent{typ: typ, data: data})
	w.cond.Broadcast()
	return nil
}

func (w *EventWriter) usable() error {
	switch {
	case w.err != nil:
		return w.err
	case w.closing:
		return ErrWriterClosed
	}
	return nil
}

// Token queues answer text; it joins a token event that is still waiting.
func (w *EventWriter) Token(text string) error {
	if text == "" {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if n := len(w.queue); n > 0 && w.queue[n-1].typ == EventToken {
		w.queue[n-1].text.WriteString(text)
		return nil
	}
	ev := &pendingEvent{typ: EventToken}
	ev.text.WriteString(text)
	w.queue = append(w.queue, ev)
	w.cond.Broadcast()
	return nil
}

// Thinking publishes reasoning text.
func (w *EventWriter) Thinking(text string) error {
	if text == "" {
		return nil
	}
	return w.enqueueJSON(EventThinking, TextEvent{Text: text})
}

// ToolStarted publishes tool.started.
func (w *EventWriter) ToolStarted(callID, name string, args json.RawMessage) error {
	if len(args) == 0 || !json.Valid(args) {
		args = json.RawMessage("{}")
	}
	return w.enqueueJSON(EventToolStarted, ToolStartedEvent{CallID: callID, Name: name, Args: args})
}

// ToolFinished publishes tool.finished.
func (w *EventWriter) ToolFinished(callID, name, status string, latency time.Duration, preview string) error {
	return w.enqueueJSON(EventToolFinished, ToolFinishedEvent{
		CallID: callID, Name: name, Status: status, LatencyMS: latency.Milliseconds(), Preview: preview,
	})
}

// TurnStarted publishes turn.started.
func (w *EventWriter) TurnStarted(attempt int) error {
	return w.enqueueJSON(EventTurnStarted, TurnStartedEvent{TurnID: w.turnID, Attempt: attempt})
}

// TurnRestarted publishes turn.restarted: clients discard the partial text
// of the earlier attempt.
func (w *EventWriter) TurnRestarted(attempt int) error {
	return w.enqueueJSON(EventTurnRestarted, TurnRestartedEvent{Attempt: attempt})
}

// TurnCompleted publishes turn.completed. Call Close afterwards to wait for it.
func (w *EventWriter) TurnCompleted(messageID, answer string, citations []Citation, usage llm.Usage) error {
	if citations == nil {
		citations = []Citation{} // the contract has a list, never null
	}
	return w.enqueueJSON(EventTurnCompleted, TurnCompletedEvent{
		MessageID: messageID, Answer: answer, Citations: citations, Usage: usage,
	})
}

// TurnFailed publishes turn.failed. Call Close afterwards to wait for it.
func (w *EventWriter) TurnFailed(code, message string) error {
	return w.enqueueJSON(EventTurnFailed, TurnFailedEvent{Error: TurnError{Code: code, Message: message}})
}

// TurnCancelled publishes turn.cancelled. Call Close afterwards to wait for it.
func (w *EventWriter) TurnCancelled(answer string) error {
	return w.enqueueJSON(EventTurnCancelled, TurnCancelledEvent{Answer: answer})
}

// Publish queues an event of any type with a JSON payload, for event types
// added after this writer.
func (w *EventWriter) Publish(eventType string, payload any) error {
	return w.enqueueJSON(eventType, payload)
}

// Flush waits until every event queued so far is stored, or ctx ends, and
// returns the writer's error if publishing failed.
func (w *EventWriter) Flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for (len(w.queue) > 0 || w.busy) && w.err == nil && ctx.Err() == nil {
		w.cond.Wait()
	}
	if w.err != nil {
		return w.err
	}
	if len(w.queue) > 0 || w.busy {
		return fmt.Errorf("flush turn events: %w", ctx.Err())
	}
	return nil
}

// Close publishes what is queued, waiting until ctx ends at most, then stops
// the writer. Events not confirmed when ctx ends are dropped and counted in
// the error.
func (w *EventWriter) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		<-w.closeDone
		return w.closeErr
	}
	w.closing = true
	w.cond.Broadcast()
	w.mu.Unlock()

	err := w.Flush(ctx)
	w.mu.Lock()
	pending := len(w.queue)
	if w.busy {
		pending++
	}
	w.mu.Unlock()
	w.cancel() // ends a publish still in flight
	<-w.done
	if pending > 0 && err != nil {
		err = fmt.Errorf("%w (%d events not confirmed)", err, pending)
	}
	w.mu.Lock()
	w.queue = nil
	w.closeErr = err
	w.mu.Unlock()
	close(w.closeDone)
	return err
}

// LastSeq returns the stream sequence of the last event stored.
func (w *EventWriter) LastSeq() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastSeq
}

// Published returns how many events were stored: fewer than were written
// means tokens were joined.
func (w *EventWriter) Published() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.events
}

func (w *EventWriter) enqueueJSON(typ string, payload any) error {
	data, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", typ, err)
	}
	return w.enqueue(typ, data)
}
