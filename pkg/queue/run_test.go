package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/logging/logtest"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
)

// fastRetry keeps retry delays short so redelivery tests finish quickly.
var fastRetry = queue.RunOptions{RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}

// deadLetters records OnDeadLetter calls.
type deadLetters struct {
	mu      sync.Mutex
	msgs    []*queue.Msg
	reasons []error
	called  chan struct{}
}

func newDeadLetters() *deadLetters { return &deadLetters{called: make(chan struct{}, 16)} }

func (d *deadLetters) hook(_ context.Context, m *queue.Msg, reason error) {
	d.mu.Lock()
	d.msgs = append(d.msgs, m)
	d.reasons = append(d.reasons, reason)
	d.mu.Unlock()
	d.called <- struct{}{}
}

func (d *deadLetters) wait(t *testing.T) (*queue.Msg, error) {
	t.Helper()
	select {
	case <-d.called:
	case <-time.After(20 * time.Second):
		t.Fatal("dead-letter hook was not called")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.msgs[len(d.msgs)-1], d.reasons[len(d.reasons)-1]
}

func (d *deadLetters) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.msgs)
}

func publishIngest(t *testing.T, ctx context.Context, p *queue.Publisher, docID string) {
	t.Helper()
	args := job.IngestJob{DocumentID: docID, Generation: 1}
	b, err := job.Encode(args)
	require.NoError(t, err)
	require.NoError(t, p.Publish(ctx, args.Subject(), args.MsgID(), b, nil))
}

// dlqMsg returns the dead-letter copy of the last job dead-lettered from subject.
func dlqMsg(t *testing.T, ctx context.Context, srv *queuetest.Server, subject string) *jetstream.RawStreamMsg {
	t.Helper()
	s, err := srv.JS.Stream(ctx, queue.StreamDLQ)
	require.NoError(t, err)
	m, err := s.GetLastMsgForSubject(ctx, queue.SubjectDLQPrefix+subject)
	require.NoError(t, err)
	return m
}

func TestRunRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	reg := prometheus.NewRegistry()
	metrics, err := queue.NewMetrics(reg)
	require.NoError(t, err)
	p := queue.NewPublisher(srv.JS, metrics)

	var (
		mu         sync.Mutex
		deliveries []uint64
	)
	done := make(chan *queue.Msg, 1)
	dl := newDeadLetters()
	var logs logtest.Buffer
	opts := fastRetry
	opts.Metrics = metrics
	opts.OnDeadLetter = dl.hook
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	startRun(t, srv, queue.ConsumerIngest, func(ctx context.Context, m *queue.Msg) error {
		queue.Logger(ctx, nil).Info("handling job")
		mu.Lock()
		deliveries = append(deliveries, m.Delivery)
		mu.Unlock()
		assert.Equal(t, "corr-1", queue.CorrelationID(ctx), "the handler's ctx carries the correlation id")
		if m.Delivery < 3 {
			return errors.New("embedder unavailable")
		}
		done <- m
		return nil
	}, opts)

	publishIngest(t, queue.WithCorrelationID(ctx, "corr-1"), p, "doc-1")
	var m *queue.Msg
	select {
	case m = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("job never succeeded")
	}
	require.Equal(t, job.SubjectIngest, m.Subject)
	require.Equal(t, job.IngestJob{DocumentID: "doc-1", Generation: 1}.MsgID(), m.MsgID)
	require.Equal(t, "corr-1", m.CorrelationID)
	require.Equal(t, queue.DefaultMaxDeliver, m.MaxDeliver)
	var payload job.IngestJob
	require.NoError(t, job.Decode(m.Data, &payload))
	require.Equal(t, "doc-1", payload.DocumentID)

	require.Eventually(t, func() bool { return streamMsgs(t, srv, queue.StreamJobs) == 0 },
		10*time.Second, 20*time.Millisecond, "an acked job leaves the work queue")
	mu.Lock()
	require.Equal(t, []uint64{1, 2, 3}, deliveries)
	mu.Unlock()
	require.Zero(t, dl.count())
	require.Zero(t, streamMsgs(t, srv, queue.StreamDLQ))
	require.Eventually(t, func() bool { return jobsHandled(t, reg, queue.OutcomeAck) == 1 },
		5*time.Second, 10*time.Millisecond)
	require.Equal(t, 2.0, jobsHandled(t, reg, queue.OutcomeRetry))
	require.Regexp(t, `"msg":"handling job"[^\n]*"correlation_id":"corr-1"`, logs.String(),
		"a handler's log lines carry the job's correlation id")
}

