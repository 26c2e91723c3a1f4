package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ollama/ollama/api"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/apiserver"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/platform"
	"github.com/youworker/youworker/pkg/turnevent"
)

// rig is the platform in one process with the API served over loopback.
type rig struct {
	base   string
	key    string
	model  *llmtest.Server
	p      *platform.Platform
	app    *app.App
	db     *pgxpool.Pool
	client *http.Client
	// modelSlots, when set, makes the model answer only as many requests at
	// once as it holds, the others waiting their turn as a model server's do.
	modelSlots chan struct{}

	mu     sync.Mutex
	emits  [][]time.Time  // per turn index, per chunk: when the model flushed it
	asked  []time.Time    // per turn index: when its chat request reached the model
	byText map[string]int // user message → turn index
	script llmtest.Script
}

// startWith opens the platform on a fresh database with embedded NATS and
// vector store, with settings of its own on top of the rig's, and serves the
// API, the outbox relay and the agent worker as `api -dev` does. tb's cleanups
// stop and close it.
func startWith(tb testing.TB, o options, getenv func(string) string, extra map[string]string) *rig {
	tb.Helper()
	return startProgram(tb, o, getenv, extra, app.Options{Program: "chat-bench", Dev: true, Relay: true, Chat: true})
}

// startProgram is startWith running the parts of the platform opts names.
func startProgram(tb testing.TB, o options, getenv func(string) string, extra map[string]string, opts app.Options) *rig {
	tb.Helper()
	ctx := tb.Context()
	r := &rig{byText: map[string]int{}, model: llmtest.New(tb)}
	r.model.Handle(r.scriptFor)
	// The platform talks to the model through front, which serves the model's own
	// handler and timestamps each chunk as it is flushed.
	front := httptest.NewServer(http.HandlerFunc(r.serveModel))
	tb.Cleanup(front.Close)
	db, dbURL := pgtest.NewDB(tb)
	r.db = db
	env := map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": tb.TempDir(),
		"YW_DEV_NATS_PORT": "0", "YW_DEV_QDRANT_ADDR": "127.0.0.1:0",
		"YW_OLLAMA_URL": front.URL, "YW_CHAT_MODEL": llmtest.ChatModel,
		"YW_RATE_LIMIT_RPS": "1000000", "YW_RATE_LIMIT_BURST": "1000000",
		"YW_CHAT_CONCURRENCY":   strconv.Itoa(min(max(o.k*2, 128), 1024)),
		"YW_MAX_TURNS_PER_USER": strconv.Itoa(2*o.k + 10),
		// One user follows every turn: as many streams as turns, and the probes'.
		"YW_MAX_STREAMS_PER_USER": strconv.Itoa(2*o.k + 10),
		"YW_LOG_LEVEL":            "error",
	}
	if v := getenv("YW_LOG_LEVEL"); v != "" {
		env["YW_LOG_LEVEL"] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	logger := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	a, err := app.Open(ctx, cfg, logger, opts)
	if err != nil {
		tb.Fatalf("open the platform: %v", err)
	}
	tb.Cleanup(a.Close)
	r.p, r.app = a.Platform, a
	srv, err := apiserver.New(a)
	if err != nil {
		tb.Fatalf("api server: %v", err)
	}
	tb.Cleanup(srv.Close)
	_, key, err := a.Services.Users.Create(ctx, access.System, "bench", false)
	if err != nil {
		tb.Fatalf("create the user: %v", err)
	}
	r.key = key.Secret
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r.base = "http://" + l.Addr().String()
	r.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * o.k, MaxIdleConns: 4 * o.k}}

	// The platform runs until the cleanups, which come after tb's context ends.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return a.Run(gctx, l, srv.Serve) })
	tb.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			tb.Logf("shutdown: %v", err)
		}
	})
	return r
}

// scriptFor answers every chat request with the phase's script.
func (r *rig) scriptFor(api.ChatRequest) llmtest.Script {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.script
}

// serveModel passes a request to the model's handler with a writer that records,
// per chunk of a chat stream, when it was flushed to the platform. The turn is
// known from the user message; this costs one decode per request, where reading
// the handler goroutine's id from its stack on every chunk cost a tenth of the
// process's CPU at k=100.
func (r *rig) serveModel(w http.ResponseWriter, req *http.Request) {
	arrived := time.Now()
	idx := -1
	if req.URL.Path == "/api/chat" {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		var creq api.ChatRequest
		if json.Unmarshal(body, &creq) == nil {
			for _, m := range creq.Messages {
				if m.Role == "user" {
					r.mu.Lock()
					if i, ok := r.byText[m.Content]; ok {
						idx = i
						r.asked[i] = arrived
					}
					r.mu.Unlock()
				}
			}
		}
	}
	if r.modelSlots != nil && req.URL.Path == "/api/chat" {
		select {
		case r.modelSlots <- struct{}{}:
			defer func() { <-r.modelSlots }()
		case <-req.Context().Done():
			return
		}
	}
	if idx < 0 {
		r.model.Config.Handler.ServeHTTP(w, req)
		return
	}
	r.model.Config.Handler.ServeHTTP(&emitRecorder{ResponseWriter: w, r: r, turn: idx}, req)
}

