package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/turnevent"
)

// The idle scenario's settings: test flags, given after -args.
var (
	idleStreamsFlag = flag.Int("idle-streams", 10000, "event streams BenchmarkChatIdle holds open on idle turns against one API process")
	idleHoldFlag    = flag.Duration("idle-hold", 20*time.Second, "how long the idle streams stay open before they are measured; longer than the 15s ping interval, so every stream is pinged")
	idlePerUserFlag = flag.Int("idle-per-user", 100, "idle streams (and turns) per user")
	idleHeapFlag    = flag.String("idle-heapprofile", "", "write a heap profile of the API holding the idle streams to this file (relative to the package folder)")
)

// idleClientEnv marks the child process that holds the client side of the idle
// streams. The clients live in a process of their own so that the API's memory
// is measured without theirs, and so that the two ends of 10,000 connections do
// not share one process's file descriptor limit.
const idleClientEnv = "YW_BENCH_IDLE_CLIENT"

// idleTarget is the memory one idle stream may cost the API, heap and stacks.
const idleTarget = 32 << 10

func TestMain(m *testing.M) {
	if os.Getenv(idleClientEnv) == "1" {
		os.Exit(idleClientMain(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// BenchmarkChatIdle opens -idle-streams event streams on turns that stay queued
// (the rig runs no agent worker), like chat tabs left open, holds them past the
// ping interval, and reports what each costs the API process: heap, goroutine
// stacks and goroutines. The turns are then cancelled: every stream must receive
// its turn.cancelled exactly once, and nothing else but pings. Run it once, with
// -benchtime 1x (make bench-chat); it ignores b.N.
func BenchmarkChatIdle(b *testing.B) {
	if *idleHeapFlag != "" {
		// Every allocation sampled: the profile then accounts for each stream's bytes.
		runtime.MemProfileRate = 1
	}
	n, perUser := *idleStreamsFlag, *idlePerUserFlag
	if n < 1 || perUser < 1 || perUser > 990 {
		b.Fatal("-idle-streams must be positive, -idle-per-user between 1 and 990")
	}
	o := options{k: min(n, 100), tokens: 1, interval: time.Millisecond}
	limit := strconv.Itoa(perUser + 10)
	r := startProgram(b, o, os.Getenv, map[string]string{"YW_MAX_TURNS_PER_USER": limit, "YW_MAX_STREAMS_PER_USER": limit},
		app.Options{Program: "chat-bench-idle", Dev: true, Relay: true})
	ctx := b.Context()
	fmt.Printf("chat-bench idle: %d streams on queued turns, %d per user, held %s, GOMAXPROCS=%d\n",
		n, perUser, *idleHoldFlag, runtime.GOMAXPROCS(0))

	streams, err := idleTurns(ctx, r, n, perUser)
	if err != nil {
		b.Fatalf("idle turns: %v", err)
	}
	// The turns' own requests leave keep-alive connections, each a goroutine and
	// buffers on the server: close them so the baseline holds none.
	r.client.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	before := measureAPI()

	child, err := startIdleClients(ctx, r.base, streams)
	if err != nil {
		b.Fatalf("idle clients: %v", err)
	}
	defer child.kill()
	if err := child.waitOpen(); err != nil {
		b.Fatalf("idle clients: %v", err)
	}
	time.Sleep(*idleHoldFlag)
	after := measureAPI()
	if err := writeHeapProfile(*idleHeapFlag); err != nil {
		b.Fatal(err)
	}

	// Every turn ends; every stream must get that and close.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, s := range streams {
		g.Go(func() error {
			return r.doAs(gctx, s.Key, "POST", "/v1/chat/turns/"+s.Turn+"/cancel", nil, http.StatusAccepted, nil)
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("cancel the turns: %v", err)
	}
	sum, err := child.summary()
	if err != nil {
		b.Fatalf("idle clients: %v", err)
	}

	heap := float64(int64(after.heap)-int64(before.heap)) / float64(n)
	stacks := float64(int64(after.stacks)-int64(before.stacks)) / float64(n)
	gors := float64(after.goroutines-before.goroutines) / float64(n)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "idle streams\theap/stream\tstacks/stream\ttotal/stream\tgoroutines/stream\tpings/stream (min–max)\tcancelled received\tlost / duplicated\ttarget\tverdict\t")
	fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.2f\t%d–%d\t%d of %d\t%d / %d\t≤ %s total, 0 / 0\t%s\t\n",
		n, kb(heap), kb(stacks), kb(heap+stacks), gors, sum.MinPings, sum.MaxPings, sum.Terminal, n, sum.Lost, sum.Duplicated,
		kb(idleTarget), verdict(heap+stacks <= idleTarget && sum.Lost == 0 && sum.Duplicated == 0 && sum.Terminal == n))
	if err := tw.Flush(); err != nil {
		b.Fatal(err)
	}
	fmt.Println("the API runs in the benchmark's process; the clients in a child process, so their memory is not counted")
	for _, e := range sum.Errors {
		fmt.Println("client error:", e)
	}
	b.ReportMetric(heap+stacks, "B/idle-stream")
	b.ReportMetric(float64(sum.Lost+sum.Duplicated), "events_lost+dup")
	if sum.Terminal != n || sum.Lost != 0 || sum.Duplicated != 0 || len(sum.Errors) > 0 {
		b.Fatalf("idle streams: %d of %d ended with turn.cancelled, %d lost, %d duplicated, %d errors",
			sum.Terminal, n, sum.Lost, sum.Duplicated, len(sum.Errors))
	}
}

// idleStream is one stream the clients open: a turn and its owner's key.
type idleStream struct {
	Turn string `json:"turn"`
	Key  string `json:"key"`
}

// idleTurns creates n queued turns, perUser for each of as many users as needed.
func idleTurns(ctx context.Context, r *rig, n, perUser int) ([]idleStream, error) {
	streams := make([]idleStream, n)
	for u := 0; u*perUser < n; u++ {
		_, key, err := r.app.Services.Users.Create(ctx, access.System, fmt.Sprintf("idle-%d", u), false)
		if err != nil {
			return nil, fmt.Errorf("create user %d: %w", u, err)
		}
		for i := u * perUser; i < min(n, (u+1)*perUser); i++ {
			streams[i].Key = key.Secret
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range streams {
		g.Go(func() (err error) {
			streams[i].Turn, err = r.submitAs(gctx, streams[i].Key, fmt.Sprintf("idle turn %d", i))
			return err
		})
	}
	return streams, g.Wait()
}

// apiMemory is the process's live heap, goroutine stacks and goroutines.
type apiMemory struct {
	heap, stacks uint64
	goroutines   int
}

func measureAPI() apiMemory {
	h, s := memNow()
	return apiMemory{heap: h, stacks: s, goroutines: runtime.NumGoroutine()}
}

// writeHeapProfile writes the live heap to path; with no path it does nothing.
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// idleChild is the client process, driven over its stdin and stdout.
type idleChild struct {
	cmd *exec.Cmd
	out *bufio.Scanner
}

func startIdleClients(ctx context.Context, base string, streams []idleStream) (*idleChild, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), idleClientEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &idleChild{cmd: cmd, out: bufio.NewScanner(out)}
	c.out.Buffer(nil, 1<<20)
	if err := json.NewEncoder(in).Encode(idleOrder{Base: base, Streams: streams}); err != nil {
		c.kill()
		return nil, err
	}
	return c, in.Close()
}

// waitOpen waits until every stream has answered 200.
func (c *idleChild) waitOpen() error {
	var line idleReport
	if err := c.read(&line); err != nil {
		return err
	}
	if line.Opened == 0 {
		return fmt.Errorf("no stream opened: %v", line.Errors)
	}
	return nil
}

// summary waits for every stream to end and returns what the clients saw.
func (c *idleChild) summary() (idleReport, error) {
	var rep idleReport
	if err := c.read(&rep); err != nil {
		return rep, err
	}
	return rep, c.cmd.Wait()
}

func (c *idleChild) read(v any) error {
	if !c.out.Scan() {
		if err := c.out.Err(); err != nil {
			return err
		}
		return errors.New("the client process ended early")
	}
	return json.Unmarshal(c.out.Bytes(), v)
}

func (c *idleChild) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}

// idleOrder is what the client process is told to open.
type idleOrder struct {
	Base    string       `json:"base"`
	Streams []idleStream `json:"streams"`
}

// idleReport is a line the client process writes: first when the streams are
// open, then when they have all ended.
type idleReport struct {
	Opened     int      `json:"opened"`
	Terminal   int      `json:"terminal"`   // streams that received turn.cancelled
	Lost       int      `json:"lost"`       // streams that ended without it
	Duplicated int      `json:"duplicated"` // events received twice, or after the end
	MinPings   int      `json:"min_pings"`
	MaxPings   int      `json:"max_pings"`
	Errors     []string `json:"errors,omitempty"`
}

// idleClientMain is the client process: it opens every stream it is given,
// reports, then reads each until it ends and reports what came.
func idleClientMain(stdin io.Reader, stdout io.Writer) int {
	var order idleOrder
	if err := json.NewDecoder(stdin).Decode(&order); err != nil {
		fmt.Fprintln(os.Stderr, "idle client:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, MaxIdleConnsPerHost: -1}}
	enc := json.NewEncoder(stdout)

	type result struct {
		terminal, dup, pings int
		err                  error
	}
	results := make([]result, len(order.Streams))
	bodies := make([]io.ReadCloser, len(order.Streams))
	var mu sync.Mutex
	var errs []string
	note := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) < 10 {
			errs = append(errs, err.Error())
		}
	}
	var opened atomic.Int64
	g := errgroup.Group{}
	g.SetLimit(64)
	for i, s := range order.Streams {
		g.Go(func() error {
			req, err := http.NewRequestWithContext(ctx, "GET", order.Base+"/v1/chat/turns/"+s.Turn+"/events", nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+s.Key)
			resp, err := client.Do(req)
			if err != nil {
				note(err)
				return nil
			}
			if resp.StatusCode != http.StatusOK {
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				note(fmt.Errorf("events of %s: %d %s", s.Turn, resp.StatusCode, data))
				return nil
			}
			bodies[i] = resp.Body
			opened.Add(1)
			return nil
		})
	}
	_ = g.Wait()
	_ = enc.Encode(idleReport{Opened: int(opened.Load()), Errors: errs})

	var wg sync.WaitGroup
	for i, body := range bodies {
		if body == nil {
			continue
		}
		wg.Go(func() {
			defer body.Close()
			res := &results[i]
			seen := map[uint64]bool{}
			sc := bufio.NewScanner(body)
			var seq uint64
			var typ string
			for sc.Scan() {
				line := sc.Bytes()
				switch {
				case bytes.Equal(line, []byte(": ping")):
					res.pings++
				case bytes.HasPrefix(line, []byte("id: ")):
					seq, _ = strconv.ParseUint(string(line[len("id: "):]), 10, 64)
				case bytes.HasPrefix(line, []byte("event: ")):
					typ = string(line[len("event: "):])
				case len(line) == 0 && typ != "":
					if seen[seq] || res.terminal > 0 {
						res.dup++
					}
					seen[seq] = true
					if typ == turnevent.Cancelled {
						res.terminal++
					} else {
						res.err = fmt.Errorf("stream %d: unexpected event %s", i, typ)
					}
					typ = ""
				}
			}
			if err := sc.Err(); err != nil && res.err == nil {
				res.err = err
			}
		})
	}
	wg.Wait()
	rep := idleReport{Opened: int(opened.Load()), MinPings: -1}
	for i, res := range results {
		if bodies[i] == nil {
			rep.Lost++
			continue
		}
		if res.terminal > 0 {
			rep.Terminal++
		} else {
			rep.Lost++
		}
		rep.Duplicated += res.dup
		if rep.MinPings < 0 || res.pings < rep.MinPings {
			rep.MinPings = res.pings
		}
		rep.MaxPings = max(rep.MaxPings, res.pings)
		if res.err != nil {
			note(res.err)
		}
	}
	rep.Errors = errs
	if err := enc.Encode(rep); err != nil {
		return 1
	}
	return 0
}
