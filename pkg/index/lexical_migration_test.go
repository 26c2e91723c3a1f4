package index_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// An install from before lexical search has a dense-only collection. It keeps
// serving search as it did, and a re-embed builds the lexical vectors into a new
// collection while every search in the meantime still finds what it found before.
func TestReEmbedBuildsTheLexicalIndexOfAnOldCollection(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	lexicalID := embed.Identity{Name: "lexical-v1", Dim: 64}
	old := index.CollectionName(lexicalID, 1)
	require.NoError(t, w.vs.EnsureCollection(ctx, old, lexicalID.Dim, vector.Cosine))
	require.NoError(t, w.vs.SwitchAlias(ctx, index.Alias, old))
	_, err := w.st.CreateVectorIndex(ctx, store.VectorIndex{Alias: index.Alias, Collection: old,
		Embedder: lexicalID.String(), Provider: embed.ProviderLexical, Dim: lexicalID.Dim})
	require.NoError(t, err)

	p := w.startWith(time.Hour, embed.Spec{Provider: embed.ProviderLexical, Dim: lexicalID.Dim})
	require.Nil(t, p.ix.Lexical(), "the old collection has no lexical vectors")
	volcano := p.upload("volcano.txt", volcanoText)
	require.NoError(t, p.ingest(volcano))
	glacier := p.upload("glacier.txt", glacierText)
	require.NoError(t, p.ingest(glacier))
	for _, pt := range w.points(volcano) {
		require.Nil(t, pt.Sparse)
	}

	// Search serves from the dense vectors it has; lexical search says what to do.
	query := service.SearchRequest{Query: "basalt lava temperature"}
	hits, err := p.search.Search(ctx, w.user, query)
	require.NoError(t, err)
	require.Equal(t, volcano, hits[0].DocumentID)
	require.NotNil(t, hits[0].Matched.Dense)
	_, err = p.search.Search(ctx, w.user, service.SearchRequest{Query: "lava", Mode: "lexical"})
	require.Equal(t, service.CodeInvalid, service.ErrorCode(err))
	require.ErrorContains(t, err, "re-embed")

	// Searches run without pause while the re-embed builds and switches.
	var searches atomic.Int32
	done := make(chan struct{})
	var g errgroup.Group
	g.Go(func() error {
		for {
			select {
			case <-done:
				return nil
			default:
			}
			hits, err := p.search.Search(ctx, w.user, query)
			if err != nil {
				return err
			}
			if len(hits) == 0 || hits[0].DocumentID != volcano {
				return fmt.Errorf("search during the re-embed lost the volcano document: %+v", hits)
			}
			searches.Add(1)
		}
	})
	j := p.reEmbed(nil)
	close(done)
	require.NoError(t, g.Wait())
	require.Positive(t, searches.Load())

	state := w.state()
	require.NotEqual(t, old, state.Collection)
	require.Equal(t, j.Result["collection"], state.Collection)
	require.NotNil(t, state.Lexical, "the new collection has lexical vectors")
	require.NotNil(t, p.ix.Lexical())
	for _, pt := range w.points(volcano) {
		require.NotNil(t, pt.Sparse)
		require.NotEmpty(t, pt.Sparse.Indices)
	}

	// From now on the lexical retriever answers alone, and a word of one document
	// finds only that document.
	hits, err = p.search.Search(ctx, w.user, service.SearchRequest{Query: "moraine"})
	require.NoError(t, err)
	require.Len(t, hits, 1)
	require.Equal(t, glacier, hits[0].DocumentID)
	require.Equal(t, 1, *hits[0].Matched.Lexical)
	require.Nil(t, hits[0].Matched.Dense)

	// A document ingested after the switch gets its lexical vectors too.
	fjord := p.upload("fjord.txt", "Fjords are flooded glacial valleys along steep coasts.")
	require.NoError(t, p.ingest(fjord))
	hits, err = p.search.Search(ctx, w.user, service.SearchRequest{Query: "steep coasts", Mode: "lexical"})
	require.NoError(t, err)
	require.Equal(t, fjord, hits[0].DocumentID)
}
