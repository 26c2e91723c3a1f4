package llm_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
)

func TestContextWindowFromModelMetadata(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.SetContextLength(llmtest.ChatModel, 4096)
	srv.AddModel("tiny")
	srv.SetContextLength("tiny", 0)
	o := newOllama(t, srv.URL, nil)

	n, err := o.ContextWindow(t.Context(), "")
	require.NoError(t, err)
	require.Equal(t, 4096, n, "the default model's")
	n, err = o.ContextWindow(t.Context(), llmtest.ChatModel)
	require.NoError(t, err)
	require.Equal(t, 4096, n)
	require.Equal(t, 1, srv.Count("/api/show"), "read once, then remembered")

	n, err = o.ContextWindow(t.Context(), "tiny")
	require.NoError(t, err)
	require.Zero(t, n, "metadata without a context length says nothing")
	n, err = o.ContextWindow(t.Context(), llmtest.EmbedModel)
	require.NoError(t, err)
	require.Equal(t, llmtest.DefaultContextLength, n)

	_, err = o.ContextWindow(t.Context(), "missing")
	require.ErrorIs(t, err, llm.ErrModelNotFound)
	_, err = newOllama(t, llmtest.DeadURL(t), nil).ContextWindow(t.Context(), "")
	require.ErrorIs(t, err, llm.ErrUnavailable)
}

func TestContextLengthOfAnyArchitecture(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		info map[string]any
		want int
	}{
		{map[string]any{"general.architecture": "llama", "llama.context_length": float64(131072)}, 131072},
		{map[string]any{"general.architecture": "qwen2", "qwen2.context_length": float64(32768), "qwen2.embedding_length": float64(3584)}, 32768},
		{map[string]any{"gemma3.context_length": float64(8192)}, 8192},
		{map[string]any{"general.architecture": "llama"}, 0},
		{nil, 0},
	} {
		require.Equal(t, c.want, llm.ContextLength(c.info), "%v", c.info)
	}
}
