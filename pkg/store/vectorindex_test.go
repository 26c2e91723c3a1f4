package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/store"
)

func TestVectorIndexState(t *testing.T) {
	t.Parallel()
	st := store.NewTx(pgtest.Tx(t))
	ctx := context.Background()

	_, err := st.GetVectorIndex(ctx, "chunks")
	require.ErrorIs(t, err, store.ErrNotFound, "no state before the first collection")

	first := store.VectorIndex{Alias: "chunks", Collection: "chunks_lexical_v1_512_v1", Embedder: "lexical-v1:512", Provider: "lexical", Dim: 512}
	created, err := st.CreateVectorIndex(ctx, first)
	require.NoError(t, err)
	require.Equal(t, first.Collection, created.Collection)
	require.False(t, created.SwitchedAt.IsZero())

	// A second program starting on the same fresh store loses the race and adopts
	// the first one's choice, whatever embedder it picked.
	other := store.VectorIndex{Alias: "chunks", Collection: "chunks_ollama_m_32_v1", Embedder: "ollama:m:32", Provider: "ollama", Model: "m", Dim: 32}
	won, err := st.CreateVectorIndex(ctx, other)
	require.NoError(t, err)
	require.Equal(t, created, won)

	// A re-embed switches it.
	switched, err := st.SetVectorIndex(ctx, store.VectorIndex{Alias: "chunks", Collection: "chunks_ollama_m_32_v2",
		Embedder: "ollama:m:32", Provider: "ollama", Model: "m", Dim: 32})
	require.NoError(t, err)
	got, err := st.GetVectorIndex(ctx, "chunks")
	require.NoError(t, err)
	require.Equal(t, switched, got)
	require.Equal(t, store.VectorIndex{Alias: "chunks", Collection: "chunks_ollama_m_32_v2", Embedder: "ollama:m:32",
		Provider: "ollama", Model: "m", Dim: 32, SwitchedAt: got.SwitchedAt}, got)

	_, err = st.SetVectorIndex(ctx, store.VectorIndex{Alias: "chunks", Collection: "c", Embedder: "x:1", Provider: "elsewhere", Dim: 1})
	require.Error(t, err, "only providers the platform can rebuild are recorded")
}
