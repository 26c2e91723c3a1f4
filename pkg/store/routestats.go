package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/youworker/youworker/pkg/routestats"
)

// addRouteStatsSQL adds one route's counts of a day to what the table holds,
// bucket by bucket.
const addRouteStatsSQL = `
INSERT INTO route_stats (day, method, route, requests, errors, sum_ms, buckets)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (day, method, route) DO UPDATE SET
    requests = route_stats.requests + EXCLUDED.requests,
    errors   = route_stats.errors + EXCLUDED.errors,
    sum_ms   = route_stats.sum_ms + EXCLUDED.sum_ms,
    buckets  = ARRAY(
        SELECT coalesce(old, 0) + coalesce(new, 0)
        FROM unnest(route_stats.buckets, EXCLUDED.buckets) WITH ORDINALITY AS b(old, new, i)
        ORDER BY i)`

// AddRouteStats adds counts to the stored ones in one round trip. The rows go in
// key order, so replicas flushing at the same moment lock them in the same order
// and never deadlock.
func (s *Store) AddRouteStats(ctx context.Context, counts map[routestats.Key]routestats.Counts) error {
	keys := make([]routestats.Key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b routestats.Key) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.Method, b.Method), cmp.Compare(a.Route, b.Route))
	})
	batch := &pgx.Batch{}
	for _, k := range keys {
		c := counts[k]
		batch.Queue(addRouteStatsSQL, k.Day, k.Method, k.Route, c.Requests, c.Errors, c.SumMs, c.Buckets)
	}
	if s.pool == nil {
		return fmt.Errorf("add route statistics: needs the pool, not a transaction")
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("add route statistics: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit a no-op
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("add route statistics: %w", err)
	}
	return tx.Commit(ctx)
}

// RouteDay is one route's requests on one day of a usage range.
type RouteDay struct {
	Method   string
	Route    string
	Requests int64
	Errors   int64
	SumMs    float64
	Buckets  []int64
}

// RouteDays lists the stored route counts of the days of r (everybody's: requests
// are not kept per user).
func (s *Store) RouteDays(ctx context.Context, r UsageRange) ([]RouteDay, error) {
	days, err := queryAll(ctx, s.db, func(row pgx.CollectableRow) (RouteDay, error) {
		var d RouteDay
		err := row.Scan(&d.Method, &d.Route, &d.Requests, &d.Errors, &d.SumMs, &d.Buckets)
		return d, err
	}, `SELECT method, route, requests, errors, sum_ms, buckets FROM route_stats
	    WHERE day >= $1 AND day < $2`, r.since(), r.until())
	if err != nil {
		return nil, fmt.Errorf("route statistics: %w", err)
	}
	return days, nil
}
