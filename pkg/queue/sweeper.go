package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/logging"
)

// maxDeliveriesAdvisory is the part of the server's max-deliveries advisory
// the sweeper needs.
type maxDeliveriesAdvisory struct {
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// startSweeper subscribes to the max-deliveries advisories of the runner's
// consumer. The server sends one when a job's last delivery ended without an
// ack, term or nak from a live handler: the worker crashed, or the handler
// ran past AckWait. Without the sweeper such a job would stay in the
// work-queue stream forever, never delivered again. Every replica receives
// the advisory; the dead-letter message id makes the copy happen once.
//
// The sweeper runs in g until the returned stop function is called; it uses
// hctx, which outlives ctx through the drain.
func (r *runner) startSweeper(ctx, hctx context.Context, g *errgroup.Group) (func(), error) {
	stream, err := r.js.Stream(ctx, StreamJobs)
	if err != nil {
		return nil, fmt.Errorf("run %s: look up stream: %w", r.name, err)
	}
	subject := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", StreamJobs, r.name)
	ch := make(chan *nats.Msg, 64)
	sub, err := r.js.Conn().ChanSubscribe(subject, ch)
	if err != nil {
		return nil, fmt.Errorf("run %s: subscribe to advisories: %w", r.name, err)
	}
	done := make(chan struct{})
	g.Go(func() error {
		for {
			select {
			case <-done:
				return nil
			case am := <-ch:
				r.sweep(hctx, stream, am)
			}
		}
	})
	return func() {
		_ = sub.Unsubscribe()
		close(done)
	}, nil
}

// sweep dead-letters the job named by one advisory and removes it from the
// jobs stream.
func (r *runner) sweep(ctx context.Context, stream jetstream.Stream, am *nats.Msg) {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(am.Data, &adv); err != nil || adv.StreamSeq == 0 {
		r.log.Warn("unreadable max-deliveries advisory", "error", err)
		return
	}
	log := r.log.With("stream_seq", adv.StreamSeq, "delivery", adv.Deliveries)
	sctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	raw, err := stream.GetMsg(sctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return // already acked, termed or swept by another replica
	}
	if err != nil {
		log.Error("max deliveries reached but job cannot be read; it stays in the stream", "error", err)
		return
	}
	m := &Msg{
		Subject:    raw.Subject,
		Data:       raw.Data,
		Header:     raw.Header,
		Delivery:   adv.Deliveries,
		MaxDeliver: r.maxDeliver,
		StreamSeq:  adv.StreamSeq,
		Consumer:   r.name,
	}
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	m.MsgID = m.Header.Get(jetstream.MsgIDHeader)
	m.CorrelationID = m.Header.Get(logging.HeaderCorrelationID)
	log = log.With("subject", m.Subject, "msg_id", m.MsgID, "correlation_id", m.CorrelationID)
	reason := fmt.Errorf("gave up after %d deliveries without a result (worker stopped or handler exceeded the ack wait)", adv.Deliveries)

	dup, err := publishDeadLetter(sctx, r.js, m, reason)
	if err != nil {
		log.Error("max deliveries reached but dead-letter publish failed; job stays in the stream", "error", err)
		return
	}
	if err := stream.DeleteMsg(sctx, adv.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		log.Warn("delete dead-lettered job from stream", "error", err)
	}
	if dup {
		return
	}
	r.opts.Metrics.outcome(r.name, OutcomeDeadLetter)
	r.opts.Metrics.deadLettered(m.Subject)
	log.Error("job dead-lettered after its last delivery went unanswered", "error", reason)
	r.callHook(sctx, m, reason, log)
}
