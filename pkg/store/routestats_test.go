package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/routestats"
	"github.com/youworker/youworker/pkg/store"
)

func TestRouteStatsAddUpAcrossFlushesAndReplicas(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	ctx := context.Background()
	day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	counts := func(requests int64, bucket int) map[routestats.Key]routestats.Counts {
		b := make([]int64, routestats.Buckets)
		b[bucket] = requests
		m := map[routestats.Key]routestats.Counts{}
		for _, route := range []string{"/v1/documents", "/v1/me", "/v1/search"} {
			m[routestats.Key{Day: day, Method: "GET", Route: route}] = routestats.Counts{Requests: requests, Errors: 1, SumMs: 2.5 * float64(requests), Buckets: b}
		}
		return m
	}
	// Replicas flush the same rows at the same moment: no deadlock, nothing lost.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.AddRouteStats(ctx, counts(2, i%3))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	days, err := st.RouteDays(ctx, store.UsageRange{First: day, Last: day})
	require.NoError(t, err)
	require.Len(t, days, 3)
	for _, d := range days {
		require.Equal(t, int64(16), d.Requests)
		require.Equal(t, int64(8), d.Errors)
		require.InDelta(t, 40, d.SumMs, 0.001)
		want := make([]int64, routestats.Buckets)
		want[0], want[1], want[2] = 6, 6, 4
		require.Equal(t, want, d.Buckets)
	}
	none, err := st.RouteDays(ctx, store.UsageRange{First: day.AddDate(0, 0, 1), Last: day.AddDate(0, 0, 2)})
	require.NoError(t, err)
	require.Empty(t, none)
}
