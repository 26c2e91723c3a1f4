package routestats

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// memorySink adds counts up like the database does, and fails while told to.
type memorySink struct {
	mu   sync.Mutex
	fail bool
	held map[Key]Counts
}

func (m *memorySink) AddRouteStats(_ context.Context, counts map[Key]Counts) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("database away")
	}
	if m.held == nil {
		m.held = map[Key]Counts{}
	}
	for k, c := range counts {
		cur := m.held[k]
		cur.add(c)
		m.held[k] = cur
	}
	return nil
}

func TestObserveCountsRequestsErrorsAndBuckets(t *testing.T) {
	sink := &memorySink{}
	r := New(sink, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.now = func() time.Time { return time.Date(2026, 3, 4, 23, 59, 0, 0, time.FixedZone("CET", 3600)) }
	r.Observe("GET", "/v1/documents", 200, 3*time.Millisecond)
	r.Observe("GET", "/v1/documents", 503, 40*time.Millisecond)
	r.Observe("GET", "/v1/documents", 200, time.Minute)
	r.Observe("POST", "/v1/documents", 201, 5*time.Millisecond) // a bound belongs to its bucket
	require.NoError(t, r.Flush(context.Background()))

	day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC) // 22:59 UTC
	get := sink.held[Key{Day: day, Method: "GET", Route: "/v1/documents"}]
	require.Equal(t, int64(3), get.Requests)
	require.Equal(t, int64(1), get.Errors)
	require.InDelta(t, 60_043, get.SumMs, 0.001)
	want := make([]int64, Buckets)
	want[0], want[3], want[Buckets-1] = 1, 1, 1
	require.Equal(t, want, get.Buckets)
	post := sink.held[Key{Day: day, Method: "POST", Route: "/v1/documents"}]
	require.Equal(t, int64(1), post.Buckets[0])
}

func TestFlushKeepsCountsWhileTheSinkFails(t *testing.T) {
	sink := &memorySink{fail: true}
	r := New(sink, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Observe("GET", "/v1/me", 200, time.Millisecond)
	require.Error(t, r.Flush(context.Background()))
	r.Observe("GET", "/v1/me", 500, time.Millisecond)
	require.Error(t, r.Flush(context.Background()))
	sink.fail = false
	require.NoError(t, r.Flush(context.Background()))
	require.NoError(t, r.Flush(context.Background()), "nothing left to send")
	require.Len(t, sink.held, 1)
	for _, c := range sink.held {
		require.Equal(t, int64(2), c.Requests, "nothing counted twice, nothing lost")
		require.Equal(t, int64(1), c.Errors)
		require.Equal(t, int64(2), c.Buckets[0])
	}
}

func TestRunSavesTheLastCountsWhenStopped(t *testing.T) {
	sink := &memorySink{}
	r := New(sink, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, time.Hour) }()
	r.Observe("GET", "/v1/me", 200, time.Millisecond)
	cancel()
	<-done
	require.Len(t, sink.held, 1)
}

func TestQuantileInterpolatesInsideTheBucket(t *testing.T) {
	b := make([]int64, Buckets)
	require.Zero(t, Quantile(0.5, b), "no requests")
	b[2] = 10 // ten requests between 10 and 25 ms
	require.InDelta(t, 17.5, Quantile(0.5, b), 0.001)
	require.InDelta(t, 24.25, Quantile(0.95, b), 0.001)
	b[Buckets-1] = 90 // most slower than the last bound
	require.Equal(t, 10_000.0, Quantile(0.95, b), "the overflow answers with the last bound")
	require.InDelta(t, 25, Quantile(0.1, b), 0.001)
}
