// Package outbox publishes jobs that were written to Postgres in the same transaction
// as the records they belong to. A record and its job are therefore never separated:
// if the publish fails, the job stays in the outbox and is retried until it lands.
package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/tracing"
)

// Enqueue records a job in tx's outbox, with the correlation id and the trace
// context (W3C traceparent) of the request in ctx. Call it with the transaction that writes the rows the job belongs to, so the
// two are written together or not at all; a relay publishes it afterwards.
func Enqueue(ctx context.Context, tx *store.Store, args job.Args) error {
	payload, err := job.Encode(args)
	if err != nil {
		return err
	}
	return tx.EnqueueOutbox(ctx, args.Subject(), args.MsgID(), payload, logging.CorrelationID(ctx), tracing.TraceParent(ctx))
}

// Publisher sends one message with a de-duplicating message id.
type Publisher interface {
	Publish(ctx context.Context, subject, msgID string, payload []byte, hdr nats.Header) error
}

// AsyncPublisher is a Publisher that can send a message without waiting for
// its acknowledgement; wait reports it. *queue.Publisher is one.
type AsyncPublisher interface {
	PublishAsync(ctx context.Context, subject, msgID string, payload []byte, hdr nats.Header) (wait func(context.Context) error, err error)
}

// Relay drains the outbox into the queue. Any number of relays may run (one per API
// replica): rows are claimed with SKIP LOCKED and the queue drops duplicate ids.
type Relay struct {
	store     *store.Store
	publisher Publisher
	logger    *slog.Logger
	wake      chan struct{}
	interval  time.Duration
	batch     int
	subjects  []string // nil: every subject

	// Jobs Send published, awaiting their acknowledgements (see send.go);
	// Send publishes only while Run runs, which settles them.
	sent    chan sentJob
	running atomic.Bool
}

// NewRelay returns a relay that polls every interval and whenever Notify is called.
func NewRelay(st *store.Store, pub Publisher, interval time.Duration, logger *slog.Logger) *Relay {
	return &Relay{store: st, publisher: pub, logger: logger.With("component", "outbox"),
		wake: make(chan struct{}, 1), interval: interval, batch: 100, sent: make(chan sentJob, 4096)}
}

// Only makes the relay publish messages on these subjects alone, leaving the rest
// to other relays: a program whose NATS user may publish only some job subjects
// (package natsperm) must not claim the others. It returns r.
func (r *Relay) Only(subjects ...string) *Relay {
	r.subjects = subjects
	return r
}

// Notify wakes the relay at once, so a job written just now is published without
// waiting for the next poll.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run publishes until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	settled := make(chan struct{})
	go func() {
		defer close(settled)
		r.settleSent(ctx)
	}()
	r.running.Store(true)
	defer func() {
		r.running.Store(false)
		<-settled
	}()
	for {
		for {
			n, err := r.Flush(ctx)
			if err != nil && ctx.Err() == nil {
				r.logger.WarnContext(ctx, "outbox flush failed", "error", err)
			}
			if n < r.batch || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-r.wake:
		}
	}
}

// Flush publishes one batch of due messages and returns how many it handled.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	handled := 0
	err := r.store.InTx(ctx, func(st *store.Store) error {
		msgs, err := st.ClaimOutbox(ctx, r.batch, r.subjects...)
		if err != nil || len(msgs) == 0 {
			return err
		}
		// Deletions lost in a database crash only publish their jobs again,
		// which the stream drops as duplicates: the next batch need not wait
		// for the disk.
		if err := st.AsyncCommit(ctx); err != nil {
			return err
		}
		handled = len(msgs)
		// A batch is sent at once and its acknowledgements awaited together:
		// one publish at a time made a burst of turns wait a round trip to the
		// stream per job ahead of theirs.
		errs := r.publish(ctx, msgs)
		var done []int64
		for i, m := range msgs {
			if err := errs[i]; err != nil {
				delay := backoff(m.Attempts)
				r.logger.WarnContext(ctx, "publish failed; will retry", "subject", m.Subject, "msg_id", m.MsgID,
					"attempts", m.Attempts+1, "retry_in", delay.String(), "error", err)
				if err := st.RescheduleOutbox(ctx, m.ID, delay, err.Error()); err != nil {
					return err
				}
				continue
			}
			done = append(done, m.ID)
		}
		if len(done) > 0 {
			return st.DeleteOutbox(ctx, done)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("flush outbox: %w", err)
	}
	return handled, nil
}

// publish sends msgs in order and returns each one's outcome: asynchronously
// when the publisher can, then waiting for every acknowledgement.
func (r *Relay) publish(ctx context.Context, msgs []store.OutboxMessage) []error {
	errs := make([]error, len(msgs))
	async, ok := r.publisher.(AsyncPublisher)
	waits := make([]func(context.Context) error, len(msgs))
	for i, m := range msgs {
		hdr := jobHeader(m.CorrelationID, m.TraceParent)
		if ok {
			waits[i], errs[i] = async.PublishAsync(ctx, m.Subject, m.MsgID, m.Payload, hdr)
		} else {
			errs[i] = r.publisher.Publish(ctx, m.Subject, m.MsgID, m.Payload, hdr)
		}
	}
	for i, wait := range waits {
		if wait != nil {
			errs[i] = wait(ctx)
		}
	}
	return errs
}

// backoff grows from 200 ms to at most 30 s.
func backoff(attempts int) time.Duration {
	d := 200 * time.Millisecond << min(attempts, 8)
	return min(d, 30*time.Second)
}
