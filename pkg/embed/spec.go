package embed

import (
	"errors"
	"fmt"
	"log/slog"
)

// Providers an embedder can be rebuilt from.
const (
	ProviderLexical = "lexical"
	ProviderOllama  = "ollama"
)

// Spec is what another process needs to rebuild an embedder that produces the
// same vectors: the provider, the model (Ollama) and the dimension. A Spec is
// comparable, so it can key a cache of built embedders.
type Spec struct {
	Provider string
	Model    string
	// Dim is the vector length; 0 for an Ollama model means "learn it by probing".
	Dim int
}

// SpecOf returns the spec that rebuilds e. An Ollama embedder must know its
// dimension (probed or built from a spec with one).
func SpecOf(e Embedder) (Spec, error) {
	switch e := e.(type) {
	case *Lexical:
		return Spec{Provider: ProviderLexical, Dim: e.dim}, nil
	case *Ollama:
		dim := e.Identity().Dim
		if dim == 0 {
			return Spec{}, fmt.Errorf("spec of %s: dimension unknown until probed", e.name)
		}
		return Spec{Provider: ProviderOllama, Model: modelName(e.cfg.Model), Dim: dim}, nil
	}
	return Spec{}, fmt.Errorf("spec of embedder %T: not one the platform can rebuild", e)
}

// Identity is the identity the embedder built from s has.
func (s Spec) Identity() Identity {
	switch s.Provider {
	case ProviderOllama:
		return Identity{Name: "ollama:" + modelName(s.Model), Dim: s.Dim}
	case ProviderLexical:
		dim := s.Dim
		if dim == 0 {
			dim = DefaultLexicalDim
		}
		return Identity{Name: lexicalName, Dim: dim}
	}
	return Identity{Name: s.Provider, Dim: s.Dim}
}

// Build returns the embedder of s. An Ollama embedder uses ollama (URL, timeouts)
// with s's model and never falls back: it is built without contacting the server,
// so a process starting while Ollama is down still gets the embedder the index
// needs, whose calls fail with ErrUnavailable until Ollama answers. When s has a
// dimension the embedder reports it at once and refuses vectors of any other.
func Build(s Spec, ollama OllamaConfig, logger *slog.Logger) (Embedder, error) {
	switch s.Provider {
	case ProviderLexical:
		return NewLexical(s.Dim)
	case ProviderOllama:
		if ollama.URL == "" {
			return nil, fmt.Errorf("%w: the index is embedded with ollama model %q and no Ollama URL is configured", ErrUnavailable, s.Model)
		}
		ollama.Model = s.Model
		o, err := NewOllama(ollama, logger)
		if err != nil {
			return nil, err
		}
		if s.Dim > 0 {
			// accept() then rejects a model that starts answering with another
			// dimension, instead of writing vectors the collection cannot hold.
			o.mu.Lock()
			o.dim = s.Dim
			o.mu.Unlock()
		}
		return o, nil
	}
	return nil, errors.New("build embedder: unknown provider " + s.Provider)
}
