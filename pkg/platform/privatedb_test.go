package platform

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/postgres"
	"github.com/youworker/youworker/pkg/postgres/privatepg"
)

// TestOperatorCommandsFindThePrivateCluster: with no server on the default
// address, `api users create` and the other operator commands reach the private
// cluster of `api -dev` on whatever port it took, and start it for themselves when
// the platform is not running.
func TestOperatorCommandsFindThePrivateCluster(t *testing.T) {
	if _, err := privatepg.FindBinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dataDir := t.TempDir()
	if os.Geteuid() == 0 {
		// t.TempDir's parents are private to root; the postgres user must pass through them.
		require.NoError(t, os.Chmod(dataDir, 0o711))
		require.NoError(t, os.Chmod(filepath.Dir(dataDir), 0o711))
	}
	cfg, err := config.Load(func(name string) string {
		if name == "YW_DATA_DIR" {
			return dataDir
		}
		return ""
	})
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)

	_, _, err = operatorDatabase(ctx, cfg, logger, false)
	require.ErrorContains(t, err, "make run", "before the platform ever ran there is nothing to reach")

	// What `api -dev` does on its first start.
	platformServer, err := privatepg.Start(ctx, privatepg.Config{Dir: filepath.Join(dataDir, "postgres")})
	require.NoError(t, err)
	defer platformServer.Close()
	require.NoError(t, postgres.EnsureDatabase(ctx, platformServer.URL(privateDatabase)))

	url, release, err := operatorDatabase(ctx, cfg, logger, false)
	require.NoError(t, err)
	require.Equal(t, platformServer.URL(privateDatabase), url, "the command uses the running platform's server")
	requireQueries(ctx, t, url)
	release()
	requireQueries(ctx, t, url) // releasing leaves the platform's server alone

	require.NoError(t, platformServer.Close())
	url, release, err = operatorDatabase(ctx, cfg, logger, false)
	require.NoError(t, err)
	requireQueries(ctx, t, url)
	release()
	_, err = pgx.Connect(ctx, url)
	require.Error(t, err, "a server started for a command stops with it")
}

func requireQueries(ctx context.Context, t *testing.T, url string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var one int
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
}
