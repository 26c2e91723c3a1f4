package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/vector/vectortest"
	"github.com/youworker/youworker/pkg/worker"
)

// TestLogsOfEveryProgramMeetInTheLogStore runs the API and both workers as separate
// programs, ships each one's JSON log output into a real VictoriaLogs (as the
// deployment's shipper does with container output), makes an upload and a chat
// turn, and finds, by each request's correlation id, the lines of every program
// that worked on it.
func TestLogsOfEveryProgramMeetInTheLogStore(t *testing.T) {
	t.Parallel()
	store := startVictoriaLogs(t)
	_, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	lite, _ := vectortest.StartLite(t, t.TempDir())
	admin := "bootstrap-admin-key-for-logging-e2e-test"
	env := map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": t.TempDir(),
		"YW_NATS_URL": nats.URL, "YW_QDRANT_URL": "http://" + lite.Addr(),
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "info", "YW_LOG_FORMAT": "json",
	}
	base := startProgram(t, `listening on (http://\S+)`, func(ctx context.Context, stdout, stderr *lineWriter) int {
		return run(ctx, nil, getenv(env), stdout, io.MultiWriter(stderr, store.ship(t)))
	})
	for _, opts := range []app.Options{app.IngestWorkerOptions, app.AgentWorkerOptions} {
		startProgram(t, `probes on (http://\S+)`, func(ctx context.Context, stdout, stderr *lineWriter) int {
			return worker.Main(ctx, opts, getenv(env), stdout, io.MultiWriter(stderr, store.ship(t)))
		})
	}

	c := apitest.NewClient(t, base)
	upload := c.Upload("/v1/documents", admin, []apitest.File{{Name: "notes.md", Data: []byte("# Notes\n\nThe quarterly review is on Thursday.\n")}}, nil, http.StatusAccepted, nil)
	uploadID := upload.Header.Get(logging.HeaderCorrelationID)
	require.NotEmpty(t, uploadID)
	var session struct {
		ID string `json:"id"`
	}
	c.Do("POST", "/v1/chat/sessions", admin, map[string]any{"title": "logs"}, http.StatusCreated, &session)
	turn := c.Do("POST", "/v1/chat/sessions/"+session.ID+"/messages", admin, map[string]any{"content": "When is the review?"}, http.StatusAccepted, nil)
	turnID := turn.Header.Get(logging.HeaderCorrelationID)
	require.NotEmpty(t, turnID)

	for id, programs := range map[string][]string{uploadID: {"api", "ingest-worker"}, turnID: {"api", "agent-worker"}} {
		lines := store.waitFor(t, id, programs)
		for _, line := range lines {
			require.NotContains(t, line, admin, "log lines never carry keys")
		}
	}
}

// victoriaLogs is a VictoriaLogs server the test started.
type victoriaLogs struct{ base string }

// startVictoriaLogs runs the log store's own binary on a free port. It is built by
// `go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.2`,
// which .ci/run does; without it the test is skipped, except under CI.
func startVictoriaLogs(t *testing.T) *victoriaLogs {
	t.Helper()
	bin := victoriaLogsBinary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("victoria-logs is not installed; .ci/run installs it")
		}
		t.Skip("victoria-logs is not installed (go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.2)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	cmd := exec.Command(bin, "-storageDataPath="+t.TempDir(), "-httpListenAddr="+addr, "-loggerLevel=ERROR")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	vl := &victoriaLogs{base: "http://" + addr}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(vl.base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return vl
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("victoria-logs did not start: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func victoriaLogsBinary() string {
	if p, err := exec.LookPath("victoria-logs"); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "victoria-logs")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// ship returns a writer whose lines go to the store's JSON-lines ingestion, in
// batches, with program as the stream field — what a shipper reading the
// program's output sends. The last batch goes when the test ends.
func (vl *victoriaLogs) ship(t *testing.T) io.Writer {
	r, w := io.Pipe()
	done := make(chan struct{})
	insert := vl.base + "/insert/jsonline?" + url.Values{
		"_msg_field": {"msg"}, "_time_field": {"time"}, "_stream_fields": {"program"},
	}.Encode()
	var mu sync.Mutex
	var batch bytes.Buffer
	flush := func() {
		mu.Lock()
		body := bytes.Clone(batch.Bytes())
		batch.Reset()
		mu.Unlock()
		if len(body) == 0 {
			return
		}
		resp, err := http.Post(insert, "application/stream+json", bytes.NewReader(body))
		if err != nil {
			t.Errorf("ship logs: %v", err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Errorf("ship logs: status %d", resp.StatusCode)
		}
	}
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			mu.Lock()
			batch.Write(sc.Bytes())
			batch.WriteByte('\n')
			mu.Unlock()
		}
	}()
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				flush()
			}
		}
	}()
	t.Cleanup(func() {
		_ = w.Close()
		<-done
		close(stop)
		flush()
	})
	return w
}

// waitFor queries the store for the lines carrying correlation id until each of
// programs has at least one, and returns them.
func (vl *victoriaLogs) waitFor(t *testing.T, correlationID string, programs []string) []string {
	t.Helper()
	query := vl.base + "/select/logsql/query?" + url.Values{"query": {fmt.Sprintf("correlation_id:=%q", correlationID)}}.Encode()
	deadline := time.Now().Add(30 * time.Second)
	var lines []string
	for {
		lines = lines[:0]
		seen := map[string]bool{}
		resp, err := http.Get(query)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			var rec struct {
				Program string `json:"program"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Program != "" {
				seen[rec.Program] = true
				lines = append(lines, line)
			}
		}
		missing := []string{}
		for _, p := range programs {
			if !seen[p] {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log lines of %v with correlation id %s; found:\n%s", missing, correlationID, strings.Join(lines, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
