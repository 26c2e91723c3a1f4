// Package vectortest provides vector stores for tests and the contract
// suite every vector store backend must pass. Production code never imports
// it.
package vectortest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/qdrant/go-client/qdrant"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/qdrantlite"
	"github.com/youworker/youworker/pkg/vector"
)

// EnvQdrantURL names the environment variable that points the tests at a
// real Qdrant (gRPC URL, e.g. http://127.0.0.1:6334).
const EnvQdrantURL = "YW_TEST_QDRANT_URL"

// EnvQdrantAPIKey names the optional API key for EnvQdrantURL.
const EnvQdrantAPIKey = "YW_TEST_QDRANT_API_KEY"

// Logger discards output; tests that want logs pass their own.
func Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// StartLite starts an embedded server on a free loopback port with its data
// in dir and returns it with a connected store. Both are closed when the
// test ends (closing them earlier is fine).
func StartLite(t testing.TB, dir string) (*qdrantlite.Server, *vector.Store) {
	t.Helper()
	ctx := context.Background()
	srv, err := qdrantlite.Start(ctx, qdrantlite.Config{Dir: dir, Addr: "127.0.0.1:0"}, Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	st, err := vector.New(ctx, vector.Config{URL: srv.Addr()}, Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return srv, st
}

// Lite returns a store backed by a fresh embedded server.
func Lite(t testing.TB) *vector.Store {
	t.Helper()
	_, st := StartLite(t, t.TempDir())
	return st
}

// Real returns a store connected to the Qdrant named by EnvQdrantURL, or
// skips the test when it is not set.
func Real(t testing.TB) *vector.Store {
	t.Helper()
	url := os.Getenv(EnvQdrantURL)
	if url == "" {
		t.Skipf("%s not set; skipping tests against a real Qdrant", EnvQdrantURL)
	}
	st, err := vector.New(context.Background(), vector.Config{URL: url, APIKey: os.Getenv(EnvQdrantAPIKey)}, Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// Name returns a collection or alias name unique to this run, so tests can
// share a real Qdrant.
func Name(t testing.TB, prefix string) string {
	t.Helper()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return prefix + "_" + hex.EncodeToString(b[:])
}

// Collection creates a uniquely named collection through the adapter and
// deletes it when the test ends.
func Collection(t testing.TB, st *vector.Store, dim int, dist vector.Distance) string {
	t.Helper()
	name := Name(t, "ywtest")
	require.NoError(t, st.EnsureCollection(context.Background(), name, dim, dist))
	t.Cleanup(func() { _ = st.DeleteCollection(context.Background(), name) })
	return name
}

// HybridCollection is Collection for a collection with lexical vectors
// beside the dense ones (see vector.Store.EnsureHybridCollection).
func HybridCollection(t testing.TB, st *vector.Store, dim int, dist vector.Distance) string {
	t.Helper()
	name := Name(t, "ywhybrid")
	require.NoError(t, st.EnsureHybridCollection(context.Background(), name, dim, dist))
	t.Cleanup(func() { _ = st.DeleteCollection(context.Background(), name) })
	return name
}

// RawClient returns a go-client connected to the gRPC endpoint at url
// ("http://host:port", "https://host:port" or "host:port"), for the few test
// set-ups the adapter has no call for (payload indexes of any type). It is
// closed when the test ends.
func RawClient(t testing.TB, url, apiKey string) *qdrant.Client {
	t.Helper()
	tls := strings.HasPrefix(url, "https://")
	hostport := url
	if i := strings.Index(url, "://"); i >= 0 {
		hostport = strings.TrimSuffix(url[i+3:], "/")
	}
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		host, portStr = hostport, strconv.Itoa(vector.DefaultPort)
	}
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	c, err := qdrant.NewClient(&qdrant.Config{Host: host, Port: port, UseTLS: tls, APIKey: apiKey, PoolSize: 1, SkipCompatibilityCheck: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
