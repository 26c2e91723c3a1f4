package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/ollama/ollama/api"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/apiserver"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/benchtest"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/platform"
	"github.com/youworker/youworker/pkg/turnevent"
)

type options struct {
	k          int
	tokens     int
	interval   time.Duration
	firstDelay time.Duration
	cpuProfile string
	memProfile string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (code int) {
	fs := flag.NewFlagSet("chat-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.k, "k", 100, "concurrent turns")
	fs.IntVar(&o.tokens, "tokens", 200, "tokens per turn")
	fs.DurationVar(&o.interval, "interval", 10*time.Millisecond, "time between tokens")
	fs.DurationVar(&o.firstDelay, "first", 200*time.Millisecond, "delay before the first token")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the relay phase to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile of the whole run, taken after the relay phase, to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.k < 1 || o.tokens < 1 || o.tokens > 9999 {
		fmt.Fprintln(stderr, "-k and -tokens must be positive (tokens at most 9999)")
		return 2
	}
	tb := benchtest.New("chat-bench")
	defer tb.Close()
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(benchtest.Fatal)
			if !ok {
				panic(p)
			}
			fmt.Fprintln(stderr, "chat-bench:", f.Msg)
			code = 1
		}
	}()
	if err := bench(ctx, tb, o, getenv, stdout); err != nil {
		fmt.Fprintln(stderr, "chat-bench:", err)
		return 1
	}
	return 0
}

// rig is the platform in one process with the API served over loopback.
type rig struct {
	base   string
	key    string
	model  *llmtest.Server
	p      *platform.Platform
	client *http.Client

	mu     sync.Mutex
	emits  [][]time.Time  // per turn index, per chunk: when the model flushed it
	byText map[string]int // user message → turn index
	script llmtest.Script
}

func bench(ctx context.Context, tb *benchtest.TB, o options, getenv func(string) string, stdout io.Writer) error {
	r, err := start(ctx, tb, o, getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "chat-bench: k=%d turns, %d tokens at %s after a %s first-token delay, GOMAXPROCS=%d\n",
		o.k, o.tokens, o.interval, o.firstDelay, runtime.GOMAXPROCS(0))

	floor, err := jetStreamFloor(ctx, r, o)
	if err != nil {
		return fmt.Errorf("jetstream floor: %w", err)
	}
	hop := newHTTPHop(tb, o.k)
	hopFloor, err := hop.floor(ctx, o.k, o)
	if err != nil {
		return fmt.Errorf("http floor: %w", err)
	}
	perStream, stackPerStream, err := streamMemory(ctx, r, o)
	if err != nil {
		return fmt.Errorf("stream memory: %w", err)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	res, err := relay(ctx, r, hop, o)
	if o.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if o.memProfile != "" {
		if err := writeAllocs(o.memProfile); err != nil {
			return err
		}
	}
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tp50\tp99\ttarget\tverdict\t")
	ratio := func(x, f time.Duration) string { return fmt.Sprintf("%.2f× floor", float64(x)/float64(f)) }
	fmt.Fprintf(tw, "JetStream floor (publish → ordered consumer)\t%s\t%s\t\t\t\n", ms(floor.p(50)), ms(floor.p(99)))
	fmt.Fprintf(tw, "token relay (model emit → SSE client)\t%s\t%s\tp50 ≤ 1.5×, p99 ≤ 2× floor\t%s\t\n",
		ms(res.relay.p(50)), ms(res.relay.p(99)),
		verdict(float64(res.relay.p(50)) <= 1.5*float64(floor.p(50)) && float64(res.relay.p(99)) <= 2*float64(floor.p(99))))
	fmt.Fprintf(tw, "  relay / floor\t%s\t%s\t\t\t\n", ratio(res.relay.p(50), floor.p(50)), ratio(res.relay.p(99), floor.p(99)))
	fmt.Fprintf(tw, "JetStream floor measured during the relay (probe)\t%s\t%s\t\t\t\n", ms(res.probe.p(50)), ms(res.probe.p(99)))
	fmt.Fprintf(tw, "  relay / floor during the relay\t%s\t%s\t\t\t\n", ratio(res.relay.p(50), res.probe.p(50)), ratio(res.relay.p(99), res.probe.p(99)))
	fmt.Fprintf(tw, "loopback HTTP stream hop (same load shape)\t%s\t%s\t\t\t\n", ms(hopFloor.p(50)), ms(hopFloor.p(99)))
	fmt.Fprintf(tw, "HTTP hop measured during the relay (probe)\t%s\t%s\t\t\t\n", ms(res.hopProbe.p(50)), ms(res.hopProbe.p(99)))
	hops := func(q float64) time.Duration { return res.probe.p(q) + 2*res.hopProbe.p(q) }
	fmt.Fprintf(tw, "  relay / (JetStream + 2 HTTP hops) during the relay\t%s\t%s\t\t\t\n", ratio(res.relay.p(50), hops(50)), ratio(res.relay.p(99), hops(99)))
	fmt.Fprintf(tw, "  model emit → stored in JetStream\t%s\t%s\t\t\t\n", ms(res.toStore.p(50)), ms(res.toStore.p(99)))
	fmt.Fprintf(tw, "  stored → SSE client\t%s\t%s\t\t\t\n", ms(res.fromStore.p(50)), ms(res.fromStore.p(99)))
	fmt.Fprintf(tw, "TTFT overhead (client first token − model first emit)\t%s\t%s\tp50 ≤ 10ms, p99 ≤ 50ms\t%s\t\n",
		ms(res.ttft.p(50)), ms(res.ttft.p(99)), verdict(res.ttft.p(50) <= 10*time.Millisecond && res.ttft.p(99) <= 50*time.Millisecond))
	fmt.Fprintf(tw, "turn wall time (submit → turn.completed)\t%s\t%s\t\t\t\n", ms(res.wall.p(50)), ms(res.wall.p(99)))
	fmt.Fprintf(tw, "tokens lost / duplicated\t%d / %d\t\t0 / 0\t%s\t\n", res.lost, res.dup, verdict(res.lost == 0 && res.dup == 0))
	fmt.Fprintf(tw, "token events per turn (coalescing)\t%.1f\t\t\t\t\n", float64(res.events)/float64(o.k))
	fmt.Fprintf(tw, "API memory per open stream (heap / stacks)\t%s / %s\t\t\t\t\n", kb(perStream), kb(stackPerStream))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "memory includes the in-process SSE client's side of each connection (one goroutine, 4 KiB read buffer, the transport's conn)")
	return nil
}

