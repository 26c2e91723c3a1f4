package service

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/logging"
)

func TestModelsListTheAllowedOnesAndWhatTheServerHas(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	release := make(chan struct{})
	m := NewModels(ModelsConfig{Allowed: []string{"llama3.1", "qwen3:8b", "mistral:7b"}, TTL: time.Hour,
		Installed: func(context.Context) ([]string, error) {
			calls.Add(1)
			<-release
			return []string{"llama3.1:latest", "qwen3:8b", "nomic-embed-text:latest"}, nil
		}}, logging.Discard())

	// Many users opening the chat at once cause one listing: those arriving
	// while it runs wait for it, those after use it.
	var wg sync.WaitGroup
	lists := make([][]Model, 8)
	for i := range lists {
		wg.Go(func() {
			var err error
			lists[i], err = m.List(context.Background())
			require.NoError(t, err)
		})
	}
	close(release)
	wg.Wait()
	require.EqualValues(t, 1, calls.Load())
	for _, l := range lists {
		require.Equal(t, []Model{
			{Name: "llama3.1", Default: true, Available: true},
			{Name: "qwen3:8b", Available: true},
			{Name: "mistral:7b", Available: false},
		}, l)
	}
	_, err := m.List(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 1, calls.Load(), "a listing is used for its TTL")

	require.True(t, m.Allowed("llama3.1:latest"), "the default tag is the same model")
	require.True(t, m.Allowed("mistral:7b"), "allowed even while not installed: the turn then says it is missing")
	require.False(t, m.Allowed("mistral"))
	require.False(t, m.Allowed("llama3.1:70b"))
	require.Equal(t, "llama3.1", m.Default())

	// A server that does not answer has none of them.
	down := NewModels(ModelsConfig{Allowed: []string{"llama3.1"}, Installed: func(context.Context) ([]string, error) {
		return nil, errors.New("connection refused")
	}}, logging.Discard())
	l, err := down.List(context.Background())
	require.NoError(t, err)
	require.Equal(t, []Model{{Name: "llama3.1", Default: true, Available: false}}, l)

	// Without a model server, the built-in answerer is always there.
	builtin := NewModels(ModelsConfig{Allowed: []string{"extractive"}}, logging.Discard())
	l, err = builtin.List(context.Background())
	require.NoError(t, err)
	require.Equal(t, []Model{{Name: "extractive", Default: true, Available: true}}, l)
}
