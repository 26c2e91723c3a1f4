package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/apiserver"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
)

// Scenario sizes: large enough that start-up and the last document's tail are a
// small part of the window.
const (
	lexicalDocs     = 96
	lexicalDocBytes = 320 << 10
	ollamaDocBytes  = 640 << 10
	batchSize       = 16 // platform.IngestWorker's BatchSize
	markdownRuns    = 15
)

// BenchmarkIngest runs every scenario once and prints a table. Run it with
// -benchtime=1x (make bench-ingest).
func BenchmarkIngest(b *testing.B) {
	var rows [][2]string
	add := func(k, v string) { rows = append(rows, [2]string{k, v}) }

	a := startStack(b, nil)
	res := a.run(b, "lexical", lexicalDocs, lexicalDocBytes)
	add("A lexical: documents", fmt.Sprintf("%d × %d KB text/Markdown", lexicalDocs, lexicalDocBytes>>10))
	add("A lexical: documents/s", fmt.Sprintf("%.1f", res.docsPerSec()))
	add("A lexical: MB/s of text", fmt.Sprintf("%.2f  (target ≥ 10)", res.mbPerSec()))
	add("A lexical: chunks/s", fmt.Sprintf("%.0f", res.chunksPerSec()))
	add("A lexical: upload→ready p50 / p95", fmt.Sprintf("%s / %s", res.pct(50), res.pct(95)))
	add("A lexical: peak RSS (whole process)", fmt.Sprintf("%d MB", res.peakRSS>>20))
	md := a.markdownLatency(b)
	add("A lexical: 20 KB Markdown upload→ready p50", fmt.Sprintf("%s  (target ≤ 250ms; p95 %s)", md.pct(50), md.pct(95)))
	b.ReportMetric(res.mbPerSec(), "lexical_MB/s")
	b.ReportMetric(float64(md.pct(50).Milliseconds()), "md20k_p50_ms")
	a.close()

	// A fast embedder (25 ms a batch), and one nearer a CPU-bound embedding
	// model, where the fixed cost of a request (the HTTP round trip, the
	// runtime's timer granularity) weighs a quarter as much.
	ollamaScenario(b, add, "B", 25*time.Millisecond, 48)
	ollamaScenario(b, add, "B'", 100*time.Millisecond, 16)

	fmt.Println()
	for _, r := range rows {
		fmt.Printf("%-50s %s\n", r[0], r[1])
	}
	fmt.Println()
}

// ollamaScenario ingests docs documents with the llmtest embedder answering
// each batch after delay, at the configured embedding concurrency.
func ollamaScenario(b *testing.B, add func(k, v string), name string, delay time.Duration, docs int) {
	llm := llmtest.New(b)
	llm.SetEmbedDelay(delay)
	o := startStack(b, map[string]string{"YW_OLLAMA_URL": llm.URL, "YW_EMBED_MODEL": llmtest.EmbedModel})
	defer o.close()
	inFlight := o.cfg.EmbedConcurrency
	ceiling := float64(inFlight*batchSize) / delay.Seconds()
	alone := measureEmbedder(b, o.cfg, inFlight)
	res := o.run(b, "ollama", docs, ollamaDocBytes)
	label := name + " ollama " + delay.String() + ": "
	add(label+"documents", fmt.Sprintf("%d × %d KB", docs, ollamaDocBytes>>10))
	add(label+"embed requests in flight", fmt.Sprintf("%d (YW_EMBED_CONCURRENCY)", inFlight))
	add(label+"ceiling", fmt.Sprintf("%.0f chunks/s (%d × %d chunks / %s)", ceiling, inFlight, batchSize, delay))
	add(label+"embedder alone, same client", fmt.Sprintf("%.0f chunks/s = %.1f%% of ceiling", alone, 100*alone/ceiling))
	add(label+"chunks/s", fmt.Sprintf("%.0f = %.1f%% of ceiling  (target ≥ 90%%), %.1f%% of the embedder alone",
		res.chunksPerSec(), 100*res.chunksPerSec()/ceiling, 100*res.chunksPerSec()/alone))
	add(label+"MB/s of text", fmt.Sprintf("%.2f", res.mbPerSec()))
	add(label+"upload→ready p50 / p95", fmt.Sprintf("%s / %s", res.pct(50), res.pct(95)))
	md := o.markdownLatency(b)
	add(label+"20 KB Markdown upload→ready p50", fmt.Sprintf("%s (p95 %s)", md.pct(50), md.pct(95)))
	b.ReportMetric(100*res.chunksPerSec()/ceiling, fmt.Sprintf("ollama%dms_%%ceiling", delay.Milliseconds()))
}

