package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/vector"
)

// syncBuffer is a bytes.Buffer safe to read while the program writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestVectorStoreAsAProcessOfItsOwn: `api vector-store` serves the embedded store
// for the programs of one host, keeps its data in YW_DATA_DIR, and stops cleanly;
// beyond loopback it refuses to serve without an API key.
func TestVectorStoreAsAProcessOfItsOwn(t *testing.T) {
	dataDir := t.TempDir()
	env := map[string]string{"YW_DATA_DIR": dataDir, "YW_LOG_LEVEL": "warn"}
	getenv := func(k string) string { return env[k] }

	var stderr bytes.Buffer
	require.Equal(t, 2, run(context.Background(), []string{"vector-store", "--addr", "0.0.0.0:0"}, getenv, io.Discard, &stderr))
	require.Contains(t, stderr.String(), "YW_QDRANT_API_KEY")

	ctx, stop := context.WithCancel(context.Background())
	var stdout syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"vector-store", "--addr", "127.0.0.1:0"}, getenv, &stdout, io.Discard)
	}()
	serving := regexp.MustCompile(`YW_QDRANT_URL=(http://127\.0\.0\.1:\d+)`)
	var url string
	require.Eventually(t, func() bool {
		m := serving.FindStringSubmatch(stdout.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}, 10*time.Second, 20*time.Millisecond, "the store says where it serves")

	vs, err := vector.New(ctx, vector.Config{URL: url}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.NoError(t, vs.EnsureCollection(ctx, "chunks", 4, vector.Cosine))
	names, err := vs.ListCollections(ctx)
	require.NoError(t, err)
	require.Contains(t, names, "chunks")
	vs.Close()

	stop()
	select {
	case code := <-done:
		require.Zero(t, code)
	case <-time.After(10 * time.Second):
		t.Fatal("the store did not stop")
	}
	require.DirExists(t, dataDir+"/vectors")
}
