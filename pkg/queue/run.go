package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/tracing"
)

// Handler handles one job. Its result decides the job's fate: nil acks it;
// job.Permanent terminates it and dead-letters it; job.RetryAfter redelivers
// it after the given delay; any other error redelivers it with exponential
// backoff until the delivery limit, then dead-letters it. Handlers must be
// idempotent: every job is delivered at least once, sometimes more.
type Handler func(ctx context.Context, m *Msg) error

// DeadLetterFunc is called after a job was copied to the dead-letter stream,
// so the owner of the job (a document, a turn) can be marked failed with the
// reason. It may be called more than once for the same job (at-least-once,
// like everything else here) and must be idempotent.
type DeadLetterFunc func(ctx context.Context, m *Msg, reason error)

// Msg is one delivered job.
type Msg struct {
	// Subject the job was published on, e.g. job.SubjectIngest.
	Subject string
	// Data is the job payload.
	Data []byte
	// Header holds the message headers.
	Header nats.Header
	// MsgID is the Nats-Msg-Id the job was published with.
	MsgID string
	// Delivery counts deliveries of this job, starting at 1.
	Delivery uint64
	// MaxDeliver is the consumer's delivery limit; a failure on delivery
	// MaxDeliver dead-letters the job. Zero or less means no limit.
	MaxDeliver int
	// StreamSeq is the job's sequence in StreamJobs, unique per job.
	StreamSeq uint64
	// Consumer is the durable consumer that delivered the job.
	Consumer string
	// CorrelationID is the correlation id the job was published with, or a
	// fresh one when it had none, so every job log line has one.
	CorrelationID string
}

// LastDelivery reports whether a failure of this delivery dead-letters the
// job, so a handler can record the failure in its own terms first.
func (m *Msg) LastDelivery() bool {
	return m.MaxDeliver > 0 && m.Delivery >= uint64(m.MaxDeliver)
}

// Defaults applied to RunOptions.
const (
	DefaultConcurrency  = 1
	DefaultDrainTimeout = 10 * time.Second
	DefaultFetchWait    = 5 * time.Second
	DefaultRetryBase    = time.Second
	DefaultRetryMax     = 5 * time.Minute
)

// settleTimeout bounds an ack, nak or dead-letter publish so a NATS outage
// cannot hold a handler slot forever; an unsettled job is redelivered.
const settleTimeout = 5 * time.Second

// RunOptions tunes Run. Zero values take the defaults.
type RunOptions struct {
	// Concurrency is how many handlers run at once in this process.
	Concurrency int
	// HeartbeatEvery is how often a running handler's job is marked in
	// progress, so long jobs are not redelivered. Defaults to a third of the
	// consumer's AckWait.
	HeartbeatEvery time.Duration
	// Timeout bounds one handler call; zero means no limit. A timed-out job
	// is retried like any other failure.
	Timeout time.Duration
	// DrainTimeout is how long Run waits for in-flight handlers after ctx
	// ends before cancelling them.
	DrainTimeout time.Duration
	// FetchWait is how long one pull request waits for jobs.
	FetchWait time.Duration
	// RetryBase is the backoff after a failed first delivery; each further
	// failure doubles it, with ±20% jitter.
	RetryBase time.Duration
	// RetryMax caps the backoff between failed deliveries.
	RetryMax time.Duration
	// Logger receives the runner's and the handlers' logs.
	Logger *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics
	// OnDeadLetter, if set, is called after a job was dead-lettered.
	OnDeadLetter DeadLetterFunc
	// TracerProvider records a span per job, a child of the span that published
	// it (its traceparent header). nil records nothing.
	TracerProvider trace.TracerProvider
}