// jobsHandled reads the jobs counter of the ingest consumer for an outcome.
func jobsHandled(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "yw_queue_jobs_handled_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["consumer"] == queue.ConsumerIngest && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestRunRetryAfterDelaysRedelivery(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	p := queue.NewPublisher(srv.JS, nil)

	var first time.Time
	done := make(chan time.Duration, 1)
	startRun(t, srv, queue.ConsumerIngest, func(_ context.Context, m *queue.Msg) error {
		if m.Delivery == 1 {
			first = time.Now()
			return job.RetryAfter(400*time.Millisecond, errors.New("model loading"))
		}
		done <- time.Since(first)
		return nil
	}, fastRetry)

	publishIngest(t, ctx, p, "doc-1")
	select {
	case gap := <-done:
		// Only a lower bound: the requested delay wins over the (10ms) backoff.
		require.GreaterOrEqual(t, gap, 400*time.Millisecond)
	case <-time.After(20 * time.Second):
		t.Fatal("job was not redelivered")
	}
}

func TestRunPermanentErrorDeadLetters(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	p := queue.NewPublisher(srv.JS, nil)
	dl := newDeadLetters()
	var calls atomic.Int32
	badDoc := errors.New("unsupported file type")

	opts := fastRetry
	opts.OnDeadLetter = dl.hook
	startRun(t, srv, queue.ConsumerIngest, func(context.Context, *queue.Msg) error {
		calls.Add(1)
		return job.Permanent(badDoc)
	}, opts)

	publishIngest(t, queue.WithCorrelationID(ctx, "corr-p"), p, "doc-1")
	m, reason := dl.wait(t)
	require.ErrorIs(t, reason, badDoc)
	require.True(t, job.IsPermanent(reason))
	require.Equal(t, job.IngestJob{DocumentID: "doc-1", Generation: 1}.MsgID(), m.MsgID)

	dlq := dlqMsg(t, ctx, srv, job.SubjectIngest)
	require.Equal(t, job.SubjectIngest, dlq.Header.Get(queue.HeaderDLQSubject))
	require.Equal(t, job.IngestJob{DocumentID: "doc-1", Generation: 1}.MsgID(), dlq.Header.Get(queue.HeaderDLQMsgID))
	require.Contains(t, dlq.Header.Get(queue.HeaderDLQReason), "unsupported file type")
	require.Equal(t, "1", dlq.Header.Get(queue.HeaderDLQDeliveries))
	require.Equal(t, "corr-p", dlq.Header.Get(logging.HeaderCorrelationID))
	require.JSONEq(t, `{"document_id":"doc-1","generation":1}`, string(dlq.Data))

	// Terminated: gone from the work queue, never redelivered.
	require.Eventually(t, func() bool { return streamMsgs(t, srv, queue.StreamJobs) == 0 },
		10*time.Second, 20*time.Millisecond)
	c, err := srv.JS.Consumer(ctx, queue.StreamJobs, queue.ConsumerIngest)
	require.NoError(t, err)
	info, err := c.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.NumAckPending)
	require.Zero(t, info.NumRedelivered)
	require.Equal(t, int32(1), calls.Load())
	require.Equal(t, 1, dl.count())
}

