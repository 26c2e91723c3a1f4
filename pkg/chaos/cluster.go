package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/postgres"
	"github.com/youworker/youworker/pkg/postgres/privatepg"
)

// Program kinds, as Proc.Kind names them.
const (
	KindNATS      = "nats"
	KindAPI       = "api"
	KindIngest    = "ingest-worker"
	KindAgent     = "agent-worker"
	KindReindexer = "reindexer"
	KindVectors   = "vector-store"
)

// Binaries are the programs a run starts, built once.
type Binaries struct {
	Dir string
}

func (b Binaries) path(name string) string { return filepath.Join(b.Dir, name) }

// Build compiles nats-server (from the module the project depends on) and the
// four programs into dir, without the race detector: they are what a deployment
// runs. It takes a minute on a cold build cache.
func Build(ctx context.Context, dir string) (Binaries, error) {
	root, err := moduleRoot()
	if err != nil {
		return Binaries{}, err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-ldflags=-s -w", "-o", dir+string(filepath.Separator),
		"./cmd/api", "./cmd/ingest-worker", "./cmd/agent-worker", "./cmd/reindexer", "github.com/nats-io/nats-server/v2")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return Binaries{}, fmt.Errorf("go build: %w\n%s", err, out)
	}
	return Binaries{Dir: dir}, nil
}

// moduleRoot is the directory of go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// ClusterConfig sizes a cluster.
type ClusterConfig struct {
	// Dir holds everything of the run: data, configurations and every log.
	Dir      string
	Binaries Binaries
	// LLM is the model server every program uses (chat and embeddings).
	LLM *llmtest.Server
	// APIs, IngestWorkers, AgentWorkers and Reindexers are the replicas of each.
	APIs, IngestWorkers, AgentWorkers, Reindexers int
	// Env is added to every program's environment; KindEnv to one kind's.
	Env     map[string]string
	KindEnv map[string]map[string]string
	// Logf reports progress.
	Logf func(format string, args ...any)
}

// Cluster is a running platform made of OS processes: a 3-node NATS JetStream
// cluster with authentication, a private PostgreSQL, one vector-store process,
// the API replicas and the workers.
type Cluster struct {
	cfg ClusterConfig

	AdminKey string
	APIURLs  []string

	pgMu   sync.Mutex
	pg     *privatepg.Server
	pgPort int
	dbURL  string

	nats    []natsNode
	users   []NATSUser
	procs   []*Proc
	byKind  map[string][]*Proc
	baseEnv []string
}

