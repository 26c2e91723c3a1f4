package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/tracing"
)

type ctxKey int

const loggerKey ctxKey = iota

// WithCorrelationID returns a context carrying the correlation id that
// Publisher puts on every message published with it. It is the same id the
// logging package adds to every record logged with the context.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return logging.WithCorrelationID(ctx, id)
}

// CorrelationID returns the correlation id carried by ctx, or "".
func CorrelationID(ctx context.Context) string {
	return logging.CorrelationID(ctx)
}

// withLogger returns a context carrying a job's logger.
func withLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey, l)
}

// Logger returns the logger Run attached to a handler's context, already
// carrying the consumer, subject, message id, delivery and correlation id, so
// every line a handler logs can be joined with the request that caused it.
// Outside a handler it returns fallback, or a logger that discards everything
// when fallback is nil.
func Logger(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok && l != nil {
		return l
	}
	if fallback != nil {
		return fallback
	}
	return slog.New(slog.DiscardHandler)
}

// Publisher publishes jobs to the jobs stream.
type Publisher struct {
	js      jetstream.JetStream
	metrics *Metrics
}

// NewPublisher returns a Publisher on js. metrics may be nil.
func NewPublisher(js jetstream.JetStream, metrics *Metrics) *Publisher {
	return &Publisher{js: js, metrics: metrics}
}

// Publish stores payload on subject and waits for the stream's ack. msgID
// becomes the Nats-Msg-Id, so a second publish with the same id within the
// duplicate window is dropped by the stream (and is not an error): callers
// can retry a publish whose ack was lost without creating a second job. The
// correlation id and the trace context (traceparent) of ctx, if any, are set on
// the message unless hdr already carries them. hdr may be nil and is not modified.
func (p *Publisher) Publish(ctx context.Context, subject, msgID string, payload []byte, hdr nats.Header) error {
	m, err := jobMsg(ctx, subject, msgID, payload, hdr)
	if err != nil {
		return err
	}
	ack, err := p.js.PublishMsg(ctx, m, jetstream.WithMsgID(msgID))
	if err != nil {
		return fmt.Errorf("publish %s (msg id %s): %w", subject, msgID, err)
	}
	p.metrics.published(subject, ack.Duplicate)
	return nil
}

// jobAckTimeout bounds the wait for the stream to acknowledge a job published
// asynchronously, as the client's default does for a synchronous publish.
const jobAckTimeout = 5 * time.Second

// PublishAsync is Publish without waiting for the stream's ack: wait reports
// it. Jobs published one after the other and awaited together (the outbox
// relay's batch) cost one round trip instead of one each, and are stored in
// the order they were published.
func (p *Publisher) PublishAsync(ctx context.Context, subject, msgID string, payload []byte, hdr nats.Header) (wait func(context.Context) error, err error) {
	m, err := jobMsg(ctx, subject, msgID, payload, hdr)
	if err != nil {
		return nil, err
	}
	f, err := p.js.PublishMsgAsync(m, jetstream.WithMsgID(msgID))
	if err != nil {
		return nil, fmt.Errorf("publish %s (msg id %s): %w", subject, msgID, err)
	}
	return func(ctx context.Context) error {
		timer := time.NewTimer(jobAckTimeout)
		defer timer.Stop()
		select {
		case ack := <-f.Ok():
			p.metrics.published(subject, ack.Duplicate)
			return nil
		case err := <-f.Err():
			return fmt.Errorf("publish %s (msg id %s): %w", subject, msgID, err)
		case <-timer.C:
			return fmt.Errorf("publish %s (msg id %s): %w", subject, msgID, jetstream.ErrAsyncPublishTimeout)
		case <-ctx.Done():
			return fmt.Errorf("publish %s (msg id %s): %w", subject, msgID, ctx.Err())
		}
	}, nil
}

// jobMsg builds a job's message: payload on subject, with hdr's headers and
// ctx's correlation id and trace context unless hdr already carries them.
func jobMsg(ctx context.Context, subject, msgID string, payload []byte, hdr nats.Header) (*nats.Msg, error) {
	if msgID == "" {
		return nil, errors.New("publish: message id is required for deduplication")
	}
	m := nats.NewMsg(subject)
	m.Data = payload
	for k, v := range hdr {
		m.Header[k] = append([]string(nil), v...)
	}
	if m.Header.Get(logging.HeaderCorrelationID) == "" {
		if id := CorrelationID(ctx); id != "" {
			m.Header.Set(logging.HeaderCorrelationID, id)
		}
	}
	if m.Header.Get(tracing.HeaderTraceParent) == "" {
		if tp := tracing.TraceParent(ctx); tp != "" {
			m.Header.Set(tracing.HeaderTraceParent, tp)
		}
	}
	return m, nil
}
