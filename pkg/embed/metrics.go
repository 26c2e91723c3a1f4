package embed

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/youworker/youworker/pkg/promreg"
)

// Metrics measures embedding requests: how long the embedder takes per request
// (an Ollama embedding model is usually what slows ingestion and re-embeds
// down) and how many texts a request carries. A nil *Metrics records nothing.
type Metrics struct {
	duration *prometheus.HistogramVec
	batch    prometheus.Histogram
}

// NewMetrics builds the collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "yw_embed_request_duration_seconds",
			Help:    "Embedding request latency, by provider (ollama, lexical).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12), // 1ms .. ~60s
		}, []string{"provider"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "yw_embed_batch_size",
			Help:    "Texts per embedding request.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
	}
	if err := promreg.Register(reg, "embed", m.duration, m.batch); err != nil {
		return nil, err
	}
	return m, nil
}

// Embed asks e to embed texts and records the request, failed ones included:
// a model that times out is exactly what the latency should show.
func (m *Metrics) Embed(ctx context.Context, e Embedder, texts []string) ([][]float32, error) {
	if m == nil {
		return e.Embed(ctx, texts)
	}
	start := time.Now()
	vecs, err := e.Embed(ctx, texts)
	m.duration.WithLabelValues(providerOf(e.Identity())).Observe(time.Since(start).Seconds())
	m.batch.Observe(float64(len(texts)))
	return vecs, err
}

// providerOf is the provider label of an embedder: its identity names the
// model too, which is not a label (a re-embed may try any model).
func providerOf(id Identity) string {
	switch {
	case strings.HasPrefix(id.Name, ProviderOllama+":"):
		return ProviderOllama
	case id.Name == lexicalName:
		return ProviderLexical
	}
	return "other"
}
