package probe

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReady(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("dial tcp 10.0.0.7:5432: refused") }

	r, code := Ready(context.Background(), map[string]Check{"postgres": ok, "nats": ok}, false)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, StatusOK, r.Status)
	require.True(t, r.Checks["postgres"].OK)

	r, code = Ready(context.Background(), map[string]Check{"postgres": ok, "nats": down}, false)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, StatusUnavailable, r.Status)
	require.False(t, r.Checks["nats"].OK, "the failing check is named, its error (with an address) is not")

	r, code = Ready(context.Background(), map[string]Check{"postgres": ok}, true)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, StatusShuttingDown, r.Status, "draining wins over healthy checks")
}

// TestChecksRunAtOnceWithinTheirDeadline: readiness takes as long as the slowest
// check, never their sum, and a hung check ends at its own deadline.
func TestChecksRunAtOnceWithinTheirDeadline(t *testing.T) {
	t.Parallel()
	slow := func(ctx context.Context) error {
		select {
		case <-time.After(300 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	hung := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	start := time.Now()
	r := Run(context.Background(), map[string]Check{"a": slow, "b": slow, "c": slow, "d": hung})
	took := time.Since(start)
	require.Less(t, took, checkTimeout+time.Second)
	require.GreaterOrEqual(t, took, checkTimeout)
	require.True(t, r.Checks["a"].OK && r.Checks["b"].OK && r.Checks["c"].OK)
	require.False(t, r.Checks["d"].OK)
	require.Equal(t, StatusUnavailable, r.Status)
}
