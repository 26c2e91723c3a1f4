// Package routestats counts the API's requests per route and UTC day, with a
// latency histogram each, and adds the counts to PostgreSQL every little while, so
// the usage analytics can name the slowest routes of the whole platform: every
// replica adds its own counts to the same rows.
//
// Prometheus has the same figures, but only for as long as it keeps them and only
// where an operator runs it; these live beside the rest of the usage history.
package routestats

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// BucketBoundsMs are the upper bounds of the latency buckets in milliseconds; a last
// bucket, past the final bound, holds everything slower. Fixed forever: rows of
// every day and every replica add up bucket by bucket.
var BucketBoundsMs = []float64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}

// Buckets is the number of buckets of a histogram: one per bound and the overflow.
var Buckets = len(BucketBoundsMs) + 1

// Key names one route on one UTC day.
type Key struct {
	Day    time.Time // midnight UTC
	Method string
	Route  string
}

// Counts are a route's requests on a day: how many, how many failed with a server
// error, their total time and its histogram.
type Counts struct {
	Requests int64
	Errors   int64
	SumMs    float64
	Buckets  []int64 // len Buckets
}

func (c *Counts) add(o Counts) {
	c.Requests += o.Requests
	c.Errors += o.Errors
	c.SumMs += o.SumMs
	if c.Buckets == nil {
		c.Buckets = make([]int64, Buckets)
	}
	for i, n := range o.Buckets {
		c.Buckets[i] += n
	}
}

// Sink keeps counts: it adds each to what it already holds for the key.
type Sink interface {
	AddRouteStats(ctx context.Context, counts map[Key]Counts) error
}

// Recorder gathers counts in memory between flushes.
type Recorder struct {
	sink   Sink
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	pending map[Key]*Counts
}

// New returns a recorder that flushes into sink.
func New(sink Sink, logger *slog.Logger) *Recorder {
	return &Recorder{sink: sink, logger: logger, now: time.Now, pending: map[Key]*Counts{}}
}

// Observe counts one request of route that ended with status after elapsed.
func (r *Recorder) Observe(method, route string, status int, elapsed time.Duration) {
	ms := float64(elapsed) / float64(time.Millisecond)
	bucket := len(BucketBoundsMs)
	for i, bound := range BucketBoundsMs {
		if ms <= bound {
			bucket = i
			break
		}
	}
	t := r.now().UTC()
	key := Key{Day: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), Method: method, Route: route}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.pending[key]
	if c == nil {
		c = &Counts{Buckets: make([]int64, Buckets)}
		r.pending[key] = c
	}
	c.Requests++
	if status >= 500 {
		c.Errors++
	}
	c.SumMs += ms
	c.Buckets[bucket]++
}

// Flush hands the counts gathered so far to the sink. When the sink fails they are
// kept, added to what comes next, and tried again at the next flush.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	batch := r.pending
	r.pending = map[Key]*Counts{}
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	counts := make(map[Key]Counts, len(batch))
	for k, c := range batch {
		counts[k] = *c
	}
	err := r.sink.AddRouteStats(ctx, counts)
	if err != nil {
		r.mu.Lock()
		for k, c := range batch {
			if cur := r.pending[k]; cur != nil {
				c.add(*cur)
			}
			r.pending[k] = c
		}
		r.mu.Unlock()
	}
	return err
}

// Run flushes every interval until ctx ends, then once more with a context of its
// own, so the counts of the last moments before a shutdown are kept too.
func (r *Recorder) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := r.Flush(ctx); err != nil && ctx.Err() == nil {
				r.logger.Warn("route statistics not saved; kept for the next try", "error", err)
			}
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := r.Flush(final); err != nil {
				r.logger.Warn("route statistics of the last moments lost at shutdown", "error", err)
			}
			return
		}
	}
}

// Quantile estimates the q-quantile (0 < q < 1) of a histogram in milliseconds,
// interpolating linearly inside the bucket it falls in, as Prometheus'
// histogram_quantile does; the overflow bucket answers with the last bound.
func Quantile(q float64, buckets []int64) float64 {
	var total int64
	for _, n := range buckets {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen int64
	for i, n := range buckets {
		if n == 0 || float64(seen+n) < rank {
			seen += n
			continue
		}
		if i >= len(BucketBoundsMs) {
			return BucketBoundsMs[len(BucketBoundsMs)-1]
		}
		lower := 0.0
		if i > 0 {
			lower = BucketBoundsMs[i-1]
		}
		return lower + (BucketBoundsMs[i]-lower)*(rank-float64(seen))/float64(n)
	}
	return BucketBoundsMs[len(BucketBoundsMs)-1]
}