// emitRecorder times the flushes of one chat stream: the model flushes once per chunk.
type emitRecorder struct {
	http.ResponseWriter
	r    *rig
	turn int
	n    int
}

func (e *emitRecorder) Flush() {
	if f, ok := e.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	at := time.Now()
	e.r.mu.Lock()
	if e.turn < len(e.r.emits) && e.n < len(e.r.emits[e.turn]) {
		e.r.emits[e.turn][e.n] = at
	}
	e.r.mu.Unlock()
	e.n++
}

func (e *emitRecorder) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// prepare resets the per-turn bookkeeping for a phase of k turns.
func (r *rig) prepare(k, chunks int, prefix string, script llmtest.Script) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byText = map[string]int{}
	r.emits = make([][]time.Time, k)
	r.asked = make([]time.Time, k)
	r.script = script
	texts := make([]string, k)
	for i := range texts {
		r.emits[i] = make([]time.Time, chunks)
		texts[i] = fmt.Sprintf("%s turn %d", prefix, i)
		r.byText[texts[i]] = i
	}
	return texts
}

func (r *rig) do(ctx context.Context, method, path string, body any, want int, out any) error {
	return r.doAs(ctx, r.key, method, path, body, want, out)
}

// doAs is do with another user's key.
func (r *rig) doAs(ctx context.Context, key, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// submit creates a session and posts content; it returns the turn id.
func (r *rig) submit(ctx context.Context, content string) (string, error) {
	return r.submitAs(ctx, r.key, content)
}

// submitAs is submit as the user of key.
func (r *rig) submitAs(ctx context.Context, key, content string) (string, error) {
	var sess struct {
		ID string `json:"id"`
	}
	if err := r.doAs(ctx, key, "POST", "/v1/chat/sessions", map[string]any{}, http.StatusCreated, &sess); err != nil {
		return "", err
	}
	var posted struct {
		Turn struct {
			ID string `json:"id"`
		} `json:"turn"`
	}
	err := r.doAs(ctx, key, "POST", "/v1/chat/sessions/"+sess.ID+"/messages", map[string]any{"content": content, "tools": false}, http.StatusAccepted, &posted)
	return posted.Turn.ID, err
}

// sseEvent is one received event with its arrival time.
type sseEvent struct {
	seq  uint64
	typ  string
	data []byte
	at   time.Time
}

// stream reads a turn's events until the terminal one, calling onEvent for each.
func (r *rig) stream(ctx context.Context, turnID string, onEvent func(sseEvent)) error {
	return r.streamAs(ctx, r.key, turnID, onEvent)
}

// streamAs is stream as the user of key.
func (r *rig) streamAs(ctx context.Context, key, turnID string, onEvent func(sseEvent)) error {
	req, err := http.NewRequestWithContext(ctx, "GET", r.base+"/v1/chat/turns/"+turnID+"/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("events of %s: %d", turnID, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if cur.typ != "" {
				cur.at = time.Now()
				onEvent(cur)
				if turnevent.IsTerminal(cur.typ) {
					return nil
				}
			}
			cur = sseEvent{}
		case bytes.HasPrefix(line, []byte("id: ")):
			cur.seq, _ = strconv.ParseUint(string(line[len("id: "):]), 10, 64)
		case bytes.HasPrefix(line, []byte("event: ")):
			cur.typ = string(line[len("event: "):])
		case bytes.HasPrefix(line, []byte("data: ")):
			cur.data = append([]byte(nil), line[len("data: "):]...)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("events of %s ended without a terminal event", turnID)
}

// storedTimes replays a finished turn's log: when JetStream stored each event.
func (r *rig) storedTimes(ctx context.Context, turnID string) (map[uint64]time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ch, err := r.p.Turns.Events(ctx, turnID, 0)
	if err != nil {
		return nil, err
	}
	out := map[uint64]time.Time{}
	for ev := range ch {
		out[ev.Seq] = ev.Time
		if turnevent.IsTerminal(ev.Type) {
			return out, nil
		}
	}
	return nil, fmt.Errorf("replay of turn %s: %w", turnID, ctx.Err())
}
