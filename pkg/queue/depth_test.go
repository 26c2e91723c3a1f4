package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/metricstest"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
)

// TestDepthCollector publishes jobs nobody consumes yet and reads the depth of
// the ingest consumer at scrape time; once a worker has taken them all, the
// depth is back to zero.
func TestDepthCollector(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(queue.NewDepthCollector(srv.JS, slog.New(slog.DiscardHandler)))
	p := queue.NewPublisher(srv.JS, nil)
	depth := func(name string) float64 {
		return metricstest.Value(t, reg, name, metricstest.Labels{"consumer": queue.ConsumerIngest})
	}

	for _, doc := range []string{"doc-1", "doc-2", "doc-3"} {
		publishIngest(t, ctx, p, doc)
	}
	require.Equal(t, 3.0, depth("yw_queue_pending_messages"))
	require.Zero(t, depth("yw_queue_ack_pending"))
	require.Eventually(t, func() bool { return depth("yw_queue_oldest_pending_age_seconds") > 0 },
		5*time.Second, 10*time.Millisecond, "the oldest waiting job ages")
	require.Zero(t, metricstest.Value(t, reg, "yw_queue_pending_messages", metricstest.Labels{"consumer": queue.ConsumerChat}))
	require.Equal(t, 9, testutil.CollectAndCount(reg), "three series for each of the three consumers")

	release := make(chan struct{})
	startRun(t, srv, queue.ConsumerIngest, func(ctx context.Context, _ *queue.Msg) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}, queue.RunOptions{Concurrency: 3})
	require.Eventually(t, func() bool {
		return depth("yw_queue_pending_messages") == 0 && depth("yw_queue_ack_pending") == 3
	}, 10*time.Second, 10*time.Millisecond, "delivered jobs are pending an ack while they run")
	require.Zero(t, depth("yw_queue_oldest_pending_age_seconds"))
	close(release)
	require.Eventually(t, func() bool { return depth("yw_queue_ack_pending") == 0 }, 10*time.Second, 10*time.Millisecond)
}

// TestRedeliveriesAndDeadLettersCounted fails one job once and another for good.
func TestRedeliveriesAndDeadLettersCounted(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	reg := prometheus.NewRegistry()
	metrics, err := queue.NewMetrics(reg)
	require.NoError(t, err)
	p := queue.NewPublisher(srv.JS, nil)
	opts := fastRetry
	opts.Metrics = metrics
	startRun(t, srv, queue.ConsumerIngest, func(_ context.Context, m *queue.Msg) error {
		var j job.IngestJob
		require.NoError(t, job.Decode(m.Data, &j))
		switch {
		case j.DocumentID == "doc-bad":
			return job.Permanent(errors.New("unsupported file type"))
		case m.Delivery == 1:
			return errors.New("embedder unavailable")
		}
		return nil
	}, opts)

	publishIngest(t, ctx, p, "doc-flaky")
	publishIngest(t, ctx, p, "doc-bad")
	require.Eventually(t, func() bool {
		return metricstest.Value(t, reg, "yw_queue_redelivered_total", metricstest.Labels{"consumer": queue.ConsumerIngest}) == 1 &&
			metricstest.Value(t, reg, "yw_queue_dead_letters_total", metricstest.Labels{"subject": job.SubjectIngest}) == 1
	}, 10*time.Second, 10*time.Millisecond)
}
