// Package app is the one composition root. It opens the platform (PostgreSQL, NATS
// JetStream, the vector store), builds the services once, and runs the parts a
// process is asked for: the HTTP API, the outbox relay and the ingest, chat and
// re-index consumers. Every program, `api -dev`, the end-to-end tests and the
// benchmarks build themselves here, so they all run the same wiring.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/api"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/outbox"
	"github.com/youworker/youworker/pkg/platform"
	"github.com/youworker/youworker/pkg/probe"
	"github.com/youworker/youworker/pkg/service"
)

// Options say which parts of the platform a process runs.
type Options struct {
	// Program names the process in NATS and logs.
	Program string
	// Dev embeds NATS and the vector store and migrates the database.
	Dev bool
	// API serves the HTTP API and the web UI; without it the process serves only
	// /healthz, /readyz and /metrics.
	API bool
	// Relay publishes the jobs written to the outbox.
	Relay bool
	// Ingest, Chat and Reindex consume those jobs.
	Ingest, Chat, Reindex bool
	// MaxConns bounds the database pool; 0 is the platform's default.
	MaxConns int32
}

// The programs, by name.
var (
	// APIOptions serve the API; the relay publishes what its requests enqueue.
	APIOptions = Options{Program: "api", API: true, Relay: true}
	// DevOptions run everything in one process on embedded NATS and vector store.
	DevOptions = Options{Program: "api", Dev: true, API: true, Relay: true, Ingest: true, Chat: true, Reindex: true}
	// IngestWorkerOptions parse, chunk, embed and index uploads and purge deleted documents.
	IngestWorkerOptions = Options{Program: "ingest-worker", Ingest: true}
	// AgentWorkerOptions run chat turns.
	AgentWorkerOptions = Options{Program: "agent-worker", Chat: true}
	// ReindexerOptions run re-index jobs and ACL syncs, and relay the jobs its CLI
	// records, so operators need no API running.
	ReindexerOptions = Options{Program: "reindexer", Reindex: true, Relay: true, MaxConns: 10}
)

// Services are the business rules, built once per process.
type Services struct {
	Audit     *service.Auditor
	Users     *service.Users
	Documents *service.Documents
	Groups    *service.Groups
	Reindex   *service.Reindex
	Chat      *service.Chat
	Search    *service.Search
}

// App is an opened process: its platform, its services and what it runs.
type App struct {
	Platform *platform.Platform
	Services Services

	opts   Options
	cfg    config.Config
	logger *slog.Logger
	relay  *outbox.Relay
	// server is the HTTP API when opts.API; status holds its /v1/status probes.
	server *api.Server
	status platform.StatusProbes
}

// Open opens the platform and builds the services and, when asked for, the API.
func Open(ctx context.Context, cfg config.Config, logger *slog.Logger, opts Options) (*App, error) {
	logger.Info("starting", "dev", opts.Dev, "config", cfg.String())
	if opts.Dev {
		// The embedded servers and the web session secret keep their files here.
		if err := os.MkdirAll(filepath.Clean(cfg.DataDir), 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	}
	p, err := platform.Open(ctx, cfg, logger, platform.Options{Program: opts.Program, Dev: opts.Dev, MaxConns: opts.MaxConns})
	if err != nil {
		return nil, err
	}
	a := &App{Platform: p, opts: opts, cfg: cfg, logger: logger}
	a.relay = outbox.NewRelay(p.Store, p.Publisher, time.Second, logger)
	a.Services = a.newServices()
	if opts.API {
		if a.status, err = p.StatusProbes(); err != nil {
			p.Close()
			return nil, err
		}
		a.server = a.newServer()
	}
	return a, nil
}

func (a *App) newServices() Services {
	p, cfg, st, logger, notify := a.Platform, a.cfg, a.Platform.Store, a.logger, a.relay.Notify
	audit := service.NewAuditor(st, logger)
	quotas := service.QuotaDefaults{Bytes: cfg.QuotaBytes, Documents: cfg.QuotaDocuments}
	documents := service.NewDocuments(st, p.Objects, audit, service.DocumentsConfig{
		MaxUploadBytes: cfg.MaxUploadBytes, Notify: notify, Quota: quotas, UploadsPerUser: cfg.UploadsPerUser}, logger)
	return Services{
		Audit:     audit,
		Users:     service.NewUsers(st, audit, documents, logger).WithQuotas(quotas),
		Documents: documents,
		Groups:    service.NewGroups(st, audit, service.GroupsConfig{Notify: notify}, logger),
		Reindex:   service.NewReindex(st, audit, service.ReindexConfig{Notify: notify}, logger),
		Chat: service.NewChat(st, p.Turns, service.ChatConfig{
			DefaultModel: p.DefaultChatModel(), Notify: notify, Cancel: a.cancelTurn,
			MaxActiveTurns: cfg.MaxTurnsPerUser}, logger),
		Search: service.NewSearch(st, p.Index),
	}
}

func (a *App) newServer() *api.Server {
	s := a.Services
	return api.New(api.Deps{
		Config: a.cfg, Logger: a.logger, Registry: a.Platform.Registry,
		Users: s.Users, Audit: s.Audit, Documents: s.Documents, Search: s.Search, Groups: s.Groups,
		Reindex: s.Reindex, Chat: s.Chat, WebSessions: a.Platform.Store,
		Checks: a.Platform.Checks(),
		Status: api.NewStatus(statusProbes(a.status), api.StatusConfig{}),
	})
}

// Run serves l — the API, or the probes of a worker — and runs the relay and the
// consumers until ctx ends or one of them fails. It returns nil after a clean stop.
func (a *App) Run(ctx context.Context, l net.Listener) error {
	g, gctx := errgroup.WithContext(ctx)
	if a.server != nil {
		g.Go(func() error { return a.server.Serve(gctx, l, a.cfg.ShutdownTimeout) })
	} else {
		g.Go(func() error { return probe.Serve(gctx, l, a.Platform.Checks(), a.Platform.Registry, a.logger) })
	}
	if a.opts.Relay {
		g.Go(func() error { return a.relay.Run(gctx) })
	}
	if a.opts.Ingest {
		g.Go(func() error { return a.runIngest(gctx) })
	}
	if a.opts.Chat {
		g.Go(func() error { return a.runChat(gctx) })
	}
	if a.opts.Reindex {
		g.Go(func() error { return a.runReindex(gctx) })
	}
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Listen opens the configured HTTP address and says where it serves on out.
func (a *App) Listen(out io.Writer) (net.Listener, error) {
	l, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", a.cfg.HTTPAddr, err)
	}
	if a.server != nil {
		fmt.Fprintf(out, "YouWorker API listening on http://%s\n", l.Addr())
	} else {
		fmt.Fprintf(out, "%s probes on http://%s\n", a.opts.Program, l.Addr())
	}
	a.logger.Info("listening", "addr", l.Addr().String())
	return l, nil
}

// Close releases everything; call it after Run returned.
func (a *App) Close() {
	a.status.Close()
	a.Platform.Close()
}

// statusProbes hands the platform's probes of the chat model, the embedder and the
// MCP servers to /v1/status.
func statusProbes(s platform.StatusProbes) api.StatusProbes {
	adapt := func(probe platform.ComponentProbe) api.Probe {
		return func(ctx context.Context) api.Component { return api.Component(probe(ctx)) }
	}
	out := api.StatusProbes{LLM: adapt(s.LLM), Embedder: adapt(s.Embedder), MCP: make(map[string]api.Probe, len(s.MCP))}
	for name, probe := range s.MCP {
		out.MCP[name] = adapt(probe)
	}
	return out
}
