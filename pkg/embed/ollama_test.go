package embed_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/ollamahttp"
)

func ollamaConfig(url string) embed.OllamaConfig {
	return embed.OllamaConfig{
		URL: url, Model: llmtest.EmbedModel, Settings: ollamahttp.Settings{MaxRetries: 2,
			RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond, ConnectTimeout: time.Second},
	}
}

func newOllama(t *testing.T, cfg embed.OllamaConfig) *embed.Ollama {
	t.Helper()
	o, err := embed.NewOllama(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	return o
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("chunk number %d about topic %d", i, i%5)
	}
	return out
}

func TestOllamaEmbedBatches(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	o := newOllama(t, ollamaConfig(srv.URL)) // default batch size 16

	in := texts(40)
	vecs, err := o.Embed(t.Context(), in)
	require.NoError(t, err)
	require.Len(t, vecs, 40)

	batches := srv.EmbedInputs()
	require.Len(t, batches, 3, "ceil(40/16) requests")
	require.Equal(t, in[:16], batches[0])
	require.Equal(t, in[16:32], batches[1])
	require.Equal(t, in[32:], batches[2])
	for i, v := range vecs {
		require.InDelta(t, 1, norm(v), 1e-5, "vector %d is normalised", i)
		want := llmtest.Vector(in[i], llmtest.DefaultEmbedDim)
		require.InDelta(t, 1, dot(v, want)/norm(want), 1e-5, "vector %d is the server's vector for text %d", i, i)
	}
}

func TestOllamaEmbedCustomBatchSize(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	cfg := ollamaConfig(srv.URL)
	cfg.BatchSize = 4
	o := newOllama(t, cfg)
	_, err := o.Embed(t.Context(), texts(9))
	require.NoError(t, err)
	require.Equal(t, 3, srv.Count("/api/embed"))

	none, err := o.Embed(t.Context(), nil)
	require.NoError(t, err)
	require.Empty(t, none)
	require.Equal(t, 3, srv.Count("/api/embed"), "nothing to embed, no request")
}

func TestOllamaProbeLearnsDimension(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.SetEmbedDim(768)
	cfg := ollamaConfig(srv.URL)
	cfg.Model = llmtest.EmbedModel + ":latest"
	o := newOllama(t, cfg)
	require.Equal(t, 0, o.Identity().Dim, "unknown before the probe")

	require.NoError(t, o.Probe(t.Context()))
	require.Equal(t, embed.Identity{Name: "ollama:" + llmtest.EmbedModel, Dim: 768}, o.Identity())
	require.Equal(t, "ollama:test-embed:768", o.Identity().String(), "the implicit :latest tag is not part of the identity")
	require.NoError(t, o.Probe(t.Context()))
	require.Equal(t, 1, srv.Count("/api/embed"), "probed once")
	require.NoError(t, o.Check(t.Context()))
}

func TestOllamaEmbedRetriesServerErrors(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.FailNext("/api/embed", 2, http.StatusInternalServerError)
	o := newOllama(t, ollamaConfig(srv.URL))

	vecs, err := o.Embed(t.Context(), texts(3))
	require.NoError(t, err)
	require.Len(t, vecs, 3)
	require.Equal(t, 3, srv.Count("/api/embed"))
}

func TestOllamaEmbedErrors(t *testing.T) {
	t.Parallel()
	t.Run("model missing", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t)
		cfg := ollamaConfig(srv.URL)
		cfg.Model = "missing-embed"
		o := newOllama(t, cfg)
		_, err := o.Embed(t.Context(), texts(1))
		require.ErrorIs(t, err, embed.ErrModelNotFound)
		require.Equal(t, 1, srv.Count("/api/embed"), "not retried")
		require.ErrorIs(t, o.Check(t.Context()), embed.ErrModelNotFound)
	})
	t.Run("server down", func(t *testing.T) {
		t.Parallel()
		o := newOllama(t, ollamaConfig(llmtest.DeadURL(t)))
		_, err := o.Embed(t.Context(), texts(1))
		require.ErrorIs(t, err, embed.ErrUnavailable)
		require.ErrorContains(t, err, "after 3 attempts")
		require.ErrorIs(t, o.Check(t.Context()), embed.ErrUnavailable)
	})
	t.Run("keeps failing", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t)
		srv.FailNext("/api/embed", 5, http.StatusBadGateway)
		o := newOllama(t, ollamaConfig(srv.URL))
		_, err := o.Embed(t.Context(), texts(1))
		require.ErrorIs(t, err, embed.ErrUnavailable)
		require.Equal(t, 3, srv.Count("/api/embed"))
	})
	t.Run("slow batch and cancelled context", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t)
		srv.SetEmbedDelay(time.Minute)
		o := newOllama(t, ollamaConfig(srv.URL))
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := o.Embed(ctx, texts(1))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 1, srv.Count("/api/embed"), "a cancelled call is not retried")
	})
}

func TestOllamaConfigValidate(t *testing.T) {
	t.Parallel()
	_, err := embed.NewOllama(embed.OllamaConfig{URL: "::", BatchSize: -1}, nil)
	require.ErrorContains(t, err, "not an absolute URL")
	require.ErrorContains(t, err, "model is required")
	require.ErrorContains(t, err, "batch size")
}

// logBuffer captures log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSelect(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.SetEmbedDim(48)
	tests := []struct {
		name     string
		cfg      embed.Config
		identity string
		warning  string
	}{
		{"ollama reachable", embed.Config{Ollama: ollamaConfig(srv.URL)}, "ollama:test-embed:48", ""},
		{"nothing configured", embed.Config{}, "lexical-v1:384", "no ollama embedding model configured"},
		{"no model", embed.Config{Ollama: embed.OllamaConfig{URL: srv.URL}, LexicalDim: 256}, "lexical-v1:256", "needs both a URL and a model"},
		{"model missing", embed.Config{Ollama: func() embed.OllamaConfig {
			c := ollamaConfig(srv.URL)
			c.Model = "nope"
			return c
		}()}, "lexical-v1:384", "model not found"},
		{"ollama down", embed.Config{Ollama: ollamaConfig(llmtest.DeadURL(t))}, "lexical-v1:384", "embedder unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			e, err := embed.Select(t.Context(), tt.cfg, logger)
			require.NoError(t, err)
			if o, ok := e.(*embed.Ollama); ok {
				t.Cleanup(func() { require.NoError(t, o.Close()) })
			}
			require.Equal(t, tt.identity, e.Identity().String())
			require.NoError(t, embed.Check(t.Context(), e))
			if tt.warning == "" {
				require.Empty(t, logs.String())
				return
			}
			require.Contains(t, logs.String(), "level=WARN")
			require.Contains(t, logs.String(), tt.warning)
			require.Contains(t, logs.String(), "lexical")
		})
	}
}

// Real servers write fractions, exponents and whitespace that the scripted
// server does not; the vectors must survive them.
func TestOllamaEmbedDecodesNumberForms(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"model":"m", "embeddings": [ [0.6, -8e-1 ] ,[1.5E0,0],[ -3 , 4.0]],"total_duration":5}`)
	}))
	t.Cleanup(srv.Close)
	o := newOllama(t, ollamaConfig(srv.URL))
	vecs, err := o.Embed(t.Context(), []string{"a", "b", "c"})
	require.NoError(t, err)
	want := [][]float32{{0.6, -0.8}, {1, 0}, {-0.6, 0.8}}
	require.Len(t, vecs, len(want))
	for i := range want {
		require.InDeltaSlice(t, want[i], vecs[i], 1e-6, "vector %d", i)
	}
}
