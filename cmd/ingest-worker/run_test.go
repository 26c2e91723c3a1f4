package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

// syncBuffer is a bytes.Buffer safe for the program's writes and the test's reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRunsOnItsOwnAgainstExternalServices starts the worker as a separate program on
// an external NATS and vector store, and checks it serves probes and stops cleanly.
func TestRunsOnItsOwnAgainstExternalServices(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	lite, _ := vectortest.StartLite(t, t.TempDir())
	env := map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_NATS_URL": nats.URL, "YW_QDRANT_URL": "http://" + lite.Addr(),
		"YW_HTTP_ADDR": "127.0.0.1:0", "YW_LOG_LEVEL": "warn", "YW_DATA_DIR": t.TempDir(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, &stdout, &stderr) }()

	addr := regexp.MustCompile(`probes on (http://\S+)`)
	var base string
	require.Eventually(t, func() bool {
		m := addr.FindStringSubmatch(stdout.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 30*time.Second, 20*time.Millisecond, "no probe address; stderr:\n%s", stderr.String())

	c := apitest.NewClient(t, base)
	resp := c.Send(c.Request("GET", "/readyz", "", nil), http.StatusOK, nil)
	for _, check := range []string{"postgres", "nats", "vectors", "embedder"} {
		require.Contains(t, resp.Body, `"`+check+`":{"ok":true`)
	}
	c.Do("GET", "/healthz", "", nil, http.StatusOK, nil)

	start := time.Now()
	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, stderr.String())
		require.Less(t, time.Since(start), 10*time.Second)
	case <-time.After(15 * time.Second):
		t.Fatal("worker did not stop")
	}
}

func TestRefusesToStartWithoutNATS(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	var stdout, stderr syncBuffer
	code := run(context.Background(), nil, func(k string) string {
		return map[string]string{"YW_DATABASE_URL": dbURL, "YW_LOG_FORMAT": "json"}[k]
	}, &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "YW_NATS_URL is required")
}
