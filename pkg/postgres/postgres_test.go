package postgres_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/postgres"
)

func TestOpenPlansStatementsOnceUnlessTheURLSaysOtherwise(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	auto, err := url.Parse(dbURL)
	require.NoError(t, err)
	q := auto.Query()
	q.Set("plan_cache_mode", "auto")
	auto.RawQuery = q.Encode()
	for u, want := range map[string]string{dbURL: "force_generic_plan", auto.String(): "auto"} {
		pool, err := postgres.Open(t.Context(), u, 2)
		require.NoError(t, err)
		var mode string
		require.NoError(t, pool.QueryRow(t.Context(), "SHOW plan_cache_mode").Scan(&mode))
		pool.Close()
		require.Equal(t, want, mode, u)
	}
}
