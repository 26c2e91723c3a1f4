package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/turnevent"
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

// TurnQueuedEvent is the payload of turn.queued.
type TurnQueuedEvent struct {
	Position int `json:"position"`
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

// AsyncEventPublisher appends an event without waiting for it to be stored;
// wait reports its sequence (or the failure) once the log has answered.
// Events published one after the other on it are stored in that order.
// *queue.Turns implements it; an EventWriter uses it when it can.
type AsyncEventPublisher interface {
	PublishEventAsync(ctx context.Context, turnID, eventType string, data []byte) (wait func(context.Context) (uint64, error), err error)
}

// MaxEventsInFlight bounds the events of one turn sent but not yet stored.
// Past it, tokens are joined until an acknowledgement frees a slot, so a fast
// model neither floods the log nor is paced by round trips. One is what
// measured best: with 100 turns streaming on two busy cores, windows of two
// and three sent a quarter more events, and the extra work cost more latency
// than the wait for an acknowledgement they saved. It also keeps the pending
// acknowledgements (1024 turns at most per worker) well under the JetStream
// client's default limit of 4000.
const MaxEventsInFlight = 1

// ErrWriterClosed is returned by an EventWriter used after Close.
var ErrWriterClosed = errors.New("turn event writer closed")

// EventWriter publishes the events of one turn in order. An event is sent at
// once, from the caller's goroutine, while fewer than MaxEventsInFlight are
// awaiting their acknowledgement; tokens that arrive when the window is full
// are joined into one token event, sent as soon as an acknowledgement comes.
// So an idle stream adds no wait at all to a token, and a fast model is not
// paced by round trips. Other events queue behind pending tokens, keeping the
// order. With a publisher that only publishes synchronously, the window is one
// event, published by the writer's goroutine.
//
// Methods are safe for concurrent use and do not block on the network. The
// first publish error stops the writer and is returned by every later call:
// events already sent behind the failed one may be stored, so the log of this
// attempt has a gap, and the turn must not go on; the next attempt starts with
// turn.restarted, on which clients discard the partial text.
type EventWriter struct {
	pub    EventPublisher
	async  AsyncEventPublisher // nil: publish synchronously from run
	turnID string
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger

	mu        sync.Mutex
	cond      *sync.Cond
	queue     []*pendingEvent // not yet sent
	inflight  []inflightEvent // sent, awaiting acknowledgement, in order
	busy      bool            // synchronous mode: a publish is in flight
	closing   bool
	err       error
	lastSeq   uint64
	events    int
	done      chan struct{} // closed when the writer's goroutine exits
	closeDone chan struct{} // closed when Close has finished
	closeErr  error
}

type pendingEvent struct {
	typ  string
	data []byte
	text []byte // token text, encoded when published
}

type inflightEvent struct {
	typ  string
	wait func(context.Context) (uint64, error)
}

var (
	_ Sink        = (*EventWriter)(nil)
	_ ContextSink = (*EventWriter)(nil)
)

// NewEventWriter returns a writer for turnID's events and starts its
// goroutine (which publishes, or collects acknowledgements when pub is also an
// AsyncEventPublisher); Close stops it. ctx bounds publishing and carries the
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
	w.async, _ = pub.(AsyncEventPublisher)
	w.cond = sync.NewCond(&w.mu)
	if w.async != nil {
		go w.collect()
	} else {
		go w.run()
	}
	return w
}

func (ev *pendingEvent) encode() []byte {
	if ev.typ == turnevent.Token {
		return appendTextEvent(make([]byte, 0, len(ev.text)+len(`{"text":""}`)+8), ev.text)
	}
	return ev.data
}

// run publishes synchronously, one event at a time.
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

		seq, err := w.pub.PublishEvent(w.ctx, w.turnID, ev.typ, ev.encode())

		w.mu.Lock()
		w.busy = false
		w.acknowledged(ev.typ, seq, err)
		w.mu.Unlock()
	}
}

// collect waits for the acknowledgements of asynchronous publishes, in order,
// and sends what queued up while the window was full.
func (w *EventWriter) collect() {
	defer close(w.done)
	for {
		w.mu.Lock()
		for len(w.inflight) == 0 && !w.closing && w.err == nil {
			w.cond.Wait()
		}
		if w.err != nil || len(w.inflight) == 0 {
			w.mu.Unlock()
			return
		}
		ev := w.inflight[0]
		w.mu.Unlock()

		seq, err := ev.wait(w.ctx)

		w.mu.Lock()
		w.inflight = w.inflight[1:]
		w.acknowledged(ev.typ, seq, err)
		w.send()
		w.mu.Unlock()
	}
}

// acknowledged records the outcome of a publish; w.mu is held.
func (w *EventWriter) acknowledged(typ string, seq uint64, err error) {
	if err != nil {
		w.fail(typ, err)
	} else {
		w.lastSeq = seq
		w.events++
	}
	w.cond.Broadcast()
}

// fail stops the writer; w.mu is held.
func (w *EventWriter) fail(typ string, err error) {
	if w.err != nil {
		return
	}
	w.err = fmt.Errorf("publish turn event: %w", err)
	w.queue = nil
	if w.ctx.Err() == nil { // not our own Close giving up
		w.log.Warn("turn event publishing stopped", "event", typ, "error", err)
	}
}

