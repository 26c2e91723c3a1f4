package index

import (
	"context"
	"errors"
	"fmt"

	"github.com/qdrant/go-client/qdrant"

	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/vector"
)

// Mode is which retrievers a search runs.
type Mode string

// Modes of a search. Hybrid runs every retriever the index has: the lexical one
// always (when the collection has lexical vectors), the dense one when an
// embedding model fills the collection. The lexical embedder's hashed vectors are
// not semantic, so with it the lexical retriever answers alone.
const (
	Hybrid  Mode = "hybrid"
	Lexical Mode = "lexical"
	Dense   Mode = "dense"
)

// ModeUnavailableError says the index cannot run the requested mode; its message
// says what would make it possible.
type ModeUnavailableError struct {
	Mode   Mode
	Reason string
}

func (e *ModeUnavailableError) Error() string {
	return fmt.Sprintf("%s search is not available: %s", e.Mode, e.Reason)
}

// Query is one search of the chunk index.
type Query struct {
	Text string
	// Mode defaults to Hybrid.
	Mode   Mode
	Filter *qdrant.Filter
	Limit  int
	// Candidates is how many points each retriever hands to the fusion (zero:
	// twice Limit).
	Candidates int
}

// Result is what a search found and how.
type Result struct {
	Hits []vector.RankedHit
	// Degraded names why a retriever the mode wanted did not run (the embedding
	// model did not answer); "" when every wanted retriever ran.
	Degraded string
}

// Retrieve runs q against the collection behind the alias. The query is encoded
// with the active state's own embedder and lexical encoder, read once, so both
// match the collection they search. In Hybrid mode an embedding model that does
// not answer degrades the search to lexical instead of failing it.
func (ix *Index) Retrieve(ctx context.Context, q Query) (Result, error) {
	cur := ix.cur.Load()
	mode := q.Mode
	if mode == "" {
		mode = Hybrid
	}
	semantic := cur.emb != nil && !isLexicalEmbedder(cur)
	var useDense, useLexical bool
	switch mode {
	case Hybrid:
		useDense, useLexical = semantic, cur.lexical != nil
		if !useDense && !useLexical {
			useDense = true // a collection from before lexical vectors: its hashed vectors are all there is
		}
	case Lexical:
		if cur.lexical == nil {
			return Result{}, &ModeUnavailableError{Mode: mode, Reason: "the index was built before lexical search existed; run a re-embed job to build its lexical vectors"}
		}
		useLexical = true
	case Dense:
		if !semantic {
			return Result{}, &ModeUnavailableError{Mode: mode, Reason: "no embedding model fills the index (set YW_EMBED_MODEL and run a re-embed job)"}
		}
		useDense = true
	default:
		return Result{}, fmt.Errorf("unknown search mode %q", mode)
	}
	hq := vector.HybridQuery{Filter: q.Filter, Limit: q.Limit, Candidates: q.Candidates, Fusion: ix.cfg.Fusion, RRFK: ix.cfg.RRFK,
		DenseWeight: ix.cfg.DenseWeight}
	if useLexical {
		v := cur.lexical.Query(q.Text)
		if len(v.Indices) > 0 {
			hq.Sparse = &vector.SparseVector{Indices: v.Indices, Values: v.Values}
		}
	}
	var res Result
	if useDense {
		vecs, err := ix.cfg.EmbedMetrics.Embed(ctx, cur.emb, []string{q.Text})
		switch {
		case err == nil:
			hq.Dense = vecs[0]
		case mode == Hybrid && useLexical && errors.Is(err, embed.ErrUnavailable):
			res.Degraded = "the embedding model did not answer; lexical results only"
			ix.logger.WarnContext(ctx, "search degraded to lexical: the embedding model did not answer", "error", err)
		default:
			return Result{}, fmt.Errorf("embed query: %w", err)
		}
	}
	if hq.Dense == nil && hq.Sparse == nil {
		return res, nil // only stop words, say: nothing to look for
	}
	hits, err := ix.vectors.HybridSearch(ctx, Alias, hq)
	if err != nil {
		return Result{}, ix.searchError(ctx, err)
	}
	res.Hits = hits
	return res, nil
}

func isLexicalEmbedder(a *active) bool {
	if a.state.Provider != "" {
		return a.state.Provider == embed.ProviderLexical
	}
	_, ok := a.emb.(*embed.Lexical)
	return ok
}
