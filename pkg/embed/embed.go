// Package embed turns text into vectors for retrieval: through an Ollama
// embedding model when one is configured and reachable, or through a built-in
// lexical embedder that needs no model at all.
//
// Every embedder has an Identity (name and dimension). The identity is stored
// next to the vectors it produced, so vectors from different embedders are
// never compared; it must therefore be stable across versions and restarts.
package embed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
)

// ErrUnavailable means the embedding server could not be reached or kept
// failing after retries.
var ErrUnavailable = errors.New("embedder unavailable")

// ErrModelNotFound means the embedding server does not have the model.
var ErrModelNotFound = errors.New("embedding model not found")

// Embedder turns texts into unit-length vectors of Identity().Dim dimensions,
// one per text, in order.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Identity() Identity
}

// Checker reports whether an embedder is ready (for readiness probes).
type Checker interface {
	Check(ctx context.Context) error
}

// Identity names an embedder and its output dimension.
type Identity struct {
	// Name identifies the model, e.g. "ollama:nomic-embed-text" or "lexical-v1".
	Name string `json:"name"`
	// Dim is the vector length.
	Dim int `json:"dim"`
}

// String returns the stable form recorded with vectors, e.g.
// "ollama:nomic-embed-text:768".
func (id Identity) String() string { return id.Name + ":" + strconv.Itoa(id.Dim) }

// Config selects and configures the embedder.
type Config struct {
	// Ollama is used when its URL and Model are set and the model answers.
	Ollama OllamaConfig
	// LexicalDim is the fallback's dimension (default DefaultLexicalDim).
	LexicalDim int
}

// Select returns the Ollama embedder when it is configured and its probe
// succeeds, and the lexical embedder otherwise, logging why at warn level.
//
// Falling back changes the identity, so callers that already hold vectors
// must compare identities before searching them.
func Select(ctx context.Context, cfg Config, logger *slog.Logger) (Embedder, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	lexical := func() (Embedder, error) {
		l, err := NewLexical(cfg.LexicalDim)
		if err != nil {
			return nil, fmt.Errorf("select embedder: %w", err)
		}
		return l, nil
	}
	switch {
	case cfg.Ollama.URL == "" && cfg.Ollama.Model == "":
		logger.WarnContext(ctx, "no ollama embedding model configured, using the lexical embedder",
			"embedder", lexicalName)
		return lexical()
	case cfg.Ollama.URL == "" || cfg.Ollama.Model == "":
		logger.WarnContext(ctx, "ollama embedding needs both a URL and a model, using the lexical embedder",
			"ollama_url", cfg.Ollama.URL, "embed_model", cfg.Ollama.Model)
		return lexical()
	}
	o, err := NewOllama(cfg.Ollama, logger)
	if err != nil {
		return nil, fmt.Errorf("select embedder: %w", err)
	}
	if err := o.Probe(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("select embedder: %w", ctx.Err())
		}
		logger.WarnContext(ctx, "ollama embedding model unusable, using the lexical embedder",
			"error", err, "ollama_url", cfg.Ollama.URL, "embed_model", cfg.Ollama.Model)
		_ = o.Close()
		return lexical()
	}
	logger.InfoContext(ctx, "using ollama embedder", "identity", o.Identity().String())
	return o, nil
}

// Check runs e's readiness check when it has one.
func Check(ctx context.Context, e Embedder) error {
	if c, ok := e.(Checker); ok {
		return c.Check(ctx)
	}
	return nil
}

// normalize scales v to unit length in place; a zero vector stays zero.
func normalize(v []float32) {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range v {
		v[i] *= inv
	}
}
