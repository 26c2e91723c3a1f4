package chaos_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/youworker/youworker/pkg/chaos"
	"github.com/youworker/youworker/pkg/corpustest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/postgres/privatepg"
)

var (
	duration = flag.Duration("chaos.duration", 0, "run TestChaos, the long chaos run, for this long (make chaos)")
	scaling  = flag.Bool("chaos.scaling", false, "run TestChaosScaling and print the scaling table (make chaos)")
	keep     = flag.Bool("chaos.keep", false, "keep the run directory (logs, data) even when the run passes")
	seed     = flag.Uint64("chaos.seed", 0, "seed of the chaos (0: from the clock)")
)

var (
	buildOnce sync.Once
	binaries  chaos.Binaries
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// build compiles the programs once per test process.
func build(t *testing.T) chaos.Binaries {
	t.Helper()
	if _, err := privatepg.FindBinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the chaos harness runs a private PostgreSQL: %v", err)
		}
		t.Skipf("the chaos harness runs a private PostgreSQL: %v", err)
	}
	buildOnce.Do(func() {
		start := time.Now()
		binDir, buildErr = os.MkdirTemp("", "yw-chaos-bin-")
		if buildErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			binaries, buildErr = chaos.Build(ctx, binDir)
		}
		t.Logf("built the programs in %s", time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binaries
}

// runDir is where a run keeps its data and logs: kept when the run fails.
func runDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "yw-chaos-run-")
	if err != nil {
		t.Fatal(err)
	}
	// The private PostgreSQL runs as the postgres user when the tests run as root.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || *keep {
			t.Logf("run directory kept: %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

// env is the platform's configuration in every run: limits per user raised, since
// a handful of users stand for many.
var env = map[string]string{
	"YW_RATE_LIMIT_RPS": "1000", "YW_RATE_LIMIT_BURST": "2000",
	"YW_MAX_TURNS_PER_USER": "200", "YW_MAX_STREAMS_PER_USER": "1000", "YW_UPLOADS_PER_USER": "64",
	"YW_MODEL_PARALLEL": "8", "YW_SHUTDOWN_TIMEOUT": "5s",
}

func config(t *testing.T, d time.Duration) chaos.Config {
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("chaos seed %d", s)
	return chaos.Config{
		Dir: runDir(t), Binaries: build(t), LLM: llmtest.New(t), Duration: d,
		APIs: 2, IngestWorkers: 3, AgentWorkers: 3, Reindexers: 1,
		Env: env, Seed: s,
		Load: chaos.LoadConfig{Users: 3, Uploaders: 3, Chatters: 5, Reindex: true, Corpus: corpus(t),
			ItemTimeout: 4 * time.Minute, ResumeChance: 0.3, ToolChance: 0.3},
		Monkey: chaos.MonkeyConfig{
			Gap: [2]time.Duration{2 * time.Second, 6 * time.Second}, Down: [2]time.Duration{200 * time.Millisecond, 3 * time.Second},
			Kinds:      []string{chaos.KindAPI, chaos.KindIngest, chaos.KindAgent, chaos.KindReindexer, chaos.KindNATS},
			PostgresAt: d * 2 / 5, PostgresDown: 2 * time.Second,
		},
		Logf: t.Logf,
	}
}

// corpus is the shared corpus of real-world files, uploaded among the generated
// documents; without it the load is generated documents only, rather than no run.
func corpus(t *testing.T) string {
	dir, ok := corpustest.Find()
	if !ok {
		t.Log("the shared corpus is missing (YW_TEST_CORPUS): uploads are generated documents only")
	}
	return dir
}

func check(t *testing.T, rep *chaos.Report, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Print(&b)
	fmt.Println(b.String())
	if !rep.OK() {
		t.Fatalf("the ledger is not empty: %d lost, %d duplicated, %d unexpected", len(rep.Lost), len(rep.Duplicated), len(rep.Unexpected))
	}
}

// TestChaosShort is the bounded chaos run of `make test`: a minute of mixed load
// on 2 APIs, 3 ingest workers, 3 agent workers and a re-indexer over a 3-node NATS
// cluster, while processes of every kind are killed and PostgreSQL restarts once.
// It asserts only the ledger: nothing lost, duplicated or unexpected.
func TestChaosShort(t *testing.T) {
	if *duration > 0 || *scaling {
		t.Skip("the long run is on")
	}
	cfg := config(t, 50*time.Second)
	// Kills stop well before the end so the short run ends soon after its load.
	rep, err := chaos.Run(t.Context(), cfg)
	check(t, rep, err)
}

// TestChaos is the long run of `make chaos` (-chaos.duration).
func TestChaos(t *testing.T) {
	if *duration == 0 {
		t.Skip("set -chaos.duration (make chaos)")
	}
	cfg := config(t, *duration)
	cfg.Load.Uploaders, cfg.Load.Chatters, cfg.Load.Users = 4, 8, 4
	rep, err := chaos.Run(t.Context(), cfg)
	check(t, rep, err)
}

// TestChaosScaling measures ingestion and turn throughput with 1, 2 and 3
// workers against a model server of fixed capacity, and prints the table of the
// README (make chaos; -chaos.scaling).
func TestChaosScaling(t *testing.T) {
	if !*scaling {
		t.Skip("set -chaos.scaling (make chaos)")
	}
	cfg := chaos.ScalingConfig{
		Dir: runDir(t), Binaries: build(t), LLM: llmtest.New(t), Workers: []int{1, 2, 3},
		Docs: 120, Turns: 150,
		EmbedParallel: 5, EmbedDelay: 100 * time.Millisecond,
		ChatParallel: 7, Tokens: 20, TokenDelay: 25 * time.Millisecond,
		// Each worker: 2 embedding requests or 3 turns at a time, so three workers
		// ask more than the model gives.
		Env: map[string]string{
			"YW_RATE_LIMIT_RPS": "1000", "YW_RATE_LIMIT_BURST": "2000", "YW_MAX_TURNS_PER_USER": "200",
			"YW_MAX_STREAMS_PER_USER": "1000", "YW_UPLOADS_PER_USER": "64", "YW_CHUNK_TOKENS": "100", "YW_CHUNK_OVERLAP": "10",
			"YW_JOB_CONCURRENCY": "4", "YW_EMBED_CONCURRENCY": "2", "YW_CHAT_CONCURRENCY": "3", "YW_MODEL_PARALLEL": "7",
			"YW_LOG_LEVEL": "warn",
		},
		Logf: t.Logf,
	}
	rows, err := chaos.Scaling(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	chaos.PrintScaling(&b, cfg, rows)
	fmt.Println(b.String())
}
