package platform

import (
	"context"
	"time"

	"github.com/youworker/youworker/pkg/chunk"
	"github.com/youworker/youworker/pkg/ingest"
	"github.com/youworker/youworker/pkg/outbox"
	"github.com/youworker/youworker/pkg/queue"
)

// Relay returns the outbox relay publishing this platform's jobs.
func (p *Platform) Relay() *outbox.Relay {
	return outbox.NewRelay(p.Store, p.Publisher, time.Second, p.Logger)
}

// IngestWorker builds the ingest job handler from the configuration.
func (p *Platform) IngestWorker() *ingest.Worker {
	return ingest.New(p.Store, p.Objects, p.Index, ingest.Config{
		Limits:    p.Config.ParseLimits(),
		Chunk:     chunk.Options{TargetTokens: p.Config.ChunkTokens, OverlapTokens: p.Config.ChunkOverlap, MaxChunks: 50000},
		BatchSize: 16, EmbedConcurrency: p.Config.EmbedConcurrency,
	}, p.Logger)
}

// RunIngest consumes ingest and delete jobs until ctx ends.
func (p *Platform) RunIngest(ctx context.Context) error {
	w := p.IngestWorker()
	return queue.Run(ctx, p.JS, queue.ConsumerIngest, w.Handle, queue.RunOptions{
		Concurrency: p.Config.JobConcurrency, Timeout: 30 * time.Minute,
		// Half the shutdown budget: a document that does not finish is redelivered and
		// its idempotent steps are redone by the next worker.
		DrainTimeout: p.Config.ShutdownTimeout / 2,
		Logger:       p.Logger.With("worker", "ingest"), Metrics: p.QueueMetrics, OnDeadLetter: w.OnDeadLetter,
	})
}
