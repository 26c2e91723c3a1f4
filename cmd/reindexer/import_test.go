package main

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/legacyimport/legacytest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/vector/vectortest"
	"github.com/youworker/youworker/pkg/worker"
	"github.com/youworker/youworker/pkg/worker/workertest"
)

// TestImportLegacyCommand runs the command as an operator would: a dry run, then the
// import itself while a reindexer and an ingest worker run, then a second run that
// finds everything imported.
func TestImportLegacyCommand(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	lite, _ := vectortest.StartLite(t, t.TempDir())
	legacy := legacytest.NewStandard(t)
	env := map[string]string{"YW_DATABASE_URL": dbURL, "YW_NATS_URL": nats.URL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_QDRANT_URL": "http://" + lite.Addr(), "YW_DATA_DIR": t.TempDir(), "YW_LOG_LEVEL": "warn", "YW_LOG_FORMAT": "json"}
	args := []string{"import-legacy", "--db", legacy.DBURL, "--qdrant", legacy.QdrantURL, "--uploads", legacy.Uploads}

	// Without the message secret the encrypted chats cannot be read: a dry run says
	// so and exits 1.
	_, out, code := cli(env, append(args, "--dry-run")...)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "A real run refuses to start: 7 messages are encrypted, and no --message-secret was given")

	env["YW_LEGACY_MESSAGE_SECRET"] = legacytest.Secret
	stdout, out, code := cli(env, append(args, "--dry-run")...)
	require.Equal(t, 0, code, out)
	require.Contains(t, stdout, "A real run would import:")
	require.Contains(t, stdout, "documents:   5: 1 re-ingested from their files, 4 rebuilt from 6 chunk texts of the search index")
	require.Contains(t, stdout, `user `)
	require.Equal(t, "dry run: nothing was written", lastLine(stdout))
	require.NotContains(t, out, legacytest.Secret)
	require.NotContains(t, out, legacy.AliceKey)

	_, out, code = cli(env, "import-legacy", "--qdrant", legacy.QdrantURL)
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "--db is required")

	reindexer := workertest.Start(t, run, env)
	ingest := workertest.Start(t, func(ctx context.Context, _ []string, getenv func(string) string, stdout, stderr io.Writer) int {
		return worker.Main(ctx, app.IngestWorkerOptions, getenv, stdout, stderr)
	}, env)
	t.Cleanup(func() {
		for _, p := range []*workertest.Program{ingest, reindexer} {
			code, _ := p.Stop(t)
			require.Equal(t, 0, code, "stderr:\n%s", p.Stderr.String())
		}
	})

	stdout, out, code = cli(env, args...)
	require.Equal(t, 0, code, out)
	require.Contains(t, stdout, "Importing:")
	require.Contains(t, stdout, "[##############################] 100% 14/14 completed")
	require.Contains(t, stdout, "Group migration job: ")
	id := lastLine(stdout)
	require.Regexp(t, `^[0-9a-f-]{36}$`, id)
	require.NotContains(t, out, legacytest.Secret)
	require.NotContains(t, out, legacy.AliceKey)

	stdout, out, code = cli(env, "status", id)
	require.Equal(t, 0, code, out)
	require.Contains(t, stdout, "kind:     legacy-import")
	require.Contains(t, stdout, "status:   completed")
	require.Contains(t, stdout, `"users":4`)

	stdout, out, code = cli(env, args...)
	require.Equal(t, 0, code, out)
	require.Contains(t, stdout, "Imported by an earlier run: 4 users, 2 groups, 3 sessions, 5 documents")
	require.Contains(t, stdout, "users:       0 (0 with their legacy API key)")
}