// StartCluster starts everything and returns once every process is ready.
func StartCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	c := &Cluster{cfg: cfg, AdminKey: "chaos-admin-" + randomHex(16), byKind: map[string][]*Proc{}}
	for _, d := range []string{"logs", "nats", "data"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := c.startPostgres(ctx, 0); err != nil {
		return nil, err
	}
	c.dbURL = c.pg.URL("youworker")
	if err := postgres.EnsureDatabase(ctx, c.dbURL); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.plan(); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.migrate(ctx); err != nil {
		c.Close()
		return nil, err
	}
	// The NATS cluster and the vector store first: every program needs them.
	if err := c.startAll(ctx, append(c.Procs(KindNATS), c.Procs(KindVectors)...)); err != nil {
		c.Close()
		return nil, err
	}
	// One API declares the streams (R3) before the crowd starts.
	if err := c.startAll(ctx, c.Procs(KindAPI)[:1]); err != nil {
		c.Close()
		return nil, err
	}
	var rest []*Proc
	for _, k := range []string{KindAPI, KindIngest, KindAgent, KindReindexer} {
		for _, p := range c.Procs(k) {
			if !p.Running() {
				rest = append(rest, p)
			}
		}
	}
	if err := c.startAll(ctx, rest); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

func (c *Cluster) startPostgres(ctx context.Context, port int) error {
	srv, err := privatepg.Start(ctx, privatepg.Config{Dir: filepath.Join(c.cfg.Dir, "pg"), Throwaway: true, Port: port, MaxConnections: 500})
	if err != nil {
		return err
	}
	c.pgMu.Lock()
	c.pg, c.pgPort = srv, srv.Port()
	c.pgMu.Unlock()
	return nil
}

// RestartPostgres stops the database (a fast shutdown: sessions are cut), waits
// down, and starts it again on the same port under the running programs.
func (c *Cluster) RestartPostgres(ctx context.Context, down time.Duration) error {
	c.pgMu.Lock()
	pg := c.pg
	c.pgMu.Unlock()
	if err := pg.Close(); err != nil {
		return err
	}
	select {
	case <-time.After(down):
	case <-ctx.Done():
	}
	return c.startPostgres(context.WithoutCancel(ctx), c.pgPort)
}

// DatabaseURL is the platform's database.
func (c *Cluster) DatabaseURL() string { return c.dbURL }

// plan lays out ports, configurations and environments of every process.
func (c *Cluster) plan() error {
	cfg := c.cfg
	nAPI := max(cfg.APIs, 1)
	total := 3*3 + 1 + nAPI + cfg.IngestWorkers + cfg.AgentWorkers + cfg.Reindexers
	ports, err := freePorts(total)
	if err != nil {
		return err
	}
	next := func() int { p := ports[0]; ports = ports[1:]; return p }
	for i := range 3 {
		c.nats = append(c.nats, natsNode{name: "nats-" + strconv.Itoa(i+1), client: next(), cluster: next(), monit: next()})
	}
	c.users = newNATSUsers(KindAPI, KindIngest, KindAgent, KindReindexer)
	for i, n := range c.nats {
		conf := filepath.Join(cfg.Dir, "nats", n.name+".conf")
		text, err := natsConfig(c.nats, i, filepath.Join(cfg.Dir, "nats"), c.users)
		if err != nil {
			return err
		}
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return err
		}
		c.add(&Proc{Name: n.name, Kind: KindNATS, bin: cfg.Binaries.path("nats-server"), args: []string{"-c", conf},
			Ready: fmt.Sprintf("http://127.0.0.1:%d/healthz", n.monit)})
	}

	c.baseEnv = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	vecAddr := fmt.Sprintf("127.0.0.1:%d", next())
	c.add(&Proc{Name: KindVectors, Kind: KindVectors, bin: cfg.Binaries.path("api"), args: []string{"vector-store", "--addr", vecAddr},
		env: c.env(KindVectors, "vectors", map[string]string{"YW_DATA_DIR": filepath.Join(cfg.Dir, "data", "vectors")}), Ready: vecAddr})

	common := map[string]string{
		"YW_DATABASE_URL": c.dbURL, "YW_QDRANT_URL": "http://" + vecAddr, "YW_NATS_REPLICAS": "3",
		"YW_OLLAMA_URL": cfg.LLM.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_EMBED_MODEL": llmtest.EmbedModel,
		"YW_LOG_FORMAT": "json", "YW_LOG_LEVEL": "info", "YW_TESSERACT": "off",
		"YW_UPLOAD_STORE_BYTES": strconv.Itoa(512 << 20),
	}
	for k, v := range cfg.Env {
		common[k] = v
	}
	sessionSecret := randomHex(32)
	for _, k := range []struct {
		kind string
		n    int
		args []string
	}{{KindAPI, nAPI, nil}, {KindIngest, cfg.IngestWorkers, nil}, {KindAgent, cfg.AgentWorkers, nil}, {KindReindexer, cfg.Reindexers, nil}} {
		for i := range k.n {
			name := fmt.Sprintf("%s-%d", k.kind, i+1)
			addr := fmt.Sprintf("127.0.0.1:%d", next())
			vars := map[string]string{}
			for kk, v := range common {
				vars[kk] = v
			}
			vars["YW_HTTP_ADDR"] = addr
			vars["YW_DATA_DIR"] = filepath.Join(cfg.Dir, "data", name)
			vars["YW_NATS_URL"] = natsURL(c.nats, c.user(k.kind))
			if k.kind == KindAPI {
				// Replicas behind one address: one admin, one cookie key.
				vars["YW_BOOTSTRAP_ADMIN_KEY"] = c.AdminKey
				vars["YW_SESSION_SECRET"] = sessionSecret
				c.APIURLs = append(c.APIURLs, "http://"+addr)
			}
			for kk, v := range cfg.KindEnv[k.kind] {
				vars[kk] = v
			}
			bin := cfg.Binaries.path(k.kind)
			c.add(&Proc{Name: name, Kind: k.kind, bin: bin, args: k.args, env: c.env(k.kind, name, vars),
				Ready: "http://" + addr + "/readyz"})
		}
	}
	return nil
}

