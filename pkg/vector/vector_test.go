package vector_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/youworker/youworker/pkg/vector"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestContractEmbedded(t *testing.T) {
	t.Parallel()
	vectortest.Run(t, func(t *testing.T) *vector.Store { return vectortest.Lite(t) }, true)
}

func TestContractQdrant(t *testing.T) {
	t.Parallel()
	vectortest.Run(t, func(t *testing.T) *vector.Store { return vectortest.Real(t) }, false)
}

func TestPointIDDeterministic(t *testing.T) {
	t.Parallel()
	a := vector.PointID("doc", 3, "nomic")
	require.Equal(t, a, vector.PointID("doc", 3, "nomic"))
	require.NotEqual(t, a, vector.PointID("doc", 4, "nomic"))
	require.NotEqual(t, a, vector.PointID("doc", 3, "lexical"))
	require.NotEqual(t, vector.PointID("a", 12, "x"), vector.PointID("a1", 2, "x"))
	require.Len(t, a, 36)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"http://localhost:6334", "https://q.example:443", "localhost:6334", "localhost", "[::1]:6334"} {
		require.NoError(t, vector.Config{URL: ok}.Validate(), ok)
	}
	for _, bad := range []string{"", "ftp://x:1", "http://x:0", "http://x:6334/path", "x:abc"} {
		require.Error(t, vector.Config{URL: bad}.Validate(), bad)
	}
	require.NotContains(t, vector.Config{URL: "x", APIKey: "secret"}.String(), "secret")
}

func TestNewFailsWhenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := vector.New(ctx, vector.Config{URL: "127.0.0.1:1"}, vectortest.Logger())
	require.Error(t, err)
}

// TestParityEmbedded holds the embedded store to cases ported from Qdrant's
// own tests (see vectortest.RunParity), with and without payload indexes.
func TestParityEmbedded(t *testing.T) {
	t.Parallel()
	srv, st := vectortest.StartLite(t, t.TempDir())
	vectortest.RunParity(t, st, vectortest.RawClient(t, srv.Addr(), ""))
}

// TestParityQdrant runs the same cases against a real Qdrant, which is how a
// case's expectation is checked when it is added or Qdrant is upgraded.
func TestParityQdrant(t *testing.T) {
	t.Parallel()
	st := vectortest.Real(t)
	url := os.Getenv(vectortest.EnvQdrantURL)
	raw := vectortest.RawClient(t, url, os.Getenv(vectortest.EnvQdrantAPIKey))
	vectortest.RunParity(t, st, raw)
}

// TestParityOpsEmbedded runs the writes of Qdrant's tests (see
// vectortest.RunParityOps) against the embedded store.
func TestParityOpsEmbedded(t *testing.T) {
	t.Parallel()
	srv, st := vectortest.StartLite(t, t.TempDir())
	vectortest.RunParityOps(t, st, vectortest.RawClient(t, srv.Addr(), ""))
}

// TestParityOpsQdrant runs the same against a real Qdrant.
func TestParityOpsQdrant(t *testing.T) {
	t.Parallel()
	st := vectortest.Real(t)
	vectortest.RunParityOps(t, st, vectortest.RawClient(t, os.Getenv(vectortest.EnvQdrantURL), os.Getenv(vectortest.EnvQdrantAPIKey)))
}
