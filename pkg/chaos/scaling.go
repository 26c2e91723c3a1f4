package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/youworker/youworker/pkg/llmtest"
)

// ScalingConfig is the measurement of throughput against the number of workers,
// on a model server of fixed capacity.
type ScalingConfig struct {
	Dir      string
	Binaries Binaries
	LLM      *llmtest.Server
	// Workers are the worker counts measured, in order (1, 2, 3).
	Workers []int
	// Docs are uploaded per ingestion measurement; Turns asked per chat one.
	Docs, Turns int
	// EmbedParallel and EmbedDelay make the embedder: EmbedParallel requests at
	// once, each taking EmbedDelay.
	EmbedParallel int
	EmbedDelay    time.Duration
	// ChatParallel, Tokens and TokenDelay make the chat model: ChatParallel
	// replies at once, each Tokens tokens TokenDelay apart.
	ChatParallel int
	Tokens       int
	TokenDelay   time.Duration
	// Env is added to every program's environment (worker concurrency).
	Env  map[string]string
	Logf func(format string, args ...any)
}

// ScalingRow is one measurement.
type ScalingRow struct {
	Stage   string // "ingest" or "chat"
	Workers int
	Items   int
	Elapsed time.Duration
	// PerSecond is documents or turns a second.
	PerSecond float64
	// ModelPerSecond is embedding requests or streamed tokens a second.
	ModelPerSecond float64
	// ModelBusy is the share of the model's capacity used.
	ModelBusy float64
}

