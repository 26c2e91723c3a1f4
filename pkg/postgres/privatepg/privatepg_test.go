package privatepg

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func requireBinaries(t *testing.T) {
	t.Helper()
	if _, err := FindBinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func TestDataOutlivesARestart(t *testing.T) {
	requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "pg")
	if os.Geteuid() == 0 {
		// t.TempDir's parents are private to root; the postgres user must pass through them.
		require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711))
		require.NoError(t, os.Chmod(filepath.Dir(filepath.Dir(dir)), 0o711))
	}

	first, err := Start(ctx, Config{Dir: dir})
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, first.URL("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE TABLE kept (word text); INSERT INTO kept VALUES ('still here')")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	require.NoError(t, first.Close())
	require.NoError(t, first.Close(), "a second Close is harmless")

	_, err = pgx.Connect(ctx, first.URL("postgres"))
	require.Error(t, err, "the server stops on Close")

	// Restarted on the port it had, the server keeps the URL its clients hold.
	second, err := Start(ctx, Config{Dir: dir, Port: first.Port(), MaxConnections: 50})
	require.NoError(t, err)
	defer second.Close()
	require.Equal(t, first.URL("postgres"), second.URL("postgres"))
	conn, err = pgx.Connect(ctx, second.URL("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var word string
	require.NoError(t, conn.QueryRow(ctx, "SELECT word FROM kept").Scan(&word))
	require.Equal(t, "still here", word)

	var socketDir string
	require.NoError(t, conn.QueryRow(ctx, "SHOW unix_socket_directories").Scan(&socketDir))
	require.Equal(t, dir, socketDir, "the socket stays inside the data directory")
	var maxConns string
	require.NoError(t, conn.QueryRow(ctx, "SHOW max_connections").Scan(&maxConns))
	require.Equal(t, "50", maxConns)
}

func TestRootMustReachTheDirectory(t *testing.T) {
	requireBinaries(t)
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server to the postgres user")
	}
	closed := t.TempDir()
	require.NoError(t, os.Chmod(closed, 0o700))
	_, err := Start(context.Background(), Config{Dir: filepath.Join(closed, "pg")})
	require.ErrorContains(t, err, "cannot reach")
	require.ErrorContains(t, err, "YW_DATA_DIR")
}

func TestHighestDebianVersionWins(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	install := func(version string, programs ...string) {
		bin := filepath.Join(root, version, "bin")
		require.NoError(t, os.MkdirAll(bin, 0o755))
		for _, p := range programs {
			require.NoError(t, os.WriteFile(filepath.Join(bin, p), []byte("#!/bin/sh\n"), 0o755))
		}
	}
	install("9.6", "initdb", "postgres")
	install("15", "initdb", "postgres")
	install("16", "initdb") // a client-only install cannot run a server
	install("common", "initdb", "postgres")

	require.Equal(t, filepath.Join(root, "15", "bin"), highestDebianBinDir(root))
	require.Empty(t, highestDebianBinDir(filepath.Join(root, "missing")))
}