// send publishes queued events while the window has room (asynchronous mode),
// or wakes the publishing goroutine; w.mu is held. Publishing under the lock
// keeps the order of concurrent callers; it only hands the message to the
// connection's buffer.
func (w *EventWriter) send() {
	if w.async == nil {
		w.cond.Broadcast()
		return
	}
	for w.err == nil && len(w.queue) > 0 && len(w.inflight) < MaxEventsInFlight {
		ev := w.queue[0]
		w.queue = w.queue[1:]
		wait, err := w.async.PublishEventAsync(w.ctx, w.turnID, ev.typ, ev.encode())
		if err != nil {
			w.fail(ev.typ, err)
			break
		}
		w.inflight = append(w.inflight, inflightEvent{typ: ev.typ, wait: wait})
	}
	w.cond.Broadcast()
}

// pending reports whether anything is queued or unacknowledged; w.mu is held.
func (w *EventWriter) pending() int {
	n := len(w.queue) + len(w.inflight)
	if w.busy {
		n++
	}
	return n
}

// enqueue adds an event behind everything pending.
func (w *EventWriter) enqueue(typ string, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	w.queue = append(w.queue, &pendingEvent{typ: typ, data: data})
	w.send()
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
	if n := len(w.queue); n > 0 && w.queue[n-1].typ == turnevent.Token {
		w.queue[n-1].text = append(w.queue[n-1].text, text...)
		return nil
	}
	ev := &pendingEvent{typ: turnevent.Token}
	ev.text = append(ev.text, text...)
	w.queue = append(w.queue, ev)
	w.send()
	return nil
}

// Thinking publishes reasoning text.
func (w *EventWriter) Thinking(text string) error {
	if text == "" {
		return nil
	}
	return w.enqueueJSON(turnevent.Thinking, TextEvent{Text: text})
}

// ToolStarted publishes tool.started.
func (w *EventWriter) ToolStarted(callID, name string, args json.RawMessage) error {
	if len(args) == 0 || !json.Valid(args) {
		args = json.RawMessage("{}")
	}
	return w.enqueueJSON(turnevent.ToolStarted, ToolStartedEvent{CallID: callID, Name: name, Args: args})
}

// ToolFinished publishes tool.finished.
func (w *EventWriter) ToolFinished(callID, name, status string, latency time.Duration, preview string) error {
	return w.enqueueJSON(turnevent.ToolFinished, ToolFinishedEvent{
		CallID: callID, Name: name, Status: status, LatencyMS: latency.Milliseconds(), Preview: preview,
	})
}

// TurnStarted publishes turn.started.
func (w *EventWriter) TurnStarted(attempt int) error {
	return w.enqueueJSON(turnevent.Started, TurnStartedEvent{TurnID: w.turnID, Attempt: attempt})
}

// TurnQueued publishes turn.queued: the turn waits for the model, position-1
// turns ahead of it.
func (w *EventWriter) TurnQueued(position int) error {
	return w.enqueueJSON(turnevent.Queued, TurnQueuedEvent{Position: position})
}

// TurnRestarted publishes turn.restarted: clients discard the partial text
// of the earlier attempt.
func (w *EventWriter) TurnRestarted(attempt int) error {
	return w.enqueueJSON(turnevent.Restarted, TurnRestartedEvent{Attempt: attempt})
}

// TurnCompleted publishes turn.completed. Call Close afterwards to wait for it.
func (w *EventWriter) TurnCompleted(messageID, answer string, citations []Citation, usage llm.Usage) error {
	if citations == nil {
		citations = []Citation{} // the contract has a list, never null
	}
	return w.enqueueJSON(turnevent.Completed, TurnCompletedEvent{
		MessageID: messageID, Answer: answer, Citations: citations, Usage: usage,
	})
}

// TurnFailed publishes turn.failed. Call Close afterwards to wait for it.
func (w *EventWriter) TurnFailed(code, message string) error {
	return w.enqueueJSON(turnevent.Failed, TurnFailedEvent{Error: TurnError{Code: code, Message: message}})
}

// ContextTrimmed publishes context.trimmed.
func (w *EventWriter) ContextTrimmed(ev ContextTrimmedEvent) error {
	return w.enqueueJSON(turnevent.ContextTrimmed, ev)
}

// TurnCancelled publishes turn.cancelled. Call Close afterwards to wait for it.
func (w *EventWriter) TurnCancelled(answer string) error {
	return w.enqueueJSON(turnevent.Cancelled, TurnCancelledEvent{Answer: answer})
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
	for w.pending() > 0 && w.err == nil && ctx.Err() == nil {
		w.cond.Wait()
	}
	if w.err != nil {
		return w.err
	}
	if w.pending() > 0 {
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
	pending := w.pending()
	w.mu.Unlock()
	w.cancel() // ends a publish or a wait still in flight
	<-w.done
	if pending > 0 && err != nil {
		err = fmt.Errorf("%w (%d events not confirmed)", err, pending)
	}
	w.mu.Lock()
	w.queue = nil
	w.inflight = nil
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