func (o RunOptions) withDefaults(ackWait time.Duration) RunOptions {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.HeartbeatEvery <= 0 {
		o.HeartbeatEvery = ackWait / 3
	}
	if o.HeartbeatEvery < 10*time.Millisecond {
		o.HeartbeatEvery = 10 * time.Millisecond
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.FetchWait < 100*time.Millisecond {
		o.FetchWait = DefaultFetchWait
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// runner is the state of one Run call.
type runner struct {
	js         jetstream.JetStream
	cons       jetstream.Consumer
	name       string
	maxDeliver int
	handler    Handler
	opts       RunOptions
	log        *slog.Logger
}

// Run consumes jobs from the durable consumer consumerName (declared by
// Setup) and hands each to handler, up to opts.Concurrency at a time, until
// ctx ends. It only pulls as many jobs as it has free handler slots, so no
// job waits in a local buffer while its AckWait runs out.
//
// When ctx ends Run stops pulling, waits up to opts.DrainTimeout for running
// handlers, then cancels their contexts; a job whose handler was cancelled
// is handed back (nak) for immediate redelivery to another replica. Run
// returns once every goroutine it started has exited: nil after a shutdown,
// or an error if the consumer cannot be found or the connection was closed.
// The caller drains the NATS connection after Run returns, so the last acks
// go out.
//
// Run also watches the server's max-deliveries advisories for its consumer,
// so a job whose last delivery was lost (a crashed worker, a handler stuck
// past AckWait) is dead-lettered too instead of sitting in the stream.
func Run(ctx context.Context, js jetstream.JetStream, consumerName string, handler Handler, opts RunOptions) error {
	if handler == nil {
		return errors.New("run: handler is nil")
	}
	cons, err := js.Consumer(ctx, StreamJobs, consumerName)
	if err != nil && ctx.Err() != nil {
		return nil // stopped before it started: nothing was taken, nothing to drain
	}
	if err != nil {
		return fmt.Errorf("run %s: look up consumer: %w", consumerName, err)
	}
	info := cons.CachedInfo()
	opts = opts.withDefaults(info.Config.AckWait)
	r := &runner{
		js:         js,
		cons:       cons,
		name:       consumerName,
		maxDeliver: info.Config.MaxDeliver,
		handler:    handler,
		opts:       opts,
		log:        opts.Logger.With("component", "queue", "consumer", consumerName),
	}
	return r.run(ctx)
}

func (r *runner) run(ctx context.Context) error {
	// Handlers get a context that survives ctx so they can finish during the
	// drain; it is cancelled only when the drain times out.
	hctx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()

	var handlers errgroup.Group
	sem := make(chan struct{}, r.opts.Concurrency)
	release := func(n int) {
		for range n {
			<-sem
		}
	}

	var watchers errgroup.Group
	stopSweeper, err := r.startSweeper(ctx, hctx, &watchers)
	if err != nil {
		return err
	}

	r.log.Info("consumer started", "concurrency", r.opts.Concurrency, "max_deliver", r.maxDeliver)
	runErr := r.fetchLoop(ctx, hctx, &handlers, sem, release)

	// Drain: no more pulls; give running handlers DrainTimeout, then cancel.
	timer := time.AfterFunc(r.opts.DrainTimeout, func() {
		r.log.Warn("drain timeout, cancelling running handlers", "drain_timeout", r.opts.DrainTimeout)
		cancelHandlers()
	})
	_ = handlers.Wait() // handlers report through settle, never through the group
	timer.Stop()
	stopSweeper()
	_ = watchers.Wait()
	r.log.Info("consumer stopped")
	return runErr
}

// fetchLoop pulls jobs while there are free slots, until ctx ends or the
// connection is closed for good.
func (r *runner) fetchLoop(ctx, hctx context.Context, handlers *errgroup.Group, sem chan struct{}, release func(int)) error {
	pause := 100 * time.Millisecond
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		n := 1
	fill:
		for n < r.opts.Concurrency {
			select {
			case sem <- struct{}{}:
				n++
			default:
				break fill
			}
		}
		err := r.fetch(ctx, hctx, handlers, n, release)
		switch {
		case err == nil:
			pause = 100 * time.Millisecond
			continue
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrConsumerDeleted):
			return fmt.Errorf("run %s: %w", r.name, err)
		}
		// A disconnect or leader change: wait a little, growing, and retry.
		r.log.Warn("fetch failed, retrying", "error", err, "retry_in", pause)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil
		}
		pause = min(pause*2, 5*time.Second)
	}
}

// fetch pulls up to n jobs (n slots are already held) and starts a handler
// for each; unused slots are released.
func (r *runner) fetch(ctx, hctx context.Context, handlers *errgroup.Group, n int, release func(int)) error {
	fctx, cancel := context.WithTimeout(ctx, r.opts.FetchWait)
	defer cancel()
	batch, err := r.cons.Fetch(n, jetstream.FetchContext(fctx))
	if err != nil {
		release(n)
		return fmt.Errorf("fetch: %w", err)
	}
	got := 0
	for raw := range batch.Messages() {
		got++
		if ctx.Err() != nil {
			// Shutting down: hand the job straight back to another replica.
			if err := raw.Nak(); err != nil {
				r.log.Warn("nak at shutdown failed", "error", err)
			}
			release(1)
			continue
		}
		handlers.Go(func() error {
			defer release(1)
			r.process(hctx, raw)
			return nil
		})
	}
	release(n - got)
	if err := batch.Error(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("fetch: %w", err)
	}
	return nil
}

