package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/youworker/youworker/pkg/bm25"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// DefaultRefreshEvery is how often Watch re-reads the recorded state by default.
const DefaultRefreshEvery = 2 * time.Second

// StateStore holds the recorded state of the alias; *store.Store implements it.
type StateStore interface {
	GetVectorIndex(ctx context.Context, alias string) (store.VectorIndex, error)
	CreateVectorIndex(ctx context.Context, v store.VectorIndex) (store.VectorIndex, error)
}

// Config says how an index that follows the recorded state builds its embedders.
type Config struct {
	// States holds the recorded state. Required.
	States StateStore
	// Ollama is the server (URL, timeouts) of Ollama embedders; the model comes
	// from the recorded state.
	Ollama embed.OllamaConfig
	// Configured is the configured embedder (YW_EMBED_MODEL, else lexical): the one
	// a re-embed without embed_model builds with. An Ollama spec needs no Dim.
	Configured embed.Spec
	// Initial picks the embedder of the first collection on a store that has no
	// recorded state yet; it is called only then. It may fall back (to the lexical
	// embedder when Ollama does not answer): after that, the record decides.
	Initial func(ctx context.Context) (embed.Embedder, error)
	// RefreshEvery is how often Watch re-reads the state (DefaultRefreshEvery).
	RefreshEvery time.Duration
	// Lexical holds the BM25 parameters and the language of the lexical vectors of
	// collections built from now on: the first one, and each re-embed's, which also
	// measures the average chunk length. Zero fields take bm25's defaults.
	Lexical bm25.Params
	// Fusion merges the retrievers of a hybrid search; empty means RRF.
	Fusion vector.Fusion
	// RRFK is the k of RRF (zero: vector.DefaultRRFK).
	RRFK int
	// DenseWeight weighs the dense retriever against the lexical one in RRF
	// (zero: equal).
	DenseWeight float32
	// EmbedMetrics records the embedding of search queries; nil records nothing.
	EmbedMetrics *embed.Metrics
}

// active is one recorded state with the embedder and the lexical encoder built
// for it; lexical is nil when the collection has no lexical vectors.
type active struct {
	state   store.VectorIndex
	emb     embed.Embedder
	lexical *bm25.Encoder
}

// OpenActive opens the index the recorded state describes, recording the first
// state on a fresh store, and points the alias at the recorded collection.
func OpenActive(ctx context.Context, vs *vector.Store, cfg Config, logger *slog.Logger) (*Index, error) {
	if cfg.States == nil || cfg.Initial == nil {
		return nil, errors.New("open index: States and Initial are required")
	}
	if cfg.RefreshEvery <= 0 {
		cfg.RefreshEvery = DefaultRefreshEvery
	}
	if err := cfg.Lexical.WithDefaults().Validate(); err != nil {
		return nil, fmt.Errorf("open index: lexical parameters: %w", err)
	}
	ix := &Index{vectors: vs, cfg: cfg, logger: logger.With("component", "index"), built: map[embed.Spec]embed.Embedder{}}
	state, err := cfg.States.GetVectorIndex(ctx, Alias)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if state, err = ix.recordFirst(ctx); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("read the index state: %w", err)
	}
	if err := ix.ensureAlias(ctx, state); err != nil {
		return nil, err
	}
	ix.mu.Lock()
	ix.install(state)
	ix.mu.Unlock()
	ix.logger.InfoContext(ctx, "chunk index open", "collection", state.Collection, "embedder", state.Embedder)
	if state.Lexical == nil {
		ix.logger.WarnContext(ctx, "the chunk index has no lexical vectors, so search is dense only: run a re-embed job (reindexer trigger re-embed) to build them",
			"collection", state.Collection)
	}
	return ix, nil
}

// NewLexical is how the lexical vectors of a collection built now are encoded: the
// configured BM25 parameters and language, with avgLen as the average chunk length
// (zero: the default, for a first collection that has no chunks to measure yet).
func (ix *Index) NewLexical(avgLen float64) *store.LexicalIndex {
	p := ix.cfg.Lexical
	p.AvgLen = avgLen
	p = p.WithDefaults()
	return &store.LexicalIndex{Encoder: bm25.Name, K1: p.K1, B: p.B, AvgLen: p.AvgLen, Language: p.Language}
}

// LexicalEncoder builds the lexical encoder a recorded state describes; nil for none.
func LexicalEncoder(l *store.LexicalIndex) (*bm25.Encoder, error) {
	if l == nil {
		return nil, nil
	}
	if l.Encoder != bm25.Name {
		return nil, fmt.Errorf("the index's lexical vectors were encoded by %q, which this version does not have (it has %s): run a re-embed", l.Encoder, bm25.Name)
	}
	enc, err := bm25.New(bm25.Params{K1: l.K1, B: l.B, AvgLen: l.AvgLen, Language: l.Language})
	if err != nil {
		return nil, fmt.Errorf("lexical encoder of the index: %w", err)
	}
	return enc, nil
}

