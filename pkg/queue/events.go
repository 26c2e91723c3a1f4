package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/turnevent"
)

// Event is one event of a chat turn. Seq is its sequence in StreamTurns: it
// grows across all turns, so it is an opaque, increasing cursor (the SSE
// event id), not a position within the turn.
type Event struct {
	Seq  uint64
	Type string
	Data []byte
	Time time.Time
}

// Turns is the replayable event log of chat turns: the agent worker
// publishes to it, any API replica replays and follows it.
type Turns struct {
	js      jetstream.JetStream
	metrics *Metrics
	log     *slog.Logger
	hub     *turnHub

	mu     sync.Mutex
	stream jetstream.Stream // looked up on first use

	// lastStored is lastSeqOf; tests replace it with a leader that lags.
	lastStored func(ctx context.Context, turnID string) (uint64, error)
}

// NewTurns returns the turn event log on js. metrics and logger may be nil.
func NewTurns(js jetstream.JetStream, metrics *Metrics, logger *slog.Logger) *Turns {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "turns")
	t := &Turns{js: js, metrics: metrics, log: logger, hub: &turnHub{js: js, log: logger}}
	t.lastStored = t.lastSeqOf
	return t
}

// TurnSubject returns the subject of a turn's events.
func TurnSubject(turnID string) string {
	return SubjectTurnPrefix + turnID
}

// validToken rejects ids that would change the subject's shape (a dot adds a
// level, a wildcard would read other turns' events).
func validToken(id string) error {
	if id == "" {
		return errors.New("empty id")
	}
	if strings.ContainsAny(id, ".*> \t\r\n") {
		return fmt.Errorf("id %q contains a character not allowed in a subject token", id)
	}
	return nil
}

func eventMsg(turnID, eventType string, data []byte) (*nats.Msg, error) {
	if err := validToken(turnID); err != nil {
		return nil, fmt.Errorf("turn event: %w", err)
	}
	if eventType == "" || strings.ContainsAny(eventType, "\r\n") {
		return nil, fmt.Errorf("turn event: invalid event type %q", eventType)
	}
	m := nats.NewMsg(TurnSubject(turnID))
	m.Header.Set(HeaderEventType, eventType)
	if turnevent.IsTerminal(eventType) {
		// A turn ends once: its end may be published again by whoever finds it
		// missing (a worker that died after storing the end, a publish whose ack
		// was lost), and the stream keeps the first within its duplicate window.
		m.Header.Set(jetstream.MsgIDHeader, TerminalMsgID(turnID))
	}
	m.Data = data
	return m, nil
}

// TerminalMsgID is the message id of a turn's terminal event: one per turn.
func TerminalMsgID(turnID string) string { return "turn-end:" + turnID }