// newMsg builds the handler's view of a delivered job.
func (r *runner) newMsg(raw jetstream.Msg) *Msg {
	m := &Msg{
		Subject:    raw.Subject(),
		Data:       raw.Data(),
		Header:     raw.Headers(),
		MaxDeliver: r.maxDeliver,
		Consumer:   r.name,
	}
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	m.MsgID = m.Header.Get(jetstream.MsgIDHeader)
	m.CorrelationID = m.Header.Get(logging.HeaderCorrelationID)
	if m.CorrelationID == "" {
		m.CorrelationID = uuid.NewString()
	}
	if md, err := raw.Metadata(); err == nil {
		m.Delivery = md.NumDelivered
		m.StreamSeq = md.Sequence.Stream
	} else {
		r.log.Warn("job without metadata", "subject", m.Subject, "error", err)
		m.Delivery = 1
	}
	return m
}

// process runs the handler for one job with heartbeats, then settles it.
func (r *runner) process(hctx context.Context, raw jetstream.Msg) {
	m := r.newMsg(raw)
	log := r.log.With(
		"subject", m.Subject, "msg_id", m.MsgID, "stream_seq", m.StreamSeq,
		"delivery", m.Delivery, "correlation_id", m.CorrelationID,
	)
	jctx := withLogger(WithCorrelationID(hctx, m.CorrelationID), log)
	jctx, span := r.startSpan(jctx, m)
	if sc := span.SpanContext(); sc.IsValid() {
		// The runner's own lines (settle, heartbeat) are logged without the job's
		// context: name the trace on them as the correlation id is named.
		log = log.With("trace_id", sc.TraceID().String())
	}
	if r.opts.Timeout > 0 {
		var cancel context.CancelFunc
		jctx, cancel = context.WithTimeout(jctx, r.opts.Timeout)
		defer cancel()
	}

	r.opts.Metrics.addInFlight(r.name, 1)
	defer r.opts.Metrics.addInFlight(r.name, -1)
	r.opts.Metrics.delivered(r.name, m.Delivery)

	hbCtx, stopHeartbeat := context.WithCancel(context.Background())
	var hb errgroup.Group
	hb.Go(func() error {
		r.heartbeat(hbCtx, raw, log)
		return nil
	})
	start := time.Now()
	err := r.call(jctx, m, log)
	stopHeartbeat()
	_ = hb.Wait()
	r.settle(hctx, raw, m, err, time.Since(start), log)
	tracing.End(span, &err)
}

// startSpan starts the job's consumer span as a child of the span that published
// it, so the worker's spans join the trace of the request that caused the job.
func (r *runner) startSpan(ctx context.Context, m *Msg) (context.Context, trace.Span) {
	ctx = tracing.WithTraceParent(ctx, m.Header.Get(tracing.HeaderTraceParent))
	return tracing.Tracer(r.opts.TracerProvider).Start(ctx, "process "+m.Subject,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", m.Subject),
			attribute.String("messaging.consumer.group.name", m.Consumer),
			attribute.String("messaging.message.id", m.MsgID),
			attribute.Int64("messaging.message.delivery_count", int64(m.Delivery)),
		))
}

// heartbeat marks the job in progress until ctx ends, resetting the server's
// AckWait timer so a long handler keeps its job.
func (r *runner) heartbeat(ctx context.Context, raw jetstream.Msg, log *slog.Logger) {
	t := time.NewTicker(r.opts.HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := raw.InProgress(); err != nil {
				log.Warn("heartbeat failed", "error", err)
			}
		}
	}
}

// call runs the handler, turning a panic into a permanent error: a handler
// that panics on a job will panic again on every redelivery.
func (r *runner) call(ctx context.Context, m *Msg, log *slog.Logger) (err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("job handler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = job.Permanent(fmt.Errorf("handler panic: %v", p))
		}
	}()
	return r.handler(ctx, m)
}

