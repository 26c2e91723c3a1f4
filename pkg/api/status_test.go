package api

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// countingProbe reports c and counts its calls.
func countingProbe(calls *atomic.Int32, c Component) Probe {
	return func(context.Context) Component {
		calls.Add(1)
		return c
	}
}

func TestStatusReportsDegradedWhenAnyComponentIsDown(t *testing.T) {
	t.Parallel()
	up := func(context.Context) Component { return Component{OK: true, Detail: "fine"} }
	down := func(context.Context) Component { return Component{Detail: "the tool server tools is not answering"} }
	for _, tc := range []struct {
		name   string
		probes StatusProbes
		want   string
	}{
		{"all up", StatusProbes{LLM: up, Embedder: up, MCP: map[string]Probe{"tools": up}}, StatusOK},
		{"chat model down", StatusProbes{LLM: down, Embedder: up}, StatusDegraded},
		{"embedder down", StatusProbes{LLM: up, Embedder: down}, StatusDegraded},
		{"one MCP server down", StatusProbes{LLM: up, Embedder: up, MCP: map[string]Probe{"tools": up, "wiki": down}}, StatusDegraded},
		{"nothing to probe", StatusProbes{}, StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := NewStatus(tc.probes, StatusConfig{}).Report(context.Background())
			require.NoError(t, err)
			require.Equal(t, tc.want, r.Status)
			require.Len(t, r.Components.MCP, len(tc.probes.MCP))
		})
	}
}

func TestStatusBodyKeepsTheDocumentedShape(t *testing.T) {
	t.Parallel()
	for _, s := range []*Status{nil, NewStatus(StatusProbes{}, StatusConfig{})} {
		r, err := s.Report(context.Background())
		require.NoError(t, err)
		b, err := json.Marshal(r)
		require.NoError(t, err)
		require.JSONEq(t, `{"status":"ok","components":{
			"llm":{"ok":true,"detail":"not checked by this server"},
			"embedder":{"ok":true,"detail":"not checked by this server"},
			"mcp":{}}}`, string(b), "no MCP server is an empty object, never null")
	}
}

func TestStatusProbesAtMostOncePerTTL(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	s := NewStatus(StatusProbes{LLM: countingProbe(&calls, Component{OK: true, Detail: "up"})}, StatusConfig{TTL: 5 * time.Second})
	s.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); clock = clock.Add(d) }

	for range 20 {
		_, err := s.Report(context.Background())
		require.NoError(t, err)
	}
	require.Equal(t, int32(1), calls.Load(), "polling clients are answered from the cache")
	advance(4 * time.Second)
	_, err := s.Report(context.Background())
	require.NoError(t, err)
	require.Equal(t, int32(1), calls.Load(), "still fresh")
	advance(2 * time.Second)
	_, err = s.Report(context.Background())
	require.NoError(t, err)
	require.Equal(t, int32(2), calls.Load(), "stale after the TTL: probed again")
}

func TestStatusRunsOneProbeAtATime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		release := make(chan struct{})
		slow := func(ctx context.Context) Component {
			calls.Add(1)
			select {
			case <-release:
				return Component{OK: true, Detail: "up"}
			case <-ctx.Done():
				return Component{Detail: "timed out"}
			}
		}
		s := NewStatus(StatusProbes{LLM: slow, Embedder: slow}, StatusConfig{TTL: time.Nanosecond, Timeout: time.Hour})
		const clients = 10
		results := make([]StatusReport, clients)
		errs := make([]error, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() { results[i], errs[i] = s.Report(context.Background()) })
		}
		synctest.Wait() // every client is blocked: one runs the probes, the rest wait for it
		require.Equal(t, int32(2), calls.Load(), "one run of the two probes for ten clients")
		close(release)
		wg.Wait()
		for i, r := range results {
			require.NoError(t, errs[i])
			require.Equal(t, StatusOK, r.Status)
		}
	})
}

func TestStatusBoundsEachProbeAndIgnoresClientsHangingUp(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		hang := func(ctx context.Context) Component {
			<-ctx.Done()
			return Component{Detail: "the chat model llama3.1 is not answering"}
		}
		up := func(context.Context) Component { return Component{OK: true, Detail: "up"} }
		s := NewStatus(StatusProbes{LLM: hang, Embedder: up}, StatusConfig{Timeout: 2 * time.Second})
		type result struct {
			r   StatusReport
			err error
		}
		report := func(ctx context.Context) chan result {
			out := make(chan result, 1)
			go func() {
				r, err := s.Report(ctx)
				out <- result{r, err}
			}()
			return out
		}
		start := time.Now()

		// The first client runs the probes; a second one waits for that run.
		runnerCtx, hangUpRunner := context.WithCancel(context.Background())
		runner := report(runnerCtx)
		synctest.Wait()
		waiterCtx, hangUpWaiter := context.WithCancel(context.Background())
		waiter := report(waiterCtx)
		synctest.Wait()

		// A waiting client that hangs up gets its context's error at once.
		hangUpWaiter()
		require.ErrorIs(t, (<-waiter).err, context.Canceled)

		// The running client hanging up does not cut the probes short: a cancelled
		// request must not record every component as down.
		hangUpRunner()
		synctest.Wait()
		select {
		case <-runner:
			t.Fatal("the run ended with the request instead of the probe")
		default:
		}

		// The probe timeout bounds the run, and what it found is recorded.
		got := <-runner
		require.NoError(t, got.err)
		require.Equal(t, 2*time.Second, time.Since(start), "the timeout bounds the hanging probe")
		require.Equal(t, StatusDegraded, got.r.Status)
		require.False(t, got.r.Components.LLM.OK)
		require.True(t, got.r.Components.Embedder.OK)
		cached, err := s.Report(context.Background())
		require.NoError(t, err)
		require.Equal(t, got.r, cached)
	})
}
