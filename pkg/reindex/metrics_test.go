package reindex

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/metricstest"
	"github.com/youworker/youworker/pkg/store"
)

// TestReindexProgressMetrics runs a re-embed and reads its progress from the
// registry at every checkpoint: it climbs to the total, and the series go away
// with the job.
func TestReindexProgressMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	require.NoError(t, err)
	embedMetrics, err := embed.NewMetrics(reg)
	require.NoError(t, err)
	f := newFixture(t, Config{ChunkBatch: 50, Metrics: metrics, EmbedMetrics: embedMetrics})
	f.seed(2, 1, 10, 20) // 200 chunks
	kind := metricstest.Labels{"kind": store.KindReEmbed}
	embedded := func() float64 { return metricstest.Histogram(t, reg, "yw_embed_batch_size", nil).GetSampleSum() }
	seeded := embedded()

	var seen []float64
	f.runner.afterSave = func(*task) {
		done := metricstest.Value(t, reg, "yw_reindex_job_done", kind)
		require.Equal(t, 200.0, metricstest.Value(t, reg, "yw_reindex_job_total", kind))
		seen = append(seen, done)
	}
	f.run(f.start(store.KindReEmbed, nil).ID, store.JobCompleted)

	require.Contains(t, seen, 50.0, "progress shows after the first batch")
	require.Contains(t, seen, 200.0, "and reaches the total")
	require.Nil(t, metricstest.Find(t, reg, "yw_reindex_job_done", kind), "a finished job leaves no series behind")
	require.Nil(t, metricstest.Find(t, reg, "yw_reindex_job_total", kind))
	require.GreaterOrEqual(t, embedded()-seeded, 200.0, "the re-embed embedded every chunk")
}
