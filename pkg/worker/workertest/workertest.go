// Package workertest starts a worker program's run function in a test and finds its
// probe address. Production code never imports it.
package workertest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging/logtest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

// Run is a program's run function.
type Run func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int

// Program is a started program.
type Program struct {
	// Base is the probe server's base URL.
	Base   string
	Stderr *logtest.Buffer
	cancel context.CancelFunc
	done   chan int
}

var probeAddr = regexp.MustCompile(`probes on (http://\S+)`)

// Start runs the program with env and waits until it serves its probes.
func Start(t *testing.T, run Run, env map[string]string) *Program {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Program{Stderr: &logtest.Buffer{}, cancel: cancel, done: make(chan int, 1)}
	var stdout logtest.Buffer
	go func() { p.done <- run(ctx, nil, func(k string) string { return env[k] }, &stdout, p.Stderr) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := probeAddr.FindStringSubmatch(stdout.String()); m != nil {
			p.Base = m[1]
			return p
		}
		select {
		case code := <-p.done:
			t.Fatalf("program exited with %d before serving probes; stderr:\n%s", code, p.Stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("program did not serve probes within 30s; stderr:\n%s", p.Stderr.String())
		}
	}
}

// Stop cancels the program as a signal would and returns its exit code and how long
// it took to exit; it fails the test if that takes more than 15 s.
func (p *Program) Stop(t *testing.T) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	p.cancel()
	select {
	case code := <-p.done:
		return code, time.Since(start)
	case <-time.After(15 * time.Second):
		t.Fatal("program did not stop within 15s")
	}
	return -1, 0
}

// RequireStandalone starts the program on its own against an external NATS, vector
// store and database, with the model server configured but down, requires it to be
// ready all the same (readiness checks only postgres, nats and vectors: a model
// being down degrades answers, never takes a replica out of service), and requires
// it to stop with exit code 0 within 10 s.
func RequireStandalone(t *testing.T, run Run) {
	t.Helper()
	_, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	lite, _ := vectortest.StartLite(t, t.TempDir())
	prog := Start(t, run, map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_NATS_URL": nats.URL, "YW_QDRANT_URL": "http://" + lite.Addr(),
		"YW_HTTP_ADDR": "127.0.0.1:0", "YW_LOG_LEVEL": "warn", "YW_DATA_DIR": t.TempDir(),
		"YW_OLLAMA_URL": llmtest.DeadURL(t), "YW_CHAT_MODEL": llmtest.ChatModel, "YW_EMBED_MODEL": llmtest.EmbedModel,
	})
	c := apitest.NewClient(t, prog.Base)
	var ready struct {
		Status string                     `json:"status"`
		Checks map[string]json.RawMessage `json:"checks"`
	}
	resp := c.Send(c.Request("GET", "/readyz", "", nil), http.StatusOK, &ready)
	require.Equal(t, "ok", ready.Status)
	require.Len(t, ready.Checks, 3, resp.Body)
	for _, check := range []string{"postgres", "nats", "vectors"} {
		require.Contains(t, resp.Body, `"`+check+`":{"ok":true`)
	}
	require.NotContains(t, resp.Body, "127.0.0.1", "readiness never shows addresses")
	c.Do("GET", "/healthz", "", nil, http.StatusOK, nil)
	metrics := c.Send(c.Request("GET", "/metrics", "", nil), http.StatusOK, nil)
	require.Contains(t, metrics.Body, "go_goroutines", "every worker serves its metrics")
	code, took := prog.Stop(t)
	require.Equal(t, 0, code, prog.Stderr.String())
	require.Less(t, took, 10*time.Second)
}
