// Package index is the chunk index of the platform: the vector collection behind the
// alias every reader and writer uses, bound to the embedder that fills it. It turns
// the generic vector adapter into the few operations ingestion and search need.
package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/qdrant/go-client/qdrant"

	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/vector"
)

// Alias is the name readers and writers use; the collection behind it changes on re-embed.
const Alias = "yw_chunks"

// ErrEmbedderMismatch means the collection behind the alias was built by an embedder
// with another dimension than the one configured now.
var ErrEmbedderMismatch = errors.New("the vector index was built with another embedder: run a re-embed job")

// Index writes and searches chunk vectors through the alias.
type Index struct {
	vectors  *vector.Store
	embedder embed.Embedder
	logger   *slog.Logger
}

// Open makes sure the alias points at a collection fit for embedder, creating the
// first collection on a fresh store.
func Open(ctx context.Context, vs *vector.Store, embedder embed.Embedder, logger *slog.Logger) (*Index, error) {
	ix := &Index{vectors: vs, embedder: embedder, logger: logger.With("component", "index")}
	id := embedder.Identity()
	target, err := vs.ResolveAlias(ctx, Alias)
	switch {
	case errors.Is(err, vector.ErrNotFound):
		name := CollectionName(id, 1)
		if err := vs.EnsureCollection(ctx, name, id.Dim, vector.Cosine); err != nil {
			return nil, fmt.Errorf("create chunk collection: %w", err)
		}
		if err := vs.SwitchAlias(ctx, Alias, name); err != nil {
			return nil, fmt.Errorf("point alias at %s: %w", name, err)
		}
		ix.logger.Info("created chunk collection", "collection", name, "embedder", id.String())
		return ix, nil
	case err != nil:
		return nil, fmt.Errorf("resolve %s: %w", Alias, err)
	}
	dim, err := vs.CollectionDim(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("read collection %s: %w", target, err)
	}
	if dim != id.Dim {
		return nil, fmt.Errorf("%w (collection %s has dimension %d, embedder %s has %d)", ErrEmbedderMismatch, target, dim, id, id.Dim)
	}
	return ix, nil
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

// CollectionName names the n-th collection built with embedder id.
func CollectionName(id embed.Identity, n int) string {
	slug := strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(id.Name), "_"), "_")
	return fmt.Sprintf("%s_%s_%d_v%d", Alias, slug, id.Dim, n)
}

// Embedder is the embedder whose vectors this index holds.
func (ix *Index) Embedder() embed.Embedder { return ix.embedder }

// Vectors is the underlying adapter, for operator jobs.
func (ix *Index) Vectors() *vector.Store { return ix.vectors }

// Upsert writes points through the alias.
func (ix *Index) Upsert(ctx context.Context, points []vector.Point) error {
	return ix.vectors.Upsert(ctx, Alias, points)
}

// Search returns the nearest points that pass filter.
func (ix *Index) Search(ctx context.Context, vec []float32, filter *qdrant.Filter, limit int) ([]vector.Hit, error) {
	return ix.vectors.Search(ctx, Alias, vec, filter, limit)
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
		MustNot: []*qdrant.Condition{qdrant.NewMatchKeyword(vector.FieldEmbedder, ix.embedder.Identity().String())}}
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