func TestRunDeliveryLimitDeadLetters(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t, queuetest.WithConfig(func(c *queue.Config) { c.MaxDeliver = 3 }))
	ctx := testCtx(t)
	p := queue.NewPublisher(srv.JS, nil)
	dl := newDeadLetters()
	var calls atomic.Int32

	opts := fastRetry
	opts.OnDeadLetter = dl.hook
	startRun(t, srv, queue.ConsumerIngest, func(_ context.Context, m *queue.Msg) error {
		calls.Add(1)
		assert.Equal(t, m.Delivery == 3, m.LastDelivery())
		return errors.New("qdrant down")
	}, opts)

	publishIngest(t, ctx, p, "doc-1")
	m, reason := dl.wait(t)
	require.Contains(t, reason.Error(), "qdrant down")
	require.Contains(t, reason.Error(), "3 deliveries")
	require.Equal(t, uint64(3), m.Delivery)
	require.Equal(t, int32(3), calls.Load())

	dlq := dlqMsg(t, ctx, srv, job.SubjectIngest)
	require.Equal(t, "3", dlq.Header.Get(queue.HeaderDLQDeliveries))
	require.Equal(t, queue.ConsumerIngest, dlq.Header.Get(queue.HeaderDLQConsumer))
	require.Eventually(t, func() bool { return streamMsgs(t, srv, queue.StreamJobs) == 0 },
		10*time.Second, 20*time.Millisecond)
}

func TestRunDeduplicatesByMsgID(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	p := queue.NewPublisher(srv.JS, nil)

	// The API may retry a publish whose ack was lost: same id, one job.
	publishIngest(t, ctx, p, "doc-1")
	publishIngest(t, ctx, p, "doc-1")
	require.Equal(t, uint64(1), streamMsgs(t, srv, queue.StreamJobs))
	publishIngest(t, ctx, p, "doc-2")

	var mu sync.Mutex
	seen := map[string]int{}
	last := make(chan struct{})
	startRun(t, srv, queue.ConsumerIngest, func(_ context.Context, m *queue.Msg) error {
		var j job.IngestJob
		assert.NoError(t, job.Decode(m.Data, &j))
		mu.Lock()
		seen[j.DocumentID]++
		mu.Unlock()
		if j.DocumentID == "doc-2" {
			close(last)
		}
		return nil
	}, fastRetry)

	select {
	case <-last:
	case <-time.After(20 * time.Second):
		t.Fatal("jobs were not handled")
	}
	require.Eventually(t, func() bool { return streamMsgs(t, srv, queue.StreamJobs) == 0 },
		10*time.Second, 20*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, map[string]int{"doc-1": 1, "doc-2": 1}, seen)
}

func TestRunRecoversPanic(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	p := queue.NewPublisher(srv.JS, nil)
	dl := newDeadLetters()
	var calls atomic.Int32

	opts := fastRetry
	opts.OnDeadLetter = dl.hook
	startRun(t, srv, queue.ConsumerIngest, func(context.Context, *queue.Msg) error {
		calls.Add(1)
		panic("nil map write")
	}, opts)

	publishIngest(t, ctx, p, "doc-1")
	_, reason := dl.wait(t)
	require.True(t, job.IsPermanent(reason))
	require.Contains(t, reason.Error(), "nil map write")
	require.Contains(t, dlqMsg(t, ctx, srv, job.SubjectIngest).Header.Get(queue.HeaderDLQReason), "panic")
	require.Eventually(t, func() bool { return streamMsgs(t, srv, queue.StreamJobs) == 0 },
		10*time.Second, 20*time.Millisecond)
	require.Equal(t, int32(1), calls.Load())
}

func TestRunHeartbeatsKeepLongJobs(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t, queuetest.WithConfig(func(c *queue.Config) { c.AckWait = time.Second }))
	ctx := testCtx(t)
	p := queue.NewPublisher(srv.JS, nil)
	var calls atomic.Int32
	done := make(chan struct{})

	// Two slots: a redelivery during the long job would be picked up and
	// counted. Heartbeats default to a third of AckWait.
	opts := fastRetry
	opts.Concurrency = 2
	startRun(t, srv, queue.ConsumerIngest, func(ctx context.Context, m *queue.Msg) error {
		if calls.Add(1) > 1 {
			return nil
		}
		select {
		case <-time.After(3 * time.Second): // simulated work, three AckWaits long
		case <-ctx.Done():
			return ctx.Err()
		}
		close(done)
		return nil
	}, opts)

	publishIngest(t, ctx, p, "doc-1")
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("long job did not finish")
	}
	require.Eventually(t, func() bool { return streamMsgs(t, srv, queue.StreamJobs) == 0 },
		10*time.Second, 20*time.Millisecond)
	require.Equal(t, int32(1), calls.Load(), "the job was redelivered while its handler was running")
}