// measureEmbedder drives the scenario's embedder with nothing else running: the
// ingest worker's client, inFlight requests of batchSize chunk-sized texts at a
// time. It is what the embedder delivers once the HTTP round trip and the
// runtime's timer granularity are counted, the best any pipeline could do.
func measureEmbedder(b *testing.B, cfg config.Config, inFlight int) float64 {
	b.Helper()
	emb, err := embed.NewOllama(embed.OllamaConfig{URL: cfg.OllamaURL, Model: cfg.EmbedModel}, nil)
	must(b, err)
	defer emb.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	texts := make([]string, batchSize)
	for i := range texts {
		texts[i] = string(prose(rng, 1300, false)) // about one chunk of the default size
	}
	const window = 2 * time.Second
	var chunks atomic.Int64
	start := time.Now()
	var g errgroup.Group
	for range inFlight {
		g.Go(func() error {
			for time.Since(start) < window {
				if _, err := emb.Embed(context.Background(), texts); err != nil {
					return err
				}
				chunks.Add(int64(len(texts)))
			}
			return nil
		})
	}
	must(b, g.Wait())
	return float64(chunks.Load()) / time.Since(start).Seconds()
}

// stack is the whole platform in this process, as `api -dev` runs it.
type stack struct {
	cfg    config.Config
	base   string
	key    string
	pool   *pgxpool.Pool
	cancel context.CancelFunc
	group  *errgroup.Group
	app    *app.App
	once   sync.Once
}

func startStack(b *testing.B, extra map[string]string) *stack {
	b.Helper()
	pool, dbURL := pgtest.NewDB(b)
	env := map[string]string{"YW_DATABASE_URL": dbURL, "YW_DATA_DIR": b.TempDir(), "YW_DEV_NATS_PORT": "0",
		"YW_DEV_QDRANT_ADDR": "127.0.0.1:0", "YW_LOG_LEVEL": "error", "YW_RATE_LIMIT_RPS": "100000", "YW_RATE_LIMIT_BURST": "100000"}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	must(b, err)
	must(b, cfg.Validate())
	logger := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, logger, app.Options{Program: "bench", Dev: true, Relay: true, Ingest: true})
	must(b, err)
	srv, err := apiserver.New(a)
	must(b, err)
	b.Cleanup(srv.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(b, err)
	_, key, err := a.Services.Users.Create(ctx, access.System, "bench", false)
	must(b, err)
	rctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(rctx)
	g.Go(func() error { return a.Run(gctx, l, srv.Serve) })
	s := &stack{cfg: cfg, base: "http://" + l.Addr().String(), key: key.Secret, pool: pool, cancel: cancel, group: g, app: a}
	b.Cleanup(s.close)
	return s
}

func (s *stack) close() {
	s.once.Do(func() {
		s.cancel()
		_ = s.group.Wait()
		s.app.Close()
	})
}

type result struct {
	docs, chunks int
	bytes        int64
	window       time.Duration
	latencies    []time.Duration
	peakRSS      int64
}

func (r result) docsPerSec() float64   { return float64(r.docs) / r.window.Seconds() }
func (r result) mbPerSec() float64     { return float64(r.bytes) / 1e6 / r.window.Seconds() }
func (r result) chunksPerSec() float64 { return float64(r.chunks) / r.window.Seconds() }
func (r result) pct(p int) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	l := slices.Clone(r.latencies)
	slices.Sort(l)
	return l[min(len(l)-1, (len(l)*p+99)/100-1)].Round(time.Millisecond)
}

