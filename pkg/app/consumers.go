package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/chat"
	"github.com/youworker/youworker/pkg/chunk"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/ingest"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/modelqueue"
	"github.com/youworker/youworker/pkg/ocr"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/reindex"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
)

// runIngest consumes ingest and delete jobs until ctx ends.
func (a *App) runIngest(ctx context.Context) error {
	p, cfg := a.Platform, a.Config
	metrics, err := ingest.NewMetrics(p.Registry)
	if err != nil {
		return err
	}
	reader, closeReader, err := a.ocrReader(ctx)
	if err != nil {
		return err
	}
	defer closeReader()
	w := ingest.New(p.Store, p.Objects, p.Index, ingest.Config{
		Limits:    cfg.ParseLimits(),
		Chunk:     chunk.Options{TargetTokens: cfg.ChunkTokens, OverlapTokens: cfg.ChunkOverlap, MaxChunks: 50000},
		BatchSize: 16, EmbedConcurrency: cfg.EmbedConcurrency,
		Metrics: metrics, EmbedMetrics: p.EmbedMetrics,
		Fetcher: a.Services.Documents,
		OCR:     reader, OCRConcurrency: cfg.OCRConcurrency,
	}, a.Logger)
	timeout := 30 * time.Minute
	if reader != nil {
		// A long scan is read a page at a time: hundreds of model requests.
		timeout = 2 * time.Hour
	}
	return queue.Run(ctx, p.JS, queue.ConsumerIngest, w.Handle, queue.RunOptions{
		Concurrency: cfg.JobConcurrency, Timeout: timeout,
		// Half the shutdown budget: a document that does not finish is redelivered and
		// its idempotent steps are redone by the next worker.
		DrainTimeout: cfg.ShutdownTimeout / 2,
		Logger:       a.Logger.With("component", "ingest-worker"), Metrics: p.QueueMetrics, OnDeadLetter: w.OnDeadLetter,
		TracerProvider: a.Tracing,
	})
}

// visionTimeout bounds the reading of one page by the vision model, retries
// included: a large model on a busy server takes tens of seconds.
const visionTimeout = 5 * time.Minute

// ocrReader is what reads scanned pages and pictures: the vision model when
// YW_VISION_MODEL is set, Tesseract when installed (and the model does not
// answer), else nothing (nil).
func (a *App) ocrReader(ctx context.Context) (ocr.Reader, func(), error) {
	cfg := a.Config
	var model *llm.Ollama
	if cfg.VisionModel != "" {
		var err error
		model, err = llm.NewOllama(llm.OllamaConfig{URL: cfg.OllamaURL, Model: cfg.VisionModel, Timeout: visionTimeout}, a.Logger)
		if err != nil {
			return nil, nil, fmt.Errorf("vision model: %w", err)
		}
	}
	ocrCfg := ocr.Config{VisionModel: cfg.VisionModel, Tesseract: cfg.Tesseract, Languages: cfg.OCRLanguages}
	if model != nil {
		ocrCfg.Model = model
	}
	reader, description := ocr.New(ctx, ocrCfg, a.Logger)
	a.Logger.InfoContext(ctx, "scanned pages and pictures are read by "+description)
	return reader, func() {
		if model != nil {
			_ = model.Close()
		}
	}, nil
}

// runReindex consumes re-index and ACL sync jobs until ctx ends. A re-embed with an
// embed_model uses that model on the configured Ollama and fails when the model
// cannot be used: it never falls back to the lexical embedder.
func (a *App) runReindex(ctx context.Context) error {
	p, cfg := a.Platform, a.Config
	metrics, err := reindex.NewMetrics(p.Registry)
	if err != nil {
		return err
	}
	r := reindex.New(p.Store, p.Index, reindex.Config{
		EmbedConcurrency: cfg.EmbedConcurrency,
		Metrics:          metrics, EmbedMetrics: p.EmbedMetrics,
		Embedders: func(ctx context.Context, model string) (embed.Embedder, error) {
			if cfg.OllamaURL == "" {
				return nil, errors.New("YW_OLLAMA_URL is not set")
			}
			o, err := embed.NewOllama(embed.OllamaConfig{URL: cfg.OllamaURL, Model: model}, a.Logger)
			if err != nil {
				return nil, err
			}
			if err := o.Probe(ctx); err != nil {
				_ = o.Close()
				return nil, fmt.Errorf("probe %s: %w", model, err)
			}
			return o, nil
		},
	}, a.Logger)
	return queue.Run(ctx, p.JS, queue.ConsumerReindex, r.Handle, queue.RunOptions{
		Concurrency: cfg.JobConcurrency, Timeout: 24 * time.Hour,
		Logger: a.Logger.With("component", "reindex-runner"), Metrics: p.QueueMetrics, OnDeadLetter: r.OnDeadLetter,
		TracerProvider: a.Tracing,
	})
}

