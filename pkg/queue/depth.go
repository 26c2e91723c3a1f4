package queue

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// depthTimeout bounds what one scrape may spend asking JetStream: a slow or
// partitioned server leaves the depth series out of that scrape rather than
// holding /metrics up.
const depthTimeout = 2 * time.Second

// DepthCollector reports how far each job consumer is behind, asked of
// JetStream at scrape time: a polling goroutine would report stale numbers
// and keep asking when nobody scrapes.
type DepthCollector struct {
	js     jetstream.JetStream
	logger *slog.Logger

	pending    *prometheus.Desc
	ackPending *prometheus.Desc
	oldest     *prometheus.Desc
}

// NewDepthCollector returns the collector; register it on the registry /metrics serves.
func NewDepthCollector(js jetstream.JetStream, logger *slog.Logger) *DepthCollector {
	return &DepthCollector{
		js: js, logger: logger,
		pending: prometheus.NewDesc("yw_queue_pending_messages",
			"Jobs waiting for their first delivery, by consumer.", []string{"consumer"}, nil),
		ackPending: prometheus.NewDesc("yw_queue_ack_pending",
			"Jobs delivered and not yet acknowledged (running or awaiting redelivery), by consumer.", []string{"consumer"}, nil),
		oldest: prometheus.NewDesc("yw_queue_oldest_pending_age_seconds",
			"Age of the oldest job waiting for its first delivery, by consumer; 0 when none waits.", []string{"consumer"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *DepthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.ackPending
	ch <- c.oldest
}

// Collect implements prometheus.Collector.
func (c *DepthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), depthTimeout)
	defer cancel()
	stream, err := c.js.Stream(ctx, StreamJobs)
	if err != nil {
		c.logger.Warn("queue depth: stream info", "error", err)
		return
	}
	for _, name := range consumers {
		cons, err := stream.Consumer(ctx, name)
		if err != nil {
			c.logger.Warn("queue depth: consumer info", "consumer", name, "error", err)
			continue
		}
		info := cons.CachedInfo()
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(info.NumPending), name)
		ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(info.NumAckPending), name)
		if age, ok := oldestPendingAge(ctx, stream, info); ok {
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age.Seconds(), name)
		}
	}
}

// oldestPendingAge is the age of the consumer's first job past what it has
// delivered. It costs one lookup per subject of the consumer, and none when
// nothing waits.
func oldestPendingAge(ctx context.Context, stream jetstream.Stream, info *jetstream.ConsumerInfo) (time.Duration, bool) {
	if info.NumPending == 0 {
		return 0, true
	}
	var oldest time.Time
	for _, subject := range info.Config.FilterSubjects {
		msg, err := stream.GetMsg(ctx, info.Delivered.Stream+1, jetstream.WithGetMsgSubject(subject))
		if err != nil {
			continue // none on this subject (ErrMsgNotFound), or the server is slow: leave it out
		}
		if oldest.IsZero() || msg.Time.Before(oldest) {
			oldest = msg.Time
		}
	}
	if oldest.IsZero() {
		return 0, false
	}
	return max(time.Since(oldest), 0), true
}