// StateOf is the state saying that the alias points at collection, filled by emb,
// with lexical vectors encoded as lexical describes (nil: none).
func StateOf(collection string, emb embed.Embedder, lexical *store.LexicalIndex) (store.VectorIndex, error) {
	spec, err := embed.SpecOf(emb)
	if err != nil {
		return store.VectorIndex{}, fmt.Errorf("record the index state: %w", err)
	}
	return store.VectorIndex{Alias: Alias, Collection: collection, Embedder: emb.Identity().String(),
		Provider: spec.Provider, Model: spec.Model, Dim: spec.Dim, Lexical: lexical}, nil
}

// recordFirst records the first state: the collection the alias already points at
// (a store from before the state was recorded), or the first collection of the
// initial embedder. Programs starting together may pick different embedders (one
// may not reach Ollama); the first record wins and all of them follow it.
func (ix *Index) recordFirst(ctx context.Context) (store.VectorIndex, error) {
	emb, err := ix.cfg.Initial(ctx)
	if err != nil {
		return store.VectorIndex{}, fmt.Errorf("pick the first embedder: %w", err)
	}
	id := emb.Identity()
	collection := CollectionName(id, 1)
	lexical := ix.NewLexical(0)
	target, err := ix.vectors.ResolveAlias(ctx, Alias)
	switch {
	case err == nil:
		if err := checkDim(ctx, ix.vectors, target, id); err != nil {
			return store.VectorIndex{}, err
		}
		info, err := ix.vectors.Info(ctx, target)
		if err != nil {
			return store.VectorIndex{}, fmt.Errorf("read collection %s: %w", target, err)
		}
		if !info.Lexical {
			lexical = nil
		}
		collection = target
	case !errors.Is(err, vector.ErrNotFound):
		return store.VectorIndex{}, fmt.Errorf("resolve %s: %w", Alias, err)
	}
	want, err := StateOf(collection, emb, lexical)
	if err != nil {
		return store.VectorIndex{}, err
	}
	got, err := ix.cfg.States.CreateVectorIndex(ctx, want)
	if err != nil {
		return store.VectorIndex{}, fmt.Errorf("record the first index state: %w", err)
	}
	if got.Collection == want.Collection && got.Embedder == want.Embedder {
		ix.logger.InfoContext(ctx, "recorded the first chunk collection", "collection", got.Collection, "embedder", got.Embedder)
	}
	return got, nil
}

// ensureAlias points the alias at the recorded collection. The record is written
// before the alias moves, so an alias elsewhere is a switch that did not finish (or
// a vector store that lost it); the record is the system of record.
func (ix *Index) ensureAlias(ctx context.Context, state store.VectorIndex) error {
	target, err := ix.vectors.ResolveAlias(ctx, Alias)
	switch {
	case err == nil && target == state.Collection:
		return nil
	case err != nil && !errors.Is(err, vector.ErrNotFound):
		return fmt.Errorf("resolve %s: %w", Alias, err)
	}
	ensure := ix.vectors.EnsureCollection
	if state.Lexical != nil {
		ensure = ix.vectors.EnsureHybridCollection
	}
	if err := ensure(ctx, state.Collection, state.Dim, vector.Cosine); err != nil {
		return fmt.Errorf("create chunk collection %s: %w", state.Collection, err)
	}
	if err := ix.vectors.SwitchAlias(ctx, Alias, state.Collection); err != nil {
		return fmt.Errorf("point alias at %s: %w", state.Collection, err)
	}
	if target != "" {
		ix.logger.WarnContext(ctx, "pointed the alias at the recorded collection", "collection", state.Collection, "was", target)
	}
	return nil
}

// Refresh re-reads the recorded state and, when a re-embed switched it, makes
// Embedder return the new collection's embedder from now on.
func (ix *Index) Refresh(ctx context.Context) error {
	if ix.fixed != nil {
		return nil
	}
	state, err := ix.cfg.States.GetVectorIndex(ctx, Alias)
	if err != nil {
		return fmt.Errorf("read the index state: %w", err)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	cur := ix.cur.Load().state
	if sameIndex(cur, state) || state.SwitchedAt.Before(cur.SwitchedAt) {
		return nil // unchanged, or a read that a concurrent refresh has overtaken
	}
	ix.install(state)
	ix.logger.InfoContext(ctx, "the index switched collection; embedding with its embedder from now on",
		"collection", state.Collection, "embedder", state.Embedder, "previous", cur.Collection, "previous_embedder", cur.Embedder)
	return nil
}

// Watch re-reads the recorded state every RefreshEvery until ctx ends, so Embedder
// stays current without a query paying for the read. Polling Postgres needs no
// delivery guarantee and no extra dependency: a missed switch is seen at the next
// tick, and writes are checked against the record anyway (checkWrite).
func (ix *Index) Watch(ctx context.Context) {
	if ix.fixed != nil {
		return
	}
	tick := time.NewTicker(ix.cfg.RefreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := ix.Refresh(ctx); err != nil && ctx.Err() == nil {
				ix.logger.WarnContext(ctx, "refresh the index state", "error", err)
			}
		}
	}
}

