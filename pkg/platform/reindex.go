package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/reindex"
)

// ReindexRunner builds the reindexer's job handler from the configuration. A re-embed
// with an embed_model uses that model on the configured Ollama and fails when the
// model cannot be used: it never falls back to the lexical embedder.
func (p *Platform) ReindexRunner() *reindex.Runner {
	return reindex.New(p.Store, p.Index, reindex.Config{
		EmbedConcurrency: p.Config.EmbedConcurrency,
		Embedders: func(ctx context.Context, model string) (embed.Embedder, error) {
			if p.Config.OllamaURL == "" {
				return nil, errors.New("YW_OLLAMA_URL is not set")
			}
			o, err := embed.NewOllama(embed.OllamaConfig{URL: p.Config.OllamaURL, Model: model}, p.Logger)
			if err != nil {
				return nil, err
			}
			if err := o.Probe(ctx); err != nil {
				_ = o.Close()
				return nil, fmt.Errorf("probe %s: %w", model, err)
			}
			return o, nil
		},
	}, p.Logger)
}

// RunReindex consumes re-index and ACL sync jobs until ctx ends.
func (p *Platform) RunReindex(ctx context.Context) error {
	r := p.ReindexRunner()
	return queue.Run(ctx, p.JS, queue.ConsumerReindex, r.Handle, queue.RunOptions{
		Concurrency: p.Config.JobConcurrency, Timeout: 24 * time.Hour,
		Logger: p.Logger.With("component", "reindex-runner"), Metrics: p.QueueMetrics, OnDeadLetter: r.OnDeadLetter,
	})
}
