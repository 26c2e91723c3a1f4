package embed_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/metricstest"
)

func TestEmbedMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	metrics, err := embed.NewMetrics(reg)
	require.NoError(t, err)
	srv := llmtest.New(t)
	srv.SetEmbedDelay(10 * time.Millisecond)
	ollama := newOllama(t, ollamaConfig(srv.URL))
	lexical, err := embed.NewLexical(0)
	require.NoError(t, err)

	_, err = metrics.Embed(t.Context(), ollama, texts(8))
	require.NoError(t, err)
	_, err = metrics.Embed(t.Context(), lexical, texts(3))
	require.NoError(t, err)

	slow := metricstest.Histogram(t, reg, "yw_embed_request_duration_seconds", metricstest.Labels{"provider": "ollama"})
	require.EqualValues(t, 1, slow.GetSampleCount())
	require.GreaterOrEqual(t, slow.GetSampleSum(), 0.01, "the request took the server's delay")
	require.Equal(t, 1.0, metricstest.Value(t, reg, "yw_embed_request_duration_seconds", metricstest.Labels{"provider": "lexical"}))
	batch := metricstest.Histogram(t, reg, "yw_embed_batch_size", nil)
	require.EqualValues(t, 2, batch.GetSampleCount())
	require.Equal(t, 11.0, batch.GetSampleSum())
}
