package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// lineWriter collects output and reports the first line that matches a pattern.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	match *regexp.Regexp
	found chan string
	once  sync.Once
}

func newLineWriter(pattern string) *lineWriter {
	return &lineWriter{match: regexp.MustCompile(pattern), found: make(chan string, 1)}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := w.match.FindStringSubmatch(w.buf.String()); m != nil {
		w.once.Do(func() { w.found <- m[1] })
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startAPI runs the real program in -dev mode (embedded NATS and vector store, every
// worker in-process) on free ports and returns its base URL. The program is stopped
// when the test ends and must exit 0 within 10 s.
func startAPI(t *testing.T, env map[string]string) string {
	t.Helper()
	base, stop := launchAPI(t, env)
	t.Cleanup(func() { stop() })
	return base
}

// launchAPI starts the program and returns its base URL and a stop function that
// cancels it (as SIGTERM does), requires exit code 0 and returns how long exiting took.
func launchAPI(t *testing.T, env map[string]string) (string, func() time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout := newLineWriter(`listening on (http://\S+)`)
	stderr := newLineWriter(`(never)`)
	done := make(chan int, 1)
	full := map[string]string{"YW_DEV_NATS_PORT": "0", "YW_DEV_QDRANT_ADDR": "127.0.0.1:0", "YW_DATA_DIR": t.TempDir()}
	for k, v := range env {
		full[k] = v
	}
	go func() { done <- run(ctx, []string{"-dev"}, getenv(full), stdout, stderr) }()
	var once sync.Once
	var took time.Duration
	stop := func() time.Duration {
		once.Do(func() {
			start := time.Now()
			cancel()
			select {
			case code := <-done:
				took = time.Since(start)
				require.Equal(t, 0, code, "api must exit 0 on shutdown; stderr:\n%s", stderr.String())
			case <-time.After(10 * time.Second):
				t.Error("api did not stop within 10s of its context ending")
			}
		})
		return took
	}
	select {
	case url := <-stdout.found:
		return url, stop
	case code := <-done:
		t.Fatalf("api exited with %d before listening; stderr:\n%s", code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("api did not listen within 30s; stderr:\n%s", stderr.String())
	}
	return "", stop
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// cli runs one CLI invocation and returns its stdout.
func cli(t *testing.T, env map[string]string, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, getenv(env), &out, &errOut)
	return out.String() + errOut.String(), code
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestUsersAndKeysEndToEnd(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	bootstrap := "bootstrap-admin-key-for-the-e2e-test"
	env := map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_BOOTSTRAP_ADMIN_KEY": bootstrap,
		"YW_LOG_LEVEL": "warn", "YW_DATA_DIR": t.TempDir(),
	}
	out, code := cli(t, env, "migrate")
	require.Equal(t, 0, code, out)

	base := startAPI(t, env)
	c := apitest.NewClient(t, base)

	// The bootstrap admin exists with exactly the configured key.
	var me map[string]any
	c.Do("GET", "/v1/me", bootstrap, nil, http.StatusOK, &me)
	require.Equal(t, "admin", me["name"])
	require.Equal(t, true, me["is_admin"])

	// Create a user by API ...
	var created struct {
		User map[string]any `json:"user"`
		Key  string         `json:"key"`
	}
	c.Do("POST", "/v1/admin/users", bootstrap, map[string]any{"name": "alice"}, http.StatusCreated, &created)
	aliceKey := created.Key
	require.NotEmpty(t, aliceKey)
	c.Do("POST", "/v1/admin/users", bootstrap, map[string]any{"name": "alice"}, http.StatusConflict, nil)
	c.Do("POST", "/v1/admin/users", bootstrap, map[string]any{"name": "no spaces allowed"}, http.StatusBadRequest, nil)
	c.Do("POST", "/v1/admin/users", bootstrap, map[string]any{"name": 42}, http.StatusBadRequest, nil)

	// ... and by CLI, whose last line is the key.
	out, code = cli(t, env, "users", "create", "--name", "bob")
	require.Equal(t, 0, code, out)
	bobKey := lastLine(out)
	c.Do("GET", "/v1/me", bobKey, nil, http.StatusOK, &me)
	require.Equal(t, "bob", me["name"])
	require.Equal(t, false, me["is_admin"])
	out, code = cli(t, env, "users", "list")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "alice")
	out, code = cli(t, env, "users", "create", "--name", "bob")
	require.Equal(t, 2, code, "a clash is a usage error: %s", out)

	// Alice sees herself, with X-API-Key too; she may not see admin routes.
	req := c.Request("GET", "/v1/me", "", nil)
	req.Header.Set("X-API-Key", aliceKey)
	var aliceMe map[string]any
	c.Send(req, http.StatusOK, &aliceMe)
	require.Equal(t, "alice", aliceMe["name"])
	c.Do("GET", "/v1/admin/users", aliceKey, nil, http.StatusNotFound, nil)

	// Keys: create, list, revoke; the revoked key gets 401 on the next request.
	var second map[string]any
	c.Do("POST", "/v1/me/keys", aliceKey, nil, http.StatusCreated, &second)
	secondKey := second["key"].(string)
	var keys struct {
		Keys []map[string]any `json:"keys"`
	}
	c.Do("GET", "/v1/me/keys", secondKey, nil, http.StatusOK, &keys)
	require.Len(t, keys.Keys, 2)
	for _, k := range keys.Keys {
		require.NotContains(t, k, "key", "the secret is shown only at creation")
	}
	c.Do("DELETE", "/v1/me/keys/"+second["id"].(string), aliceKey, nil, http.StatusNoContent, nil)
	c.Do("GET", "/v1/me", secondKey, nil, http.StatusUnauthorized, nil)
	c.Do("GET", "/v1/me", aliceKey, nil, http.StatusOK, nil)
	c.Do("DELETE", "/v1/me/keys/not-a-uuid", aliceKey, nil, http.StatusNotFound, nil)

	// CLI key rotation revokes the old key at once.
	out, code = cli(t, env, "keys", "rotate", "--name", "alice")
	require.Equal(t, 0, code, out)
	c.Do("GET", "/v1/me", aliceKey, nil, http.StatusUnauthorized, nil)
	c.Do("GET", "/v1/me", lastLine(out), nil, http.StatusOK, nil)

	// Admin lists and deletes users.
	var list struct {
		Users      []map[string]any `json:"users"`
		NextCursor *string          `json:"next_cursor"`
	}
	c.Do("GET", "/v1/admin/users?limit=2", bootstrap, nil, http.StatusOK, &list)
	require.Len(t, list.Users, 2)
	require.NotNil(t, list.NextCursor)
	c.Do("GET", "/v1/admin/users?limit=500", bootstrap, nil, http.StatusBadRequest, nil)
	c.Do("DELETE", "/v1/admin/users/"+created.User["id"].(string), bootstrap, nil, http.StatusNoContent, nil)
	c.Do("GET", "/v1/me", lastLine(out), nil, http.StatusUnauthorized, nil)

	// No key, a bad key, a wrong scheme.
	c.Do("GET", "/v1/me", "", nil, http.StatusUnauthorized, nil)
	c.Do("GET", "/v1/me", "yw_definitelynotavalidkeyatall000000", nil, http.StatusUnauthorized, nil)
	req = c.Request("GET", "/v1/me", "", nil)
	req.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
	c.Send(req, http.StatusUnauthorized, nil)
}

func TestHealthReadinessMetricsAndHeaders(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	model := newScriptedModel(t)
	admin := "bootstrap-admin-key-for-metrics-e2e-test"
	env := map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_LOG_LEVEL": "warn", "YW_DATA_DIR": t.TempDir(),
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_OLLAMA_URL": model.llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel}
	_, code := cli(t, env, "migrate")
	require.Equal(t, 0, code)
	base := startAPI(t, env)
	c := apitest.NewClient(t, base)

	var health map[string]any
	c.Do("GET", "/healthz", "", nil, http.StatusOK, &health)
	require.Equal(t, "ok", health["status"])

	resp := c.Send(c.Request("GET", "/readyz", "", nil), http.StatusOK, nil)
	body := resp.Body
	require.Contains(t, body, `"postgres":{"ok":true`)
	require.NotContains(t, body, "127.0.0.1", "readiness never shows URLs")

	req := c.Request("GET", "/v1/me", "", nil)
	req.Header.Set("X-Correlation-ID", "client-chosen-id-123")
	resp = c.Send(req, http.StatusUnauthorized, nil)
	require.Equal(t, "client-chosen-id-123", resp.Header.Get("X-Correlation-ID"))
	require.Contains(t, resp.Body, `"correlation_id":"client-chosen-id-123"`)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))

	req = c.Request("GET", "/healthz", "", nil)
	req.Header.Set("X-Correlation-ID", "bad id with spaces")
	resp = c.Send(req, http.StatusOK, nil)
	require.NotEqual(t, "bad id with spaces", resp.Header.Get("X-Correlation-ID"))
	require.Len(t, resp.Header.Get("X-Correlation-ID"), 36)

	ids := operatorActivity(t, c, base, admin, model)
	resp = c.Send(c.Request("GET", "/metrics", "", nil), http.StatusOK, nil)
	require.Contains(t, resp.Body, `yw_http_requests_total{method="GET",route="/healthz",status="200"}`)
	requireOperatorMetrics(t, resp.Body, ids)

	var doc map[string]any
	c.Do("GET", "/v1/openapi.json", "", nil, http.StatusOK, &doc)
	require.Equal(t, "3.1.0", doc["openapi"])
}

func TestProgramsRefuseAnOutdatedSchema(t *testing.T) {
	dbURL := pgtest.NewEmptyDB(t)
	env := map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_LOG_FORMAT": "json"}
	var out, errOut bytes.Buffer
	code := run(context.Background(), nil, getenv(env), &out, &errOut)
	require.Equal(t, 1, code)
	require.Contains(t, errOut.String(), "run `api migrate`")

	code = run(context.Background(), []string{"users", "frobnicate"}, getenv(env), &out, &errOut)
	require.Equal(t, 2, code)
	require.Contains(t, errOut.String(), "unknown command")
}

func TestConfigErrorsAreReportedTogether(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), nil, getenv(map[string]string{"YW_HTTP_ADDR": "nope", "YW_LOG_FORMAT": "xml"}), &out, &errOut)
	require.Equal(t, 2, code)
	require.Contains(t, errOut.String(), "YW_HTTP_ADDR")
	require.Contains(t, errOut.String(), "YW_LOG_FORMAT")
}
