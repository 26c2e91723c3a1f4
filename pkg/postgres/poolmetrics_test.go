package postgres_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/metricstest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/postgres"
)

func TestPoolCollector(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(postgres.NewPoolCollector(pool))
	conns := func(state string) float64 {
		return metricstest.Value(t, reg, "yw_db_pool_connections", metricstest.Labels{"state": state})
	}

	a, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	b, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2.0, conns("acquired"))
	require.Equal(t, 20.0, conns("max"))
	require.GreaterOrEqual(t, conns("total"), 2.0)
	a.Release()
	b.Release()
	require.Zero(t, conns("acquired"))
	require.GreaterOrEqual(t, conns("idle"), 2.0, "released connections go back to the pool")
	require.Greater(t, metricstest.Value(t, reg, "yw_db_pool_acquire_wait_seconds_total", nil), 0.0,
		"opening a connection for an acquire is time spent waiting")
}