// writeAllocs writes the allocations made since the program started.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
func kb(b float64) string       { return fmt.Sprintf("%.1f KiB", b/1024) }

// start opens the platform on a fresh database with embedded NATS and vector store,
// and serves the API, the outbox relay and the agent worker as `api -dev` does.
func start(ctx context.Context, tb *benchtest.TB, o options, getenv func(string) string) (*rig, error) {
	r := &rig{byText: map[string]int{}, model: llmtest.New(tb)}
	r.model.Handle(r.scriptFor)
	// The platform talks to the model through front, which serves the model's own
	// handler and timestamps each chunk as it is flushed.
	front := httptest.NewServer(http.HandlerFunc(r.serveModel))
	tb.Cleanup(front.Close)
	_, dbURL := pgtest.NewDB(tb)
	env := map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": tb.TempDir(),
		"YW_DEV_NATS_PORT": "0", "YW_DEV_QDRANT_ADDR": "127.0.0.1:0",
		"YW_OLLAMA_URL": front.URL, "YW_CHAT_MODEL": llmtest.ChatModel,
		"YW_RATE_LIMIT_RPS": "1000000", "YW_RATE_LIMIT_BURST": "1000000",
		"YW_CHAT_CONCURRENCY":   strconv.Itoa(min(max(o.k*2, 128), 1024)),
		"YW_MAX_TURNS_PER_USER": strconv.Itoa(2*o.k + 10),
		"YW_LOG_LEVEL":          "error",
	}
	if v := getenv("YW_LOG_LEVEL"); v != "" {
		env["YW_LOG_LEVEL"] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return nil, err
	}
	logger := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	a, err := app.Open(ctx, cfg, logger, app.Options{Program: "chat-bench", Dev: true, Relay: true, Chat: true})
	if err != nil {
		return nil, err
	}
	r.p = a.Platform
	srv, err := apiserver.New(a)
	if err != nil {
		a.Close()
		return nil, err
	}
	_, key, err := a.Services.Users.Create(ctx, access.System, "bench", false)
	if err != nil {
		a.Close()
		return nil, err
	}
	r.key = key.Secret
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Close()
		return nil, err
	}
	r.base = "http://" + l.Addr().String()
	r.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * o.k, MaxIdleConns: 4 * o.k}}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return a.Run(gctx, l, srv.Serve) })
	tb.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			fmt.Fprintln(os.Stderr, "shutdown:", err)
		}
		srv.Close()
		a.Close()
	})
	return r, nil
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
					}
					r.mu.Unlock()
				}
			}
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
	req.Header.Set("Authorization", "Bearer "+r.key)
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
	var sess struct {
		ID string `json:"id"`
	}
	if err := r.do(ctx, "POST", "/v1/chat/sessions", map[string]any{}, http.StatusCreated, &sess); err != nil {
		return "", err
	}
	var posted struct {
		Turn struct {
			ID string `json:"id"`
		} `json:"turn"`
	}
	err := r.do(ctx, "POST", "/v1/chat/sessions/"+sess.ID+"/messages", map[string]any{"content": content, "tools": false}, http.StatusAccepted, &posted)
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
	req, err := http.NewRequestWithContext(ctx, "GET", r.base+"/v1/chat/turns/"+turnID+"/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.key)
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

// jetStreamFloor measures publish → ordered consumer on the same server, with the
// same load shape as the relay phase: k logs, each written at the token interval
// by a synchronous publisher and read by its own ordered consumer (Follow).
func jetStreamFloor(ctx context.Context, r *rig, o options) (samples, error) {
	var mu sync.Mutex
	var lat samples
	g, gctx := errgroup.WithContext(ctx)
	run := time.Now().UnixNano()
	for i := range o.k {
		id := fmt.Sprintf("floor-%d-%d", run, i)
		rctx, cancel := context.WithCancel(gctx)
		ch, err := r.p.Turns.Follow(rctx, id, 0)
		if err != nil {
			cancel()
			return nil, err
		}
		g.Go(func() error {
			defer cancel()
			local := make(samples, 0, o.tokens)
			for ev := range ch {
				at := time.Now()
				sent, _ := strconv.ParseInt(string(ev.Data), 10, 64)
				local = append(local, at.Sub(time.Unix(0, sent)))
				if len(local) == o.tokens {
					break
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
			if len(local) != o.tokens {
				return fmt.Errorf("floor log %d: %d of %d events", i, len(local), o.tokens)
			}
			return nil
		})
		g.Go(func() error {
			tick := time.NewTicker(o.interval)
			defer tick.Stop()
			for range o.tokens {
				select {
				case <-tick.C:
				case <-gctx.Done():
					return gctx.Err()
				}
				now := strconv.FormatInt(time.Now().UnixNano(), 10)
				if _, err := r.p.Turns.PublishEvent(gctx, id, "token", []byte(now)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return lat, g.Wait()
}

// streamMemory opens k event streams on turns waiting for their first token and
// reports the heap and stack growth per stream.
func streamMemory(ctx context.Context, r *rig, o options) (heap, stack float64, err error) {
	texts := r.prepare(o.k, 1, "memory", llmtest.Script{Tokens: []string{"ok"}, FirstTokenDelay: 3 * time.Second})
	ids := make([]string, o.k)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i, text := range texts {
		g.Go(func() (err error) { ids[i], err = r.submit(gctx, text); return err })
	}
	if err := g.Wait(); err != nil {
		return 0, 0, err
	}
	// Every turn is running and waiting on the model before the baseline.
	deadline := time.Now().Add(30 * time.Second)
	for r.model.Count("/api/chat") < o.k {
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("only %d of %d turns reached the model", r.model.Count("/api/chat"), o.k)
		}
		time.Sleep(10 * time.Millisecond)
	}
	h0, s0 := memNow()
	var started sync.WaitGroup
	started.Add(o.k)
	done := make(chan error, o.k)
	for _, id := range ids {
		go func() {
			var once sync.Once
			done <- r.stream(ctx, id, func(e sseEvent) {
				if e.typ == "turn.started" {
					once.Do(started.Done)
				}
			})
			once.Do(started.Done)
		}()
	}
	started.Wait()
	h1, s1 := memNow()
	for range o.k {
		if err := <-done; err != nil {
			return 0, 0, err
		}
	}
	return float64(int64(h1)-int64(h0)) / float64(o.k), float64(int64(s1)-int64(s0)) / float64(o.k), nil
}

func memNow() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.StackInuse
}

type relayResult struct {
	relay, ttft, wall samples
	// The relay split at the moment JetStream stored the event: model → worker →
	// JetStream, and JetStream → API → SSE client.
	toStore, fromStore samples
	// probe is the JetStream floor measured alongside the turns, under their load;
	// hopProbe the loopback HTTP stream hop, likewise.
	probe, hopProbe   samples
	lost, dup, events int
}

// relay runs k turns at once and attributes every model token to the SSE event
// that carried it (token events join tokens published while one was in flight).
func relay(ctx context.Context, r *rig, hop *httpHop, o options) (relayResult, error) {
	tokens := make([]string, o.tokens)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("t%04d ", i) // fixed width: byte offsets map to tokens
	}
	width := len(tokens[0])
	texts := r.prepare(o.k, o.tokens, "relay", llmtest.Script{Tokens: tokens, TokenDelay: o.interval, FirstTokenDelay: o.firstDelay})
	stopProbe, err := startProbe(ctx, r, o.interval)
	if err != nil {
		return relayResult{}, fmt.Errorf("floor probe: %w", err)
	}
	stopHopProbe := hop.probe(ctx, probeLogs, o.interval)
	type turnResult struct {
		text     strings.Builder
		arrivals []time.Time // per token index: arrival of the event that completed it
		seqs     []uint64    // per token index: the event that completed it
		turnID   string
		events   int
		wall     time.Duration
	}
	results := make([]*turnResult, o.k)
	var failed atomic.Value
	var wg sync.WaitGroup
	for i, text := range texts {
		results[i] = &turnResult{arrivals: make([]time.Time, 0, o.tokens), seqs: make([]uint64, 0, o.tokens)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := results[i]
			begin := time.Now()
			id, err := r.submit(ctx, text)
			res.turnID = id
			if err == nil {
				err = r.stream(ctx, id, func(e sseEvent) {
					if e.typ != "token" {
						return
					}
					var d struct {
						Text string `json:"text"`
					}
					_ = json.Unmarshal(e.data, &d)
					res.events++
					res.text.WriteString(d.Text)
					for len(res.arrivals) < res.text.Len()/width {
						res.arrivals = append(res.arrivals, e.at)
						res.seqs = append(res.seqs, e.seq)
					}
				})
			}
			res.wall = time.Since(begin)
			if err != nil {
				failed.Store(err)
			}
		}()
	}
	wg.Wait()
	probe := stopProbe()
	hopProbe, err := stopHopProbe()
	if err != nil {
		return relayResult{}, fmt.Errorf("http probe: %w", err)
	}
	if err, ok := failed.Load().(error); ok {
		return relayResult{}, err
	}
	stored := make([]map[uint64]time.Time, len(results))
	for i, res := range results {
		st, err := r.storedTimes(ctx, res.turnID)
		if err != nil {
			return relayResult{}, err
		}
		stored[i] = st
	}
	out := relayResult{probe: probe, hopProbe: hopProbe}
	want := strings.Join(tokens, "")
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, res := range results {
		out.events += res.events
		out.wall = append(out.wall, res.wall)
		got := res.text.String()
		seen := map[string]int{}
		for _, f := range strings.Fields(got) {
			seen[f]++
		}
		for _, tok := range tokens {
			switch n := seen[strings.TrimSpace(tok)]; {
			case n == 0:
				out.lost++
			case n > 1:
				out.dup += n - 1
			}
		}
		if got != want {
			continue // latencies of a broken stream mean nothing
		}
		for j, at := range res.arrivals {
			emit := r.emits[i][j]
			if emit.IsZero() {
				return relayResult{}, fmt.Errorf("turn %d token %d: emission not recorded", i, j)
			}
			out.relay = append(out.relay, at.Sub(emit))
			if st, ok := stored[i][res.seqs[j]]; ok {
				out.toStore = append(out.toStore, st.Sub(emit))
				out.fromStore = append(out.fromStore, at.Sub(st))
			}
			if j == 0 {
				out.ttft = append(out.ttft, at.Sub(emit))
			}
		}
	}
	return out, nil
}

// probeLogs is how many logs the floor probe writes during the relay phase.
const probeLogs = 4

// startProbe measures the JetStream floor while the turns run: a few logs written
// at the token interval by a synchronous publisher, each read by its own ordered
// consumer, as jetStreamFloor does alone. stop ends it and returns the latencies.
func startProbe(ctx context.Context, r *rig, interval time.Duration) (stop func() samples, err error) {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var lat samples
	var wg sync.WaitGroup
	run := time.Now().UnixNano()
	for i := range probeLogs {
		id := fmt.Sprintf("probe-%d-%d", run, i)
		ch, err := r.p.Turns.Follow(ctx, id, 0)
		if err != nil {
			cancel()
			wg.Wait()
			return nil, err
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for ev := range ch {
				at := time.Now()
				sent, _ := strconv.ParseInt(string(ev.Data), 10, 64)
				mu.Lock()
				lat = append(lat, at.Sub(time.Unix(0, sent)))
				mu.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
				case <-ctx.Done():
					return
				}
				now := strconv.FormatInt(time.Now().UnixNano(), 10)
				if _, err := r.p.Turns.PublishEvent(ctx, id, "token", []byte(now)); err != nil {
					return
				}
			}
		}()
	}
	return func() samples {
		cancel()
		wg.Wait()
		return lat
	}, nil
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

// samples are latencies.
type samples []time.Duration

func (s samples) p(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	i := int(float64(len(c)-1) * q / 100)
	return c[i]
}
