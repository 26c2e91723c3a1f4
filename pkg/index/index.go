// Package index is the chunk index of the platform: the vector collection behind the
// alias every reader and writer uses, bound to the embedder that fills it. It turns
// the generic vector adapter into the few operations ingestion and search need.
//
// Which collection is active, and which embedder fills it, is recorded in PostgreSQL
// (store.VectorIndex). Every program builds its embedder from that record, not from
// its own configuration, so a re-embed with another model is followed by the API and
// all workers without a restart.
package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/qdrant/go-client/qdrant"

	"github.com/youworker/youworker/pkg/bm25"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// Alias is the name readers and writers use; the collection behind it changes on re-embed.
const Alias = "yw_chunks"

// ErrEmbedderMismatch means the collection behind the alias was built by an embedder
// with another dimension than the one configured now.
var ErrEmbedderMismatch = errors.New("the vector index was built with another embedder: run a re-embed job")

// ErrEmbedderChanged means vectors were made by an embedder the index no longer
// holds: a re-embed switched it meanwhile. It wraps embed.ErrUnavailable because the
// remedy is the same: try again, and the retry embeds with the new embedder.
var ErrEmbedderChanged = fmt.Errorf("%w: the index switched to another embedder", embed.ErrUnavailable)

// Index writes and searches chunk vectors through the alias.
type Index struct {
	vectors *vector.Store
	logger  *slog.Logger

	// fixed is the one embedder of an index opened with Open; nil when the index
	// follows the recorded state (OpenActive).
	fixed embed.Embedder
	cfg   Config
	cur   atomic.Pointer[active]

	mu    sync.Mutex // guards built and orders installs
	built map[embed.Spec]embed.Embedder
}

// Open makes sure the alias points at a collection fit for embedder, creating the
// first collection on a fresh store (with lexical vectors of the default BM25
// parameters), and binds the index to embedder for good. It records no state: it
// serves tests and tools that only ever embed with one embedder. Programs use
// OpenActive, which follows re-embeds.
func Open(ctx context.Context, vs *vector.Store, embedder embed.Embedder, logger *slog.Logger) (*Index, error) {
	ix := &Index{vectors: vs, fixed: embedder, logger: logger.With("component", "index")}
	id := embedder.Identity()
	lexical := ix.NewLexical(0)
	target, err := vs.ResolveAlias(ctx, Alias)
	switch {
	case errors.Is(err, vector.ErrNotFound):
		name := CollectionName(id, 1)
		if err := vs.EnsureHybridCollection(ctx, name, id.Dim, vector.Cosine); err != nil {
			return nil, fmt.Errorf("create chunk collection: %w", err)
		}
		if err := vs.SwitchAlias(ctx, Alias, name); err != nil {
			return nil, fmt.Errorf("point alias at %s: %w", name, err)
		}
		ix.logger.Info("created chunk collection", "collection", name, "embedder", id.String())
		target = name
	case err != nil:
		return nil, fmt.Errorf("resolve %s: %w", Alias, err)
	default:
		if err := checkDim(ctx, vs, target, id); err != nil {
			return nil, err
		}
		info, err := vs.Info(ctx, target)
		if err != nil {
			return nil, fmt.Errorf("read collection %s: %w", target, err)
		}
		if !info.Lexical {
			lexical = nil
		}
	}
	enc, err := LexicalEncoder(lexical)
	if err != nil {
		return nil, err
	}
	ix.cur.Store(&active{state: store.VectorIndex{Alias: Alias, Collection: target, Embedder: id.String(), Dim: id.Dim, Lexical: lexical},
		emb: embedder, lexical: enc})
	return ix, nil
}

// checkDim refuses a collection whose vectors are not of id's dimension.
func checkDim(ctx context.Context, vs *vector.Store, collection string, id embed.Identity) error {
	dim, err := vs.CollectionDim(ctx, collection)
	if err != nil {
		return fmt.Errorf("read collection %s: %w", collection, err)
	}
	if dim != id.Dim {
		return fmt.Errorf("%w (collection %s has dimension %d, embedder %s has %d)", ErrEmbedderMismatch, collection, dim, id, id.Dim)
	}
	return nil
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

// CollectionName names the n-th collection built with embedder id.
func CollectionName(id embed.Identity, n int) string {
	slug := strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(id.Name), "_"), "_")
	return fmt.Sprintf("%s_%s_%d_v%d", Alias, slug, id.Dim, n)
}