// settle acks, naks or dead-letters a job according to the handler's result.
func (r *runner) settle(hctx context.Context, raw jetstream.Msg, m *Msg, err error, d time.Duration, log *slog.Logger) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(hctx), settleTimeout)
	defer cancel()
	switch {
	case err == nil:
		// DoubleAck waits for the server, so a lost ack shows up in the log
		// rather than as a silent duplicate run.
		if aerr := raw.DoubleAck(sctx); aerr != nil {
			log.Warn("ack failed, job will be redelivered", "error", aerr)
		}
		r.opts.Metrics.handled(r.name, OutcomeAck, d)
		log.Info("job done", "duration_ms", d.Milliseconds())
	case hctx.Err() != nil && !job.IsPermanent(err):
		// Cancelled by the drain timeout: not the job's fault.
		if nerr := raw.Nak(); nerr != nil {
			log.Warn("nak failed, job will be redelivered after ack wait", "error", nerr)
		}
		r.opts.Metrics.handled(r.name, OutcomeRetry, d)
		log.Info("job handed back at shutdown", "error", err)
	case job.IsPermanent(err):
		r.opts.Metrics.handled(r.name, OutcomeTerm, d)
		log.Error("job failed permanently", "error", err)
		r.deadLetter(sctx, raw, m, err, log)
	case m.LastDelivery():
		reason := fmt.Errorf("gave up after %d deliveries: %w", m.Delivery, err)
		r.opts.Metrics.handled(r.name, OutcomeDeadLetter, d)
		log.Error("job failed on its last delivery", "error", err)
		r.deadLetter(sctx, raw, m, reason, log)
	default:
		delay, ok := job.RetryDelay(err)
		if !ok {
			delay = r.backoff(m.Delivery)
		}
		if nerr := raw.NakWithDelay(delay); nerr != nil {
			log.Warn("nak failed, job will be redelivered after ack wait", "error", nerr)
		}
		r.opts.Metrics.handled(r.name, OutcomeRetry, d)
		log.Warn("job failed, will retry", "error", err, "retry_in", delay)
	}
}

// backoff is RetryBase * 2^(delivery-1), capped at RetryMax, with ±20%
// jitter so jobs that failed together do not come back together.
func (r *runner) backoff(delivery uint64) time.Duration {
	d := r.opts.RetryBase
	for i := uint64(1); i < delivery && d < r.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, r.opts.RetryMax)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// deadLetter copies the job to the dead-letter stream, terminates it and
// calls the hook. If the copy fails the job is naked instead, so it is never
// dropped without a trace; the max-deliveries sweeper catches it at the end.
func (r *runner) deadLetter(ctx context.Context, raw jetstream.Msg, m *Msg, reason error, log *slog.Logger) {
	dup, err := publishDeadLetter(ctx, r.js, m, reason)
	if err != nil {
		log.Error("dead-letter publish failed, job will be redelivered", "error", err)
		if nerr := raw.NakWithDelay(r.backoff(m.Delivery)); nerr != nil {
			log.Warn("nak failed", "error", nerr)
		}
		return
	}
	if err := raw.TermWithReason(truncate(reason.Error(), 256)); err != nil {
		log.Warn("term failed, job may be redelivered", "error", err)
	}
	if dup {
		return
	}
	r.opts.Metrics.deadLettered(m.Subject)
	r.callHook(ctx, m, reason, log)
}

func (r *runner) callHook(ctx context.Context, m *Msg, reason error, log *slog.Logger) {
	if r.opts.OnDeadLetter == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			log.Error("dead-letter hook panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	hctx := withLogger(WithCorrelationID(ctx, m.CorrelationID), log)
	r.opts.OnDeadLetter(hctx, m, reason)
}

// publishDeadLetter stores a copy of m on "dlq.<subject>". Its message id is
// derived from the job's stream sequence, so two replicas (or the handler
// path and the sweeper) dead-lettering the same job store one copy; dup
// reports that this call was the second.
func publishDeadLetter(ctx context.Context, js jetstream.JetStream, m *Msg, reason error) (dup bool, err error) {
	out := nats.NewMsg(SubjectDLQPrefix + m.Subject)
	out.Data = m.Data
	for k, v := range m.Header {
		if strings.HasPrefix(k, "Nats-") {
			continue // JetStream's own headers would confuse the DLQ stream
		}
		out.Header[k] = append([]string(nil), v...)
	}
	out.Header.Set(HeaderDLQSubject, m.Subject)
	out.Header.Set(HeaderDLQMsgID, m.MsgID)
	out.Header.Set(HeaderDLQReason, truncate(reason.Error(), 1024))
	out.Header.Set(HeaderDLQDeliveries, strconv.FormatUint(m.Delivery, 10))
	out.Header.Set(HeaderDLQStreamSeq, strconv.FormatUint(m.StreamSeq, 10))
	out.Header.Set(HeaderDLQConsumer, m.Consumer)
	out.Header.Set(logging.HeaderCorrelationID, m.CorrelationID)
	id := "dlq:" + m.Consumer + ":" + strconv.FormatUint(m.StreamSeq, 10)
	ack, err := js.PublishMsg(ctx, out, jetstream.WithMsgID(id))
	if err != nil {
		return false, fmt.Errorf("publish dead letter for %s seq %d: %w", m.Subject, m.StreamSeq, err)
	}
	return ack.Duplicate, nil
}

// truncate makes s safe as a header value: one line, at most n bytes.
func truncate(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
