package main

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/vector/vectortest"
	"github.com/youworker/youworker/pkg/worker/workertest"
)

// TestRunsOnItsOwnAgainstExternalServices starts the worker as a separate program on
// an external NATS and vector store, and checks it serves probes and stops cleanly.
func TestRunsOnItsOwnAgainstExternalServices(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	lite, _ := vectortest.StartLite(t, t.TempDir())
	prog := workertest.Start(t, run, map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_NATS_URL": nats.URL, "YW_QDRANT_URL": "http://" + lite.Addr(),
		"YW_HTTP_ADDR": "127.0.0.1:0", "YW_LOG_LEVEL": "warn", "YW_DATA_DIR": t.TempDir(),
	})
	c := apitest.NewClient(t, prog.Base)
	resp := c.Send(c.Request("GET", "/readyz", "", nil), http.StatusOK, nil)
	for _, check := range []string{"postgres", "nats", "vectors", "embedder", "llm"} {
		require.Contains(t, resp.Body, `"`+check+`":{"ok":true`)
	}
	c.Do("GET", "/healthz", "", nil, http.StatusOK, nil)
	code, took := prog.Stop(t)
	require.Equal(t, 0, code, prog.Stderr.String())
	require.Less(t, took, 10*time.Second)
}

func TestRefusesToStartWithoutNATS(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, func(k string) string {
		return map[string]string{"YW_DATABASE_URL": dbURL, "YW_LOG_FORMAT": "json"}[k]
	}, &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "YW_NATS_URL is required")
}
