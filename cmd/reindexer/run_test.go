package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector/vectortest"
	"github.com/youworker/youworker/pkg/worker/workertest"
)

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// cli runs one command and returns its stdout, its stdout and stderr together, and
// the exit code.
func cli(env map[string]string, args ...string) (stdout, all string, code int) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, getenv(env), &out, &errOut)
	return out.String(), out.String() + errOut.String(), code
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestTriggerWaitRunsAJobThroughTheWorker(t *testing.T) {
	pool, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	lite, _ := vectortest.StartLite(t, t.TempDir())
	env := map[string]string{"YW_DATABASE_URL": dbURL, "YW_NATS_URL": nats.URL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_QDRANT_URL": "http://" + lite.Addr(), "YW_DATA_DIR": t.TempDir(), "YW_LOG_LEVEL": "info", "YW_LOG_FORMAT": "json"}
	ctx := context.Background()
	st := store.New(pool)
	for _, name := range []string{"ann", "ben"} {
		_, err := st.CreateUser(ctx, name, false)
		require.NoError(t, err)
	}
	worker := workertest.Start(t, run, env)
	t.Cleanup(func() {
		code, _ := worker.Stop(t)
		require.Equal(t, 0, code, "the worker exits 0 on shutdown; stderr:\n%s", worker.Stderr.String())
	})
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(worker.Base + path)
		require.NoError(t, err)
		var body struct {
			Status string `json:"status"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Equal(t, "ok", body.Status)
	}

	out, _, code := cli(env, "trigger", "group-migration", "--wait")
	require.Equal(t, 0, code, out)
	id := lastLine(out)
	require.Regexp(t, `^[0-9a-f-]{36}$`, id)
	require.Contains(t, out, "[##############################] 100% 2/2 completed")
	require.Contains(t, out, `"groups_created":2`)
	for _, name := range []string{"ann", "ben"} {
		taken, err := st.GroupNameTaken(ctx, name+"-personal", "")
		require.NoError(t, err)
		require.True(t, taken)
	}

	out, _, code = cli(env, "status", id)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "status:   completed")

	// Without Ollama a re-embed with a model fails, and --wait says so with exit 1.
	_, out, code = cli(env, "trigger", "re-embed", "--embed-model", "nomic-embed-text", "--wait")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "YW_OLLAMA_URL is not set")

	// Bad input is a usage error, exit 2.
	_, out, code = cli(env, "trigger", "--embed-model", "x", "verify")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "embed_model")
	_, out, code = cli(env, "trigger", "nonsense")
	require.Equal(t, 2, code, out)
	_, out, code = cli(env, "frobnicate", "x")
	require.Equal(t, 2, code, out)
	_, out, code = cli(env, "status", "00000000-0000-0000-0000-000000000000")
	require.Equal(t, 2, code, out)
}
