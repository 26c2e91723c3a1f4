package ingest

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/youworker/youworker/pkg/promreg"

	"github.com/youworker/youworker/pkg/parse"
)

// Stages of an ingest, the "stage" label of yw_ingest_stage_duration_seconds.
const (
	StageFetch = "fetch" // the upload copied from the object store
	StageParse = "parse"
	StageOCR   = "ocr" // the scanned pages read, when the document has any
	StageChunk = "chunk"
	StageEmbed = "embed" // every chunk embedded
	// StageIndex is the time after the last embedding until the document is
	// ready: the vector upserts still running then, and marking it ready.
	// Embedding and indexing overlap, so it counts only what indexing adds.
	StageIndex = "index"
)

// Outcomes of an ingest, the "outcome" label of yw_ingest_documents_total.
const (
	// OutcomeReady: the document is searchable.
	OutcomeReady = "ready"
	// OutcomeFailed: the document cannot be indexed (unsupported, empty, too
	// large, damaged) and was marked failed.
	OutcomeFailed = "failed"
	// OutcomeError: the attempt failed for a reason outside the document (the
	// embedder, the vector store, the database) and the job is retried.
	OutcomeError = "error"
)

// formatOther labels documents of a format no parser knows.
const formatOther = "other"

// Metrics measures ingestion: where a document's time goes, and how many
// documents end ready or failed, by format. A nil *Metrics records nothing.
type Metrics struct {
	stages    *prometheus.HistogramVec
	documents *prometheus.CounterVec
}

// NewMetrics builds the collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "yw_ingest_stage_duration_seconds",
			Help:    "Time one document spent in each ingest stage (fetch, parse, chunk, embed, index); the stages add up to the document's time.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 13), // 1ms .. ~9min
		}, []string{"stage"}),
		documents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yw_ingest_documents_total",
			Help: "Ingest attempts by outcome (ready, failed, error) and document format.",
		}, []string{"outcome", "format"}),
	}
	if err := promreg.Register(reg, "ingest", m.stages, m.documents); err != nil {
		return nil, err
	}
	return m, nil
}

// document records how an ingest attempt of a document of format ended.
func (m *Metrics) document(outcome, format string) {
	if m == nil {
		return
	}
	if !parse.Format(format).Known() {
		format = formatOther
	}
	m.documents.WithLabelValues(outcome, format).Inc()
}

// stageClock times the stages of one document, each from the end of the one
// before. Embedding ends on another goroutine than the one that started it,
// hence the lock.
type stageClock struct {
	m    *Metrics
	mu   sync.Mutex
	last time.Time
}

func (m *Metrics) clock() *stageClock { return &stageClock{m: m, last: time.Now()} }

// lap records the time since the previous lap as stage.
func (c *stageClock) lap(stage string) {
	if c.m == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.m.stages.WithLabelValues(stage).Observe(now.Sub(c.last).Seconds())
	c.last = now
}
