package outbox

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/tracing"
)

// A job someone waits on — a chat turn's, whose user watches for the first
// token — need not wait for the relay to find it. Its transaction writes it with
// EnqueueNow, and once the transaction commits, Send publishes it and deletes
// its row. The row is kept from the relay for sendGrace: if this process dies
// before the job is published, or the publish fails, a relay publishes it then
// (the stream drops the copy should both get through).

// sendGrace is how long a row written by EnqueueNow is left to Send before a
// relay takes it: longer than a publish waits for its acknowledgement.
const sendGrace = 10 * time.Second

// Pending is a job written by EnqueueNow, for Send once its transaction
// commits.
type Pending struct {
	id      int64
	subject string
	msgID   string
	payload []byte
	hdr     nats.Header
}

// EnqueueNow records a job in tx's outbox like Enqueue, for Send to publish
// after the commit.
func EnqueueNow(ctx context.Context, tx *store.Store, args job.Args) (Pending, error) {
	payload, err := job.Encode(args)
	if err != nil {
		return Pending{}, err
	}
	corr, parent := logging.CorrelationID(ctx), tracing.TraceParent(ctx)
	id, err := tx.EnqueueOutboxAfter(ctx, args.Subject(), args.MsgID(), payload, corr, parent, sendGrace)
	if err != nil {
		return Pending{}, err
	}
	return Pending{id: id, subject: args.Subject(), msgID: args.MsgID(), payload: payload, hdr: jobHeader(corr, parent)}, nil
}

func jobHeader(correlationID, traceParent string) nats.Header {
	hdr := nats.Header{}
	if correlationID != "" {
		hdr.Set(logging.HeaderCorrelationID, correlationID)
	}
	if traceParent != "" {
		hdr.Set(tracing.HeaderTraceParent, traceParent)
	}
	return hdr
}

// sentJob is a job Send published, whose acknowledgement the relay awaits.
type sentJob struct {
	id   int64
	wait func(context.Context) error
}

// Send publishes a committed job at once, without waiting for its
// acknowledgement; the running relay awaits it and deletes the row. Without a
// running relay, or a publisher that can send asynchronously, the relay is
// woken to publish it the usual way.
func (r *Relay) Send(ctx context.Context, p Pending) {
	async, ok := r.publisher.(AsyncPublisher)
	if !ok || !r.running.Load() {
		r.due(ctx, []int64{p.id})
		return
	}
	wait, err := async.PublishAsync(ctx, p.subject, p.msgID, p.payload, p.hdr)
	if err != nil {
		wait = func(context.Context) error { return err }
	}
	select {
	case r.sent <- sentJob{id: p.id, wait: wait}:
	default:
		// Too many acknowledgements outstanding: the row stays, and a relay
		// publishes it again after the grace; the stream drops the copy.
	}
}

// due makes rows Send could not publish due for the relay now, and wakes it.
func (r *Relay) due(ctx context.Context, ids []int64) {
	if err := r.store.OutboxDueNow(context.WithoutCancel(ctx), ids); err != nil {
		r.logger.WarnContext(ctx, "outbox rows left for the relay after the grace", "rows", len(ids), "error", err)
	}
	r.Notify()
}

// maxSentBatch bounds how many sent jobs one deletion covers.
const maxSentBatch = 256

// settleSent awaits the acknowledgements of the jobs Send published, in
// order, and deletes the rows of those that were stored, many in one
// statement. A job that failed is made due for the relay at once.
func (r *Relay) settleSent(ctx context.Context) {
	for {
		var first sentJob
		select {
		case <-ctx.Done():
			return
		case first = <-r.sent:
		}
		batch := []sentJob{first}
	more:
		for len(batch) < maxSentBatch {
			select {
			case s := <-r.sent:
				batch = append(batch, s)
			default:
				break more
			}
		}
		var done, failed []int64
		for _, s := range batch {
			if err := s.wait(ctx); err != nil {
				if ctx.Err() != nil {
					return // the rows stay: a relay publishes them after the grace
				}
				r.logger.WarnContext(ctx, "publish failed; the relay retries it", "error", err)
				failed = append(failed, s.id)
				continue
			}
			done = append(done, s.id)
		}
		if len(done) > 0 {
			// A deletion lost in a database crash only publishes the job again,
			// which the stream drops as a duplicate.
			err := r.store.InTx(ctx, func(st *store.Store) error {
				if err := st.AsyncCommit(ctx); err != nil {
					return err
				}
				return st.DeleteOutbox(ctx, done)
			})
			if err != nil && ctx.Err() == nil {
				r.logger.WarnContext(ctx, "deleting sent outbox rows; the relay sends them again", "rows", len(done), "error", err)
			}
		}
		if len(failed) > 0 {
			r.due(ctx, failed)
		}
	}
}