// Configured returns the configured embedder, for a re-embed without embed_model.
// Unlike the first collection's choice it never falls back: an Ollama model that
// does not answer fails (wrapping embed.ErrUnavailable) so the job retries later.
func (ix *Index) Configured(ctx context.Context) (embed.Embedder, error) {
	if ix.fixed != nil {
		return ix.fixed, nil
	}
	spec := ix.cfg.Configured
	if spec.Provider == "" {
		spec.Provider = embed.ProviderLexical
	}
	if spec.Provider != embed.ProviderOllama || spec.Dim > 0 {
		ix.mu.Lock()
		defer ix.mu.Unlock()
		return ix.build(spec)
	}
	e, err := embed.Build(spec, ix.cfg.Ollama, ix.logger)
	if err != nil {
		return nil, fmt.Errorf("configured embedder: %w", err)
	}
	o, ok := e.(*embed.Ollama)
	if !ok {
		return nil, fmt.Errorf("configured embedder %s: built a %T, not an Ollama embedder", spec.Model, e)
	}
	if err := o.Probe(ctx); err != nil {
		_ = o.Close()
		return nil, fmt.Errorf("configured embedder %s: %w", spec.Model, err)
	}
	probed, err := embed.SpecOf(o)
	if err != nil {
		return nil, err
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if cached, ok := ix.built[probed]; ok {
		_ = o.Close()
		return cached, nil
	}
	ix.built[probed] = o
	return o, nil
}

// Close releases the connections of the embedders the index built.
func (ix *Index) Close() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, e := range ix.built {
		if c, ok := e.(interface{ Close() error }); ok {
			_ = c.Close()
		}
	}
}

// CheckEmbedder reports whether the active embedder can embed now (readiness).
func (ix *Index) CheckEmbedder(ctx context.Context) error {
	return embed.Check(ctx, ix.Embedder())
}

// install makes state the active one; ix.mu is held.
func (ix *Index) install(state store.VectorIndex) {
	spec := embed.Spec{Provider: state.Provider, Model: state.Model, Dim: state.Dim}
	emb, err := ix.build(spec)
	if err != nil {
		ix.logger.Error("cannot build the index's embedder: embedding fails until it can", "embedder", state.Embedder, "error", err)
		if !errors.Is(err, embed.ErrUnavailable) {
			err = fmt.Errorf("%w: %w", embed.ErrUnavailable, err)
		}
		emb = unavailable{id: spec.Identity(), err: err}
	}
	lexical, err := LexicalEncoder(state.Lexical)
	if err != nil {
		// Without the encoder this process could neither write chunks the
		// collection expects nor encode queries for it: search falls back to
		// dense and writes are refused by checkWrite until a re-embed.
		ix.logger.Error("cannot build the index's lexical encoder", "error", err)
	}
	ix.cur.Store(&active{state: state, emb: emb, lexical: lexical})
}

// build returns the cached embedder of spec, building it on first use; ix.mu is
// held. Embedders are kept for the life of the process: there are as many as
// re-embeds to another model, and a switch back reuses its embedder.
func (ix *Index) build(spec embed.Spec) (embed.Embedder, error) {
	if e, ok := ix.built[spec]; ok {
		return e, nil
	}
	e, err := embed.Build(spec, ix.cfg.Ollama, ix.logger)
	if err != nil {
		return nil, fmt.Errorf("build embedder %s: %w", spec.Identity(), err)
	}
	ix.built[spec] = e
	return e, nil
}

func sameIndex(a, b store.VectorIndex) bool {
	return a.Collection == b.Collection && a.Embedder == b.Embedder && a.Provider == b.Provider &&
		a.Model == b.Model && a.Dim == b.Dim && sameLexical(a.Lexical, b.Lexical)
}

func sameLexical(a, b *store.LexicalIndex) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// checkWrite refuses points of an embedder the index no longer holds. A worker that
// took its embedder just before a re-embed switched must not write the old model's
// vectors into the new collection: with equal dimensions the store would take them
// and search would compare unrelated vectors. The record is read for every write,
// one primary-key read per upsert of up to hundreds of embedded chunks; the caller
// retries and embeds with the new embedder.
func (ix *Index) checkWrite(ctx context.Context, points []vector.Point) error {
	if ix.fixed != nil || len(points) == 0 {
		return nil
	}
	if err := ix.Refresh(ctx); err != nil {
		return err
	}
	cur := ix.cur.Load()
	want := cur.state.Embedder
	lexical := cur.state.Lexical != nil
	for _, p := range points {
		if p.Payload.Embedder != want {
			return fmt.Errorf("%w: points embedded by %s, the index holds %s", ErrEmbedderChanged, p.Payload.Embedder, want)
		}
		if (p.Sparse != nil) != lexical {
			return fmt.Errorf("%w: points with lexical vectors %t, the index has them %t", ErrEmbedderChanged, p.Sparse != nil, lexical)
		}
	}
	return nil
}

// unavailable stands in for an embedder the index needs but this process cannot
// build (no Ollama URL configured): it has the active identity and fails every call.
type unavailable struct {
	id  embed.Identity
	err error
}

func (u unavailable) Identity() embed.Identity { return u.id }

func (u unavailable) Embed(context.Context, []string) ([][]float32, error) { return nil, u.err }

func (u unavailable) Check(context.Context) error { return u.err }