// run uploads n documents of size bytes from four clients, two files per request,
// and waits until all are ready.
func (s *stack) run(b *testing.B, name string, n, size int) result {
	b.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), uint64(size)))
	files := make([][]byte, n)
	var total int64
	for i := range files {
		files[i] = prose(rng, size, i%2 == 1)
		total += int64(len(files[i]))
	}
	resetPeakRSS()
	var mu sync.Mutex
	sent := map[string]time.Time{}
	start := time.Now()
	var g errgroup.Group
	g.SetLimit(4)
	for i := 0; i < n; i += 2 {
		g.Go(func() error {
			at := time.Now()
			ids, err := s.upload(map[string][]byte{fmt.Sprintf("%s-%d.txt", name, i): files[i], fmt.Sprintf("%s-%d.md", name, i+1): files[i+1]})
			mu.Lock()
			for _, id := range ids {
				sent[id] = at
			}
			mu.Unlock()
			return err
		})
	}
	must(b, g.Wait())
	s.waitReady(b, n, 5*time.Minute)
	res := result{docs: n, bytes: total, peakRSS: peakRSS()}
	rows, err := s.pool.Query(context.Background(), `SELECT id::text, ready_at, chunk_count FROM documents`)
	must(b, err)
	var last time.Time
	for rows.Next() {
		var id string
		var ready time.Time
		var chunks int
		must(b, rows.Scan(&id, &ready, &chunks))
		res.chunks += chunks
		res.latencies = append(res.latencies, ready.Sub(sent[id]))
		if ready.After(last) {
			last = ready
		}
	}
	must(b, rows.Err())
	res.window = last.Sub(start)
	return res
}

// markdownLatency uploads 20 KB Markdown files one at a time on the idle stack.
func (s *stack) markdownLatency(b *testing.B) result {
	b.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	var res result
	for i := range markdownRuns {
		data := prose(rng, 20<<10, true)
		at := time.Now()
		ids, err := s.upload(map[string][]byte{fmt.Sprintf("note-%d.md", i): data})
		must(b, err)
		var ready time.Time
		deadline := time.Now().Add(30 * time.Second)
		for {
			var r *time.Time
			must(b, s.pool.QueryRow(context.Background(), `SELECT ready_at FROM documents WHERE id = $1`, ids[0]).Scan(&r))
			if r != nil {
				ready = *r
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("markdown document %s not ready after 30s", ids[0])
			}
			time.Sleep(2 * time.Millisecond) // polling interval
		}
		res.latencies = append(res.latencies, ready.Sub(at))
	}
	return res
}

func (s *stack) upload(files map[string][]byte) ([]string, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for name, data := range files {
		part, err := w.CreateFormFile("file", name)
		if err != nil {
			return nil, err
		}
		if _, err := part.Write(data); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, s.base+"/v1/documents", &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Documents []struct {
			ID string `json:"id"`
		} `json:"documents"`
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("upload: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	var ids []string
	for _, d := range out.Documents {
		ids = append(ids, d.ID)
	}
	return ids, nil
}

func (s *stack) waitReady(b *testing.B, n int, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var done, failed int
		must(b, s.pool.QueryRow(context.Background(),
			`SELECT count(*) FILTER (WHERE status = 'ready'), count(*) FILTER (WHERE status = 'failed') FROM documents`).Scan(&done, &failed))
		if failed > 0 {
			b.Fatalf("%d documents failed", failed)
		}
		if done == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d documents ready after %s", done, n, timeout)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

var vocabulary = strings.Fields(`the a of to and in is for that on with as by at from this be are was it an or
	which report market revenue quarter growth customer product service region team plan risk cost policy
	engine harbour lantern meadow river summit valley glacier canyon prairie tundra forest orchard vineyard
	contract supplier invoice shipment warehouse inventory forecast budget audit compliance security network
	server database storage latency throughput capacity incident release feature roadmap milestone design
	research analysis survey interview result method sample measure estimate variance trend signal model`)

// prose is size bytes of varied English-like text, with Markdown headings if md.
func prose(rng *rand.Rand, size int, md bool) []byte {
	var b bytes.Buffer
	for section := 1; b.Len() < size; section++ {
		if md {
			fmt.Fprintf(&b, "## Section %d\n\n", section)
		}
		for p := 0; p < 4 && b.Len() < size; p++ {
			for s := 0; s < 5; s++ {
				words := 8 + rng.IntN(12)
				for w := range words {
					word := vocabulary[rng.IntN(len(vocabulary))]
					if w == 0 {
						word = strings.ToUpper(word[:1]) + word[1:]
					}
					b.WriteString(word)
					if w < words-1 {
						b.WriteByte(' ')
					}
				}
				b.WriteString(". ")
			}
			b.WriteString("\n\n")
		}
	}
	return b.Bytes()[:size]
}

// resetPeakRSS resets the kernel's high-water mark of this process's resident set.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is the resident-set high-water mark since the last reset, in bytes.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