func TestRunDrainWaitsForInFlight(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	p := queue.NewPublisher(srv.JS, nil)
	started := make(chan struct{})
	release := make(chan struct{})
	var handlerCtxErr atomic.Value

	stop := startRun(t, srv, queue.ConsumerIngest, func(ctx context.Context, _ *queue.Msg) error {
		close(started)
		<-release
		handlerCtxErr.Store(errors.Join(ctx.Err(), errors.New("marker")))
		return nil
	}, queue.RunOptions{DrainTimeout: 20 * time.Second})

	publishIngest(t, ctx, p, "doc-1")
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// Run must not return while the handler is still running.
	select {
	case err := <-stopped:
		t.Fatalf("run returned before its handler finished: %v", err)
	default:
	}
	close(release)
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after its handler finished")
	}
	require.Equal(t, "marker", handlerCtxErr.Load().(error).Error(), "the handler's ctx stays alive during the drain")
	require.Zero(t, streamMsgs(t, srv, queue.StreamJobs), "the finished job was acked during the drain")
}

func TestRunDrainTimeoutCancelsAndRedelivers(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	p := queue.NewPublisher(srv.JS, nil)
	started := make(chan struct{})

	stop := startRun(t, srv, queue.ConsumerIngest, func(ctx context.Context, _ *queue.Msg) error {
		close(started)
		<-ctx.Done() // a handler that only stops when told to
		return ctx.Err()
	}, queue.RunOptions{DrainTimeout: 100 * time.Millisecond})

	publishIngest(t, ctx, p, "doc-1")
	<-started
	require.NoError(t, stop())

	// The cancelled job was handed back: the next worker gets it at once.
	redelivered := make(chan *queue.Msg, 1)
	startRun(t, srv, queue.ConsumerIngest, func(_ context.Context, m *queue.Msg) error {
		redelivered <- m
		return nil
	}, queue.RunOptions{})
	select {
	case m := <-redelivered:
		require.Equal(t, uint64(2), m.Delivery)
		require.Equal(t, job.IngestJob{DocumentID: "doc-1", Generation: 1}.MsgID(), m.MsgID)
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled job was not redelivered promptly")
	}
}

func TestRunDeadLettersJobsWhoseLastDeliveryWasLost(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t, queuetest.WithConfig(func(c *queue.Config) {
		c.AckWait = time.Second
		c.MaxDeliver = 1
	}))
	ctx := testCtx(t)
	p := queue.NewPublisher(srv.JS, nil)
	dl := newDeadLetters()
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })

	// No heartbeats: the handler looks like a crashed worker to the server.
	startRun(t, srv, queue.ConsumerIngest, func(ctx context.Context, _ *queue.Msg) error {
		select {
		case <-stuck:
		case <-ctx.Done():
		}
		return nil
	}, queue.RunOptions{HeartbeatEvery: time.Hour, OnDeadLetter: dl.hook, DrainTimeout: 100 * time.Millisecond})

	publishIngest(t, ctx, p, "doc-1")
	m, reason := dl.wait(t)
	require.Equal(t, job.IngestJob{DocumentID: "doc-1", Generation: 1}.MsgID(), m.MsgID)
	require.Contains(t, reason.Error(), "without a result")
	dlq := dlqMsg(t, ctx, srv, job.SubjectIngest)
	require.Equal(t, strconv.Itoa(1), dlq.Header.Get(queue.HeaderDLQDeliveries))
	require.Zero(t, streamMsgs(t, srv, queue.StreamJobs), "the swept job no longer sits in the work queue")
}

func TestRunUnknownConsumer(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	err := queue.Run(testCtx(t), srv.JS, "nope", func(context.Context, *queue.Msg) error { return nil }, queue.RunOptions{})
	require.Error(t, err)
}