func (c *Cluster) user(kind string) NATSUser {
	for _, u := range c.users {
		if u.Kind == kind {
			return u
		}
	}
	panic("no NATS user for " + kind)
}

func (c *Cluster) env(_, _ string, vars map[string]string) []string {
	env := append([]string(nil), c.baseEnv...)
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

func (c *Cluster) add(p *Proc) {
	p.logPath = filepath.Join(c.cfg.Dir, "logs", p.Name+".log")
	c.procs = append(c.procs, p)
	c.byKind[p.Kind] = append(c.byKind[p.Kind], p)
}

// Procs returns the processes of a kind, or every process for "".
func (c *Cluster) Procs(kind string) []*Proc {
	if kind == "" {
		return append([]*Proc(nil), c.procs...)
	}
	return append([]*Proc(nil), c.byKind[kind]...)
}

// Proc returns the process of that name, or nil.
func (c *Cluster) Proc(name string) *Proc {
	for _, p := range c.procs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// migrate brings the schema up with the real program's `api migrate`.
func (c *Cluster) migrate(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, c.cfg.Binaries.path("api"), "migrate")
	cmd.Env = append(c.env("", "", nil), "YW_DATABASE_URL="+c.dbURL, "YW_LOG_FORMAT=json", "YW_DATA_DIR="+filepath.Join(c.cfg.Dir, "data", "migrate"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("api migrate: %w\n%s", err, out)
	}
	return nil
}

// startTimeout bounds one process's start, generous for a loaded CI machine.
const startTimeout = 2 * time.Minute

func (c *Cluster) startAll(ctx context.Context, procs []*Proc) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range procs {
		g.Go(func() error {
			if err := p.Start(); err != nil {
				return err
			}
			rctx, cancel := context.WithTimeout(gctx, startTimeout)
			defer cancel()
			return p.WaitReady(rctx)
		})
	}
	return g.Wait()
}

// Scale runs exactly n processes of kind (stopping or starting the last ones).
func (c *Cluster) Scale(ctx context.Context, kind string, n int) error {
	procs := c.Procs(kind)
	var start []*Proc
	for i, p := range procs {
		switch {
		case i < n && !p.Running():
			start = append(start, p)
		case i >= n && p.Running():
			p.Stop(10 * time.Second)
		}
	}
	return c.startAll(ctx, start)
}

// Unwanted lists every exit of a process that the harness did not cause.
func (c *Cluster) Unwanted() []string {
	var out []string
	for _, p := range c.procs {
		out = append(out, p.Unwanted()...)
	}
	return out
}

// Close stops every process (programs first, then NATS and the store) and the
// database.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for _, kinds := range [][]string{{KindAPI, KindIngest, KindAgent, KindReindexer}, {KindNATS, KindVectors}} {
		for _, k := range kinds {
			for _, p := range c.byKind[k] {
				wg.Go(func() { p.Stop(10 * time.Second) })
			}
		}
		wg.Wait()
	}
	c.pgMu.Lock()
	pg := c.pg
	c.pgMu.Unlock()
	if pg != nil {
		_ = pg.Close()
	}
}

// LogTail returns the last lines of a process's log.
func (c *Cluster) LogTail(name string, lines int) string {
	b, err := os.ReadFile(filepath.Join(c.cfg.Dir, "logs", name+".log"))
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
