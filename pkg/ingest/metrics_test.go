package ingest_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/chunk"
	"github.com/youworker/youworker/pkg/corpustest"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/ingest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/metricstest"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
)

// TestIngestMetrics ingests a real Word document and an empty text file, and
// reads back every stage of the first and the outcome of both.
func TestIngestMetrics(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	reg := prometheus.NewRegistry()
	metrics, err := ingest.NewMetrics(reg)
	require.NoError(t, err)
	embedMetrics, err := embed.NewMetrics(reg)
	require.NoError(t, err)
	r.worker = ingest.New(r.store, r.objects, r.index, ingest.Config{
		Limits:    parse.DefaultLimits(),
		Chunk:     chunk.Options{TargetTokens: 100, OverlapTokens: 10, MaxChunks: 50000},
		BatchSize: 4, EmbedConcurrency: 2, Metrics: metrics, EmbedMetrics: embedMetrics,
	}, logging.Discard())
	r.start(queue.RunOptions{})

	ready := r.wait(r.upload("handbook.docx", corpustest.Read(t, "handbook-1p.docx")).ID, time.Minute, finished)
	r.requireIndexed(ready)
	failed := r.wait(r.upload("empty.txt", corpustest.Read(t, "fake-text-all-whitespace.txt")).ID, time.Minute, finished)
	require.Equal(t, store.StatusFailed, failed.Status)

	documents := func(outcome, format string) float64 {
		return metricstest.Value(t, reg, "yw_ingest_documents_total", metricstest.Labels{"outcome": outcome, "format": format})
	}
	require.Eventually(t, func() bool {
		return documents(ingest.OutcomeReady, "docx") == 1 && documents(ingest.OutcomeFailed, "text") == 1
	}, 10*time.Second, 10*time.Millisecond, "the counters move before the job is acknowledged")
	for _, stage := range []string{ingest.StageFetch, ingest.StageParse, ingest.StageChunk, ingest.StageEmbed, ingest.StageIndex} {
		require.Positive(t, metricstest.Value(t, reg, "yw_ingest_stage_duration_seconds", metricstest.Labels{"stage": stage}), stage)
	}
	require.Equal(t, 1.0, metricstest.Value(t, reg, "yw_ingest_stage_duration_seconds", metricstest.Labels{"stage": ingest.StageEmbed}),
		"one observation per document that got that far")
	batches := metricstest.Histogram(t, reg, "yw_embed_batch_size", nil)
	require.EqualValues(t, ready.ChunkCount, batches.GetSampleSum(), "every chunk embedded once")
	require.EqualValues(t, (ready.ChunkCount+3)/4, batches.GetSampleCount(), "in requests of four")
	require.Positive(t, metricstest.Value(t, reg, "yw_embed_request_duration_seconds", metricstest.Labels{"provider": "lexical"}))
}
