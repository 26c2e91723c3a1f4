package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector reports the connection pool's state at scrape time: whether
// the pool is exhausted (acquired near max) and how long requests wait for a
// connection. pgxpool keeps these counts itself, so reading them costs nothing.
type PoolCollector struct {
	pool        *pgxpool.Pool
	connections *prometheus.Desc
	waited      *prometheus.Desc
	emptyWaits  *prometheus.Desc
}

// NewPoolCollector returns the collector of pool; register it on the registry
// /metrics serves.
func NewPoolCollector(pool *pgxpool.Pool) *PoolCollector {
	return &PoolCollector{
		pool: pool,
		connections: prometheus.NewDesc("yw_db_pool_connections",
			"Database pool connections by state: acquired (in use), idle, total (open), max (the pool's bound).",
			[]string{"state"}, nil),
		waited: prometheus.NewDesc("yw_db_pool_acquire_wait_seconds_total",
			"Time spent acquiring connections from the database pool, summed; its rate rises when the pool is too small.",
			nil, nil),
		emptyWaits: prometheus.NewDesc("yw_db_pool_empty_acquires_total",
			"Acquires that had to wait because the database pool had no idle connection.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.connections
	ch <- c.waited
	ch <- c.emptyWaits
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	for state, n := range map[string]int32{
		"acquired": s.AcquiredConns(),
		"idle":     s.IdleConns(),
		"total":    s.TotalConns(),
		"max":      s.MaxConns(),
	} {
		ch <- prometheus.MustNewConstMetric(c.connections, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(c.waited, prometheus.CounterValue, s.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(c.emptyWaits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
}