// runChat consumes chat jobs until ctx ends.
func (a *App) runChat(ctx context.Context) error {
	p, cfg := a.Platform, a.Config
	model, err := a.chatModel()
	if err != nil {
		return err
	}
	toolMetrics, err := agent.NewMetrics(p.Registry)
	if err != nil {
		return err
	}
	tools, err := a.Toolset()
	if err != nil {
		return err
	}
	runner, err := agent.NewRunner(model, tools, agent.Config{SystemPrompt: cfg.SystemPrompt, MaxSteps: cfg.AgentMaxSteps,
		ContextTokens:      cfg.ChatContextTokens,
		ExtractiveFallback: true, DefaultModel: cfg.ChatModel, Metrics: toolMetrics}, a.Logger)
	if err != nil {
		return err
	}
	var chatCfg chat.Config
	if a.Platform.UsesOllama() && cfg.ModelParallel > 0 {
		q, err := modelqueue.New(p.Store, p.NC, modelqueue.Config{DefaultModel: cfg.ChatModel, Limits: store.ModelLimits{
			Parallel: cfg.ModelParallel, RequestsPerMinute: cfg.ModelRequestsPerMinute, TokensPerMinute: cfg.ModelTokensPerMinute}}, a.Logger)
		if err != nil {
			return err
		}
		chatCfg.Queue = q
	}
	w := chat.New(p.Store, p.Turns, p.NC, runner, chatCfg, a.Logger)
	return queue.Run(ctx, p.JS, queue.ConsumerChat, w.Handle, queue.RunOptions{
		Concurrency: cfg.ChatConcurrency, Timeout: 30 * time.Minute,
		// A turn can run for minutes: on shutdown it is handed over at once; the next
		// attempt announces turn.restarted and clients discard the partial text.
		DrainTimeout: time.Second,
		Logger:       a.Logger.With("component", "agent-worker"), Metrics: p.QueueMetrics, OnDeadLetter: w.OnDeadLetter,
		TracerProvider: a.Tracing,
	})
}

// chatModel is Ollama when configured, else the extractive answerer that streams
// the best passages with citations.
func (a *App) chatModel() (llm.ChatModel, error) {
	if !a.Platform.UsesOllama() {
		return agent.Extractive{}, nil
	}
	metrics, err := llm.NewMetrics(a.Platform.Registry)
	if err != nil {
		return nil, err
	}
	return llm.NewOllama(llm.OllamaConfig{URL: a.Config.OllamaURL, Model: a.Config.ChatModel, Metrics: metrics}, a.Logger)
}

// cancelTurn signals the worker running a turn to stop now.
func (a *App) cancelTurn(_ context.Context, turnID string) error {
	return a.Platform.NC.Publish(chat.CancelSubject(turnID), nil)
}

// searcher lets the agent's search_documents run through the search service, with
// the same access rule and Postgres re-check as /v1/search.
type searcher struct{ search *service.Search }

func (s searcher) Search(ctx context.Context, p access.Principal, q agent.SearchQuery) ([]agent.Passage, error) {
	hits, err := s.search.Search(ctx, p, service.SearchRequest{Query: q.Text, Limit: min(max(q.Limit, 1), service.MaxSearchLimit), Scope: q.Scope})
	if se, ok := errors.AsType[*service.Error](err); ok {
		// Service errors are written for people (a query too long, the index
		// switching models): the model and the user may read them.
		return nil, fmt.Errorf("%w: %w", &agent.ToolError{Message: se.Message}, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]agent.Passage, len(hits))
	for i, h := range hits {
		out[i] = agent.Passage{DocumentID: h.DocumentID, Filename: h.Filename, ChunkIndex: h.ChunkIndex, Score: h.Score, Text: h.Text, Page: h.Page,
			Matched: h.Matched}
		if h.Heading != nil {
			out[i].Heading = *h.Heading
		}
	}
	return out, nil
}