// LastEventType returns the type of the turn's last stored event, "" if it has
// none, so a worker can tell whether a turn's end reached the log.
func (t *Turns) LastEventType(ctx context.Context, turnID string) (string, error) {
	if err := validToken(turnID); err != nil {
		return "", fmt.Errorf("turn events: %w", err)
	}
	stream, err := t.turnsStream(ctx)
	if err != nil {
		return "", err
	}
	msg, err := stream.GetLastMsgForSubject(ctx, TurnSubject(turnID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("last event of turn %s: %w", turnID, err)
	}
	return msg.Header.Get(HeaderEventType), nil
}

// PublishEvent appends an event to a turn and returns its stream sequence
// once the stream has stored it.
func (t *Turns) PublishEvent(ctx context.Context, turnID, eventType string, data []byte) (uint64, error) {
	m, err := eventMsg(turnID, eventType, data)
	if err != nil {
		return 0, err
	}
	if id := CorrelationID(ctx); id != "" {
		m.Header.Set(logging.HeaderCorrelationID, id)
	}
	ack, err := t.js.PublishMsg(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("publish %s event for turn %s: %w", eventType, turnID, err)
	}
	t.metrics.eventPublished(eventType)
	return ack.Sequence, nil
}

// eventAckTimeout bounds the wait for the stream to acknowledge an event
// published asynchronously, as the client's default does for a synchronous
// publish.
const eventAckTimeout = 5 * time.Second

// PublishEventAsync appends an event without waiting for the stream, so a
// fast token stream is not paced by round trips. Events published on one
// connection keep their order. wait reports the event's sequence once it is
// stored, or why not (within eventAckTimeout); call Flush before publishing a
// terminal event so nothing is still in flight when the turn is declared
// finished.
func (t *Turns) PublishEventAsync(ctx context.Context, turnID, eventType string, data []byte) (wait func(context.Context) (uint64, error), err error) {
	m, err := eventMsg(turnID, eventType, data)
	if err != nil {
		return nil, err
	}
	if id := CorrelationID(ctx); id != "" {
		m.Header.Set(logging.HeaderCorrelationID, id)
	}
	f, err := t.js.PublishMsgAsync(m)
	if err != nil {
		return nil, fmt.Errorf("publish %s event for turn %s: %w", eventType, turnID, err)
	}
	t.metrics.eventPublished(eventType)
	return func(ctx context.Context) (uint64, error) {
		timer := time.NewTimer(eventAckTimeout)
		defer timer.Stop()
		select {
		case ack := <-f.Ok():
			return ack.Sequence, nil
		case err := <-f.Err():
			return 0, fmt.Errorf("publish %s event for turn %s: %w", eventType, turnID, err)
		case <-timer.C:
			return 0, fmt.Errorf("publish %s event for turn %s: %w", eventType, turnID, jetstream.ErrAsyncPublishTimeout)
		case <-ctx.Done():
			return 0, fmt.Errorf("publish %s event for turn %s: %w", eventType, turnID, ctx.Err())
		}
	}, nil
}

// Flush waits until every asynchronously published event was stored, or ctx
// ends.
func (t *Turns) Flush(ctx context.Context) error {
	select {
	case <-t.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush turn events: %w", ctx.Err())
	}
}

// eventsBuffer is how many events Follow holds for a slow reader.
const eventsBuffer = 16

// Follow reads a turn's events after afterSeq (0 for all of them) with an
// ordered consumer of its own, replaying and then following live, until ctx
// ends. Each event arrives once, in order: the ordered consumer underneath
// recreates itself after a gap or a reconnect, starting after the last event it
// delivered, and Follow drops anything at or before a sequence already sent.
// Events serves readers from one consumer per process instead; Follow is its
// replay, and the plain JetStream path that benchmarks compare with.
//
// The channel is closed when ctx ends or the log cannot be followed any
// longer (the error is logged); the caller must cancel ctx to release the
// consumer.
func (t *Turns) Follow(ctx context.Context, turnID string, afterSeq uint64) (<-chan Event, error) {
	if err := validToken(turnID); err != nil {
		return nil, fmt.Errorf("turn events: %w", err)
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{TurnSubject(turnID)},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       afterSeq + 1,
		InactiveThreshold: time.Minute,
	}
	cons, err := t.js.OrderedConsumer(ctx, StreamTurns, cfg)
	if err != nil {
		return nil, fmt.Errorf("turn events for %s: %w", turnID, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("turn events for %s: %w", turnID, err)
	}
	// A little room lets the consumer read ahead while the reader writes, and
	// lets the reader send what arrived meanwhile in one go.
	out := make(chan Event, eventsBuffer)
	stop := context.AfterFunc(ctx, it.Stop)
	go func() {
		defer close(out)
		defer stop()
		defer it.Stop()
		last := afterSeq
		for {
			msg, err := it.Next()
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					t.log.Warn("turn events stopped", "turn_id", turnID, "error", err)
				}
				return
			}
			md, err := msg.Metadata()
			if err != nil {
				t.log.Warn("turn event without metadata", "turn_id", turnID, "error", err)
				continue
			}
			seq := md.Sequence.Stream
			if seq <= last {
				continue
			}
			last = seq
			ev := Event{Seq: seq, Type: msg.Headers().Get(HeaderEventType), Data: msg.Data(), Time: md.Timestamp}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
