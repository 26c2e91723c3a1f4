package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/worker/workertest"
)

// TestRunsOnItsOwnAgainstExternalServices starts the ingest worker as a separate program on
// an external NATS and vector store, and checks it serves probes and stops cleanly.
func TestRunsOnItsOwnAgainstExternalServices(t *testing.T) {
	workertest.RequireStandalone(t, run)
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

// TestRefusesToStartWithoutAVectorStore: outside -dev a worker never starts a
// private vector store that nobody else would search; it says what to set.
func TestRefusesToStartWithoutAVectorStore(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, func(k string) string {
		return map[string]string{"YW_DATABASE_URL": dbURL, "YW_NATS_URL": nats.URL, "YW_LOG_FORMAT": "json", "YW_DATA_DIR": t.TempDir()}[k]
	}, &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "YW_QDRANT_URL is required")
	require.Contains(t, stderr.String(), "api vector-store")
}
