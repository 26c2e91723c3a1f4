package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/store"
)

// syncBuffer collects a program's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// startWorker runs the reindexer worker against env and returns the address of its
// health endpoints.
func startWorker(t *testing.T, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, getenv(env), &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			require.Equal(t, 0, code, "the worker exits 0 on shutdown; stderr:\n%s", stderr.String())
		case <-time.After(20 * time.Second):
			t.Error("the worker did not stop within 20s")
		}
	})
	addr := regexp.MustCompile(`"msg":"health endpoints listening".*?"addr":"([^"]+)"`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("the worker exited with %d; stderr:\n%s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("the worker did not listen; stderr:\n%s", stderr.String())
	return ""
}

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
	env := map[string]string{"YW_DATABASE_URL": dbURL, "YW_NATS_URL": nats.URL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_DEV_QDRANT_ADDR": "127.0.0.1:0", "YW_DATA_DIR": t.TempDir(), "YW_LOG_LEVEL": "info", "YW_LOG_FORMAT": "json"}
	ctx := context.Background()
	st := store.New(pool)
	for _, name := range []string{"ann", "ben"} {
		_, err := st.CreateUser(ctx, name, false)
		require.NoError(t, err)
	}
	addr := startWorker(t, env)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + path)
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