// Embedder is the embedder whose vectors the collection behind the alias holds, as
// last read from the recorded state (see Watch and Refresh). It never blocks. When
// that embedder cannot be built here, the one returned has the active identity and
// fails every call with embed.ErrUnavailable: vectors of another embedder are never
// a substitute.
func (ix *Index) Embedder() embed.Embedder {
	return ix.cur.Load().emb
}

// Lexical is the encoder of the lexical vectors of the collection behind the alias,
// as last read from the recorded state; nil when that collection has none. Chunks
// written through the index must carry vectors of this encoder.
func (ix *Index) Lexical() *bm25.Encoder {
	return ix.cur.Load().lexical
}

// identity is the identity recorded on the points of the active collection.
func (ix *Index) identity() string {
	if ix.fixed != nil {
		return ix.fixed.Identity().String()
	}
	return ix.cur.Load().state.Embedder
}

// Vectors is the underlying adapter, for operator jobs.
func (ix *Index) Vectors() *vector.Store { return ix.vectors }

// Upsert writes points through the alias. Points of an embedder the index no longer
// holds are refused with ErrEmbedderChanged (see checkWrite).
func (ix *Index) Upsert(ctx context.Context, points []vector.Point) error {
	if err := ix.checkWrite(ctx, points); err != nil {
		return err
	}
	return ix.vectors.Upsert(ctx, Alias, points)
}

// Search returns the nearest points that pass filter. A query of another dimension
// than the collection's was embedded before a switch this process had not seen: the
// record is re-read, so the caller's retry embeds with the new embedder, and the
// search fails with ErrEmbedderChanged (a 503 to retry) instead of a store error.
func (ix *Index) Search(ctx context.Context, vec []float32, filter *qdrant.Filter, limit int) ([]vector.Hit, error) {
	hits, err := ix.vectors.Search(ctx, Alias, vec, filter, limit)
	return hits, ix.searchError(ctx, err)
}

// searchError turns a dimension mismatch (a query embedded before a switch this
// process had not seen) into ErrEmbedderChanged after re-reading the record.
func (ix *Index) searchError(ctx context.Context, err error) error {
	if err != nil && ix.fixed == nil && errors.Is(err, vector.ErrDimensionMismatch) {
		if rerr := ix.Refresh(ctx); rerr != nil {
			return errors.Join(err, rerr)
		}
		return fmt.Errorf("%w: %w", ErrEmbedderChanged, err)
	}
	return err
}

// DeleteDocument removes every point of a document.
func (ix *Index) DeleteDocument(ctx context.Context, documentID string) error {
	return ix.vectors.DeleteByFilter(ctx, Alias, vector.MatchDocument(documentID))
}

// DeleteStale removes a document's points that a new processing run did not write:
// chunks past its new chunk count, and points of any other embedder.
func (ix *Index) DeleteStale(ctx context.Context, documentID string, chunkCount int) error {
	doc := qdrant.NewMatchKeyword(vector.FieldDocumentID, documentID)
	beyond := &qdrant.Filter{Must: []*qdrant.Condition{doc,
		qdrant.NewRange(vector.FieldChunkIndex, &qdrant.Range{Gte: qdrant.PtrOf(float64(chunkCount))})}}
	if err := ix.vectors.DeleteByFilter(ctx, Alias, beyond); err != nil {
		return fmt.Errorf("delete chunks beyond %d: %w", chunkCount, err)
	}
	other := &qdrant.Filter{Must: []*qdrant.Condition{doc},
		MustNot: []*qdrant.Condition{qdrant.NewMatchKeyword(vector.FieldEmbedder, ix.identity())}}
	if err := ix.vectors.DeleteByFilter(ctx, Alias, other); err != nil {
		return fmt.Errorf("delete points of other embedders: %w", err)
	}
	return nil
}

// CountDocument counts a document's points.
func (ix *Index) CountDocument(ctx context.Context, documentID string) (uint64, error) {
	return ix.vectors.Count(ctx, Alias, vector.MatchDocument(documentID))
}

// SetACL rewrites the access fields of a document's points whose version is older.
func (ix *Index) SetACL(ctx context.Context, documentID string, acl vector.ACL) error {
	return ix.vectors.SetACLByFilter(ctx, Alias, vector.MatchStaleACL(documentID, acl.ACLVersion), acl)
}