// Scaling starts a cluster without chaos and measures ingestion throughput, then
// turn throughput, with each worker count.
func Scaling(ctx context.Context, cfg ScalingConfig) ([]ScalingRow, error) {
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	cfg.LLM.SetParallel("/api/embed", cfg.EmbedParallel)
	cfg.LLM.SetEmbedDelay(cfg.EmbedDelay)
	cfg.LLM.SetParallel("/api/chat", cfg.ChatParallel)
	tokens := make([]string, cfg.Tokens)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("w%d ", i)
	}
	cfg.LLM.Handle(func(api.ChatRequest) llmtest.Script {
		return llmtest.Script{Tokens: tokens, TokenDelay: cfg.TokenDelay}
	})
	maxW := 0
	for _, n := range cfg.Workers {
		maxW = max(maxW, n)
	}
	cluster, err := StartCluster(ctx, ClusterConfig{Dir: cfg.Dir, Binaries: cfg.Binaries, LLM: cfg.LLM,
		APIs: 2, IngestWorkers: maxW, AgentWorkers: maxW, Env: cfg.Env, Logf: logf})
	if err != nil {
		return nil, err
	}
	defer cluster.Close()
	admin := newClient(cluster.APIURLs, cluster.AdminKey)
	l := newLoad(LoadConfig{Users: 4}, newLedger(), admin, logf)
	if err := l.setup(ctx); err != nil {
		return nil, err
	}
	var rows []ScalingRow
	// Ingest, then chat, each at every worker count; a phase's workers stop
	// when it ends.
	for _, phase := range []struct {
		kind    string
		measure func(context.Context, ScalingConfig, *load, int) (ScalingRow, error)
	}{{KindIngest, measureIngest}, {KindAgent, measureChat}} {
		for _, n := range cfg.Workers {
			if err := cluster.Scale(ctx, phase.kind, n); err != nil {
				return nil, err
			}
			row, err := phase.measure(ctx, cfg, l, n)
			if err != nil {
				return nil, err
			}
			logf("scaling: %+v", row)
			rows = append(rows, row)
		}
		if err := cluster.Scale(ctx, phase.kind, 0); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// measureIngest uploads cfg.Docs documents at once and times them to ready.
func measureIngest(ctx context.Context, cfg ScalingConfig, l *load, workers int) (ScalingRow, error) {
	rng := rand.New(rand.NewPCG(uint64(workers), 7))
	embedsBefore := cfg.LLM.Count("/api/embed")
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Docs)
	for i := range cfg.Docs {
		name, _, content := l.document(rng)
		c := l.users[i%len(l.users)]
		wg.Go(func() {
			var out struct {
				Documents []docView `json:"documents"`
			}
			if err := c.call(ctx, http.MethodPost, "/v1/documents", uploadForm(name, content), &out); err != nil {
				errs <- err
				return
			}
			for {
				var v docView
				if err := c.call(ctx, http.MethodGet, "/v1/documents/"+out.Documents[0].ID, nil, &v); err != nil {
					errs <- err
					return
				}
				if v.Status == "ready" {
					return
				}
				if v.Status == "failed" {
					errs <- fmt.Errorf("document %s failed", v.ID)
					return
				}
				pause(ctx, 100*time.Millisecond)
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return ScalingRow{}, err
	}
	elapsed := time.Since(start)
	embeds := cfg.LLM.Count("/api/embed") - embedsBefore
	capacity := float64(cfg.EmbedParallel) / cfg.EmbedDelay.Seconds()
	perSec := float64(embeds) / elapsed.Seconds()
	return ScalingRow{Stage: "ingest", Workers: workers, Items: cfg.Docs, Elapsed: elapsed,
		PerSecond: float64(cfg.Docs) / elapsed.Seconds(), ModelPerSecond: perSec, ModelBusy: perSec / capacity}, nil
}

// measureChat asks cfg.Turns questions at once, each in a chat of its own, and
// streams each answer to its end.
func measureChat(ctx context.Context, cfg ScalingConfig, l *load, workers int) (ScalingRow, error) {
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Turns)
	sessions := make([]string, cfg.Turns)
	for i := range sessions {
		var s struct {
			ID string `json:"id"`
		}
		if err := l.users[i%len(l.users)].call(ctx, http.MethodPost, "/v1/chat/sessions", map[string]any{}, &s); err != nil {
			return ScalingRow{}, err
		}
		sessions[i] = s.ID
	}
	start := time.Now()
	for i := range cfg.Turns {
		c := l.users[i%len(l.users)]
		wg.Go(func() {
			var out struct {
				Turn struct {
					ID string `json:"id"`
				} `json:"turn"`
			}
			if err := c.call(ctx, http.MethodPost, "/v1/chat/sessions/"+sessions[i]+"/messages",
				map[string]any{"content": fmt.Sprintf("question %d", i), "tools": false}, &out); err != nil {
				errs <- err
				return
			}
			var after uint64
			for {
				terminal, err := c.stream(ctx, c.base(), out.Turn.ID, after, func(ev sseEvent) bool {
					after = ev.ID
					if ev.Type != "turn.completed" && isTerminal(ev.Type) {
						errs <- fmt.Errorf("turn %s: %s %s", out.Turn.ID, ev.Type, ev.Data)
					}
					return false
				})
				if terminal {
					return
				}
				if err != nil && ctx.Err() != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return ScalingRow{}, err
	}
	elapsed := time.Since(start)
	perTurn := time.Duration(cfg.Tokens+1) * cfg.TokenDelay // the model's time for one reply
	busy := float64(cfg.Turns) * perTurn.Seconds() / (float64(cfg.ChatParallel) * elapsed.Seconds())
	return ScalingRow{Stage: "chat", Workers: workers, Items: cfg.Turns, Elapsed: elapsed,
		PerSecond: float64(cfg.Turns) / elapsed.Seconds(), ModelPerSecond: float64(cfg.Turns*cfg.Tokens) / elapsed.Seconds(), ModelBusy: busy}, nil
}

// PrintScaling writes the rows as a Markdown table.
func PrintScaling(w io.Writer, cfg ScalingConfig, rows []ScalingRow) {
	fmt.Fprintf(w, "\nembedder: %d requests at once, %s each (%.0f requests/s); chat model: %d replies at once, %d tokens %s apart (%.1f turns/s)\n\n",
		cfg.EmbedParallel, cfg.EmbedDelay, float64(cfg.EmbedParallel)/cfg.EmbedDelay.Seconds(),
		cfg.ChatParallel, cfg.Tokens, cfg.TokenDelay, float64(cfg.ChatParallel)/(time.Duration(cfg.Tokens+1)*cfg.TokenDelay).Seconds())
	fmt.Fprintln(w, "| stage | workers | items | seconds | items/s | model throughput | model busy |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rows {
		unit := "embeds"
		if r.Stage == "chat" {
			unit = "tokens"
		}
		fmt.Fprintf(w, "| %s | %d | %d | %.1f | %.1f | %.0f %s | %.0f%% |\n", r.Stage, r.Workers, r.Items, r.Elapsed.Seconds(), r.PerSecond,
			r.ModelPerSecond, unit, 100*r.ModelBusy)
	}
	fmt.Fprintln(w, strings.Repeat("", 0))
}
