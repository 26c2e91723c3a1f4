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
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/outbox"
	"github.com/youworker/youworker/pkg/platform"
	"github.com/youworker/youworker/pkg/probe"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/tracing"
)

// Options say which parts of the platform a process runs.
type Options struct {
	// Program names the process in NATS and logs.
	Program string
	// Dev embeds NATS and the vector store and migrates the database.
	Dev bool
	// Relay publishes the jobs written to the outbox; RelaySubjects, when set,
	// only the jobs on those subjects.
	Relay         bool
	RelaySubjects []string
	// Ingest, Chat and Reindex consume those jobs.
	Ingest, Chat, Reindex bool
	// MaxConns bounds the database pool; 0 is the platform's default.
	MaxConns int32
	// ConsumesOnly and NoUploads narrow what the process does on NATS to what
	// its NATS user may do (see platform.Options and package natsperm).
	ConsumesOnly, NoUploads bool
	// TracerProvider replaces the one built from YW_OTEL_ENDPOINT (tests record
	// spans in memory with it); its owner shuts it down.
	TracerProvider trace.TracerProvider
}

// The programs, by name.
var (
	// APIOptions go with the HTTP API (package apiserver); the relay publishes
	// what its requests enqueue.
	APIOptions = Options{Program: "api", Relay: true}
	// DevOptions run everything in one process on embedded NATS and vector store.
	DevOptions = Options{Program: "api", Dev: true, Relay: true, Ingest: true, Chat: true, Reindex: true}
	// IngestWorkerOptions parse, chunk, embed and index uploads and purge deleted documents.
	IngestWorkerOptions = Options{Program: "ingest-worker", Ingest: true, ConsumesOnly: true}
	// AgentWorkerOptions run chat turns.
	AgentWorkerOptions = Options{Program: "agent-worker", Chat: true, ConsumesOnly: true, NoUploads: true}
	// ReindexerOptions run re-index jobs and ACL syncs, and relay the jobs its CLI
	// records (re-index jobs, and the ingest jobs of import-legacy), so operators
	// need no API running; delete and chat jobs are the API's to relay, which its
	// NATS user alone may publish.
	ReindexerOptions = Options{Program: "reindexer", Reindex: true, Relay: true, MaxConns: 10, ConsumesOnly: true, NoUploads: true,
		RelaySubjects: []string{job.SubjectReindex, job.SubjectACL, job.SubjectIngest}}
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
	Analytics *service.Analytics
	Data      *service.DataRights
	// Models are the chat models users may choose.
	Models *service.Models
	// Identities signs in people through OIDC or a trusted proxy.
	Identities *service.Identities
}

// App is an opened process: its platform, its services and what it runs.
type App struct {
	Platform *platform.Platform
	Services Services

	Config config.Config
	Logger *slog.Logger
	// Tracing records the spans of HTTP requests and jobs; off unless configured.
	Tracing *tracing.Provider

	opts  Options
	relay *outbox.Relay
	// closers release what the services hold (model server clients).
	closers []func()
	// mcp is the process's MCP client, shared by the chat consumer and the API.
	mcp mcpClient
}

// Serve serves a listener until ctx ends: the HTTP API, or a worker's probes.
type Serve func(ctx context.Context, l net.Listener) error

// Open opens the platform and builds the services.
func Open(ctx context.Context, cfg config.Config, logger *slog.Logger, opts Options) (*App, error) {
	logger.Info("starting", "dev", opts.Dev, "config", cfg.String())
	if opts.Dev {
		// The embedded servers and the web session secret keep their files here.
		if err := os.MkdirAll(filepath.Clean(cfg.DataDir), 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	}
	tracer, err := openTracing(cfg, opts)
	if err != nil {
		return nil, err
	}
	p, err := platform.Open(ctx, cfg, logger, platform.Options{Program: opts.Program, Dev: opts.Dev, MaxConns: opts.MaxConns,
		ConsumesOnly: opts.ConsumesOnly, NoUploads: opts.NoUploads})
	if err != nil {
		_ = tracer.Shutdown(ctx)
		return nil, err
	}
	a := &App{Platform: p, Config: cfg, Logger: logger, Tracing: tracer, opts: opts}
	a.relay = outbox.NewRelay(p.Store, p.Publisher, time.Second, logger).Only(opts.RelaySubjects...)
	a.Services = a.newServices()
	return a, nil
}

// sendJob is how the chat service publishes a turn's job the moment it is
// committed: through the relay this program runs, if it runs one.
func (a *App) sendJob() func(context.Context, outbox.Pending) {
	if !a.opts.Relay {
		return nil
	}
	return a.relay.Send
}

func (a *App) newServices() Services {
	p, cfg, st, logger, notify := a.Platform, a.Config, a.Platform.Store, a.Logger, a.relay.Notify
	audit := service.NewAuditor(st, logger)
	quotas := service.QuotaDefaults{Bytes: cfg.QuotaBytes, Documents: cfg.QuotaDocuments}
	docCfg := service.DocumentsConfig{
		MaxUploadBytes: cfg.MaxUploadBytes, Notify: notify, Quota: quotas, UploadsPerUser: cfg.UploadsPerUser}
	if cfg.Fetch.URLIngest {
		docCfg.Fetcher = cfg.Fetch.Client()
	}
	var objects service.ObjectStore // none in a program that never touches uploads
	if p.Objects != nil {
		objects = p.Objects
	}
	documents := service.NewDocuments(st, objects, audit, docCfg, logger)
	groups := service.NewGroups(st, audit, service.GroupsConfig{Notify: notify, DirectAdd: cfg.GroupDirectAdd}, logger)
	models := service.NewModels(service.ModelsConfig{Allowed: p.ChatModels(), Installed: a.installedModels()}, logger)
	chat := service.NewChat(st, p.Turns, service.ChatConfig{
		DefaultModel: p.DefaultChatModel(), Models: models, Notify: notify, Send: a.sendJob(), Cancel: a.cancelTurn,
		MaxActiveTurns: cfg.MaxTurnsPerUser, TurnsPerMinute: cfg.UserTurnsPerMinute, TokensPerMinute: cfg.UserTokensPerMinute}, logger)
	return Services{
		Audit:     audit,
		Users:     service.NewUsers(st, audit, documents, logger).WithQuotas(quotas),
		Documents: documents,
		Groups:    groups,
		Reindex:   service.NewReindex(st, audit, service.ReindexConfig{Notify: notify}, logger),
		Chat:      chat,
		Search:    service.NewSearch(st, p.Index),
		Analytics: service.NewAnalytics(st),
		Data:      service.NewDataRights(st, documents, chat, groups, audit),
		Models:    models,
		Identities: service.NewIdentities(st, audit, service.IdentityConfig{
			AllowedDomains: cfg.OIDC.AllowedDomains, GroupPrefix: cfg.SSOGroupPrefix}, logger),
	}
}

// Run serves l with serve — the HTTP API — or, when serve is nil, with the probes
// and /metrics of a worker, and runs the relay and the consumers until ctx ends or
// one of them fails. It returns nil after a clean stop.
func (a *App) Run(ctx context.Context, l net.Listener, serve Serve) error {
	if serve == nil {
		serve = func(ctx context.Context, l net.Listener) error {
			return probe.Serve(ctx, l, a.Platform.Checks(), a.Platform.Registry, a.Logger)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve(gctx, l) })
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

// Listen opens the configured HTTP address.
func (a *App) Listen() (net.Listener, error) {
	l, err := net.Listen("tcp", a.Config.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", a.Config.HTTPAddr, err)
	}
	a.Logger.Info("listening", "addr", l.Addr().String())
	return l, nil
}

// Close releases everything; call it after Run returned. The spans of the last
// jobs are sent last, within a bounded wait, so a collector that is down cannot
// hold up the exit.
func (a *App) Close() {
	a.closeMCP()
	for _, c := range a.closers {
		c()
	}
	a.Platform.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Tracing.Shutdown(ctx); err != nil {
		a.Logger.Warn("traces not flushed", "error", err)
	}
}

// installedModels lists the models of the model server, for the chat models'
// availability; nil without one.
func (a *App) installedModels() func(context.Context) ([]string, error) {
	if !a.Platform.UsesOllama() {
		return nil
	}
	o, err := llm.NewOllama(llm.OllamaConfig{URL: a.Config.OllamaURL, Model: a.Config.ChatModel}, a.Logger)
	if err != nil {
		// The configuration was validated at start; an adapter that cannot be
		// built lists nothing, and every model shows as unavailable.
		return func(context.Context) ([]string, error) { return nil, err }
	}
	a.closers = append(a.closers, func() { _ = o.Close() })
	return func(ctx context.Context) ([]string, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		models, err := o.Models(ctx)
		names := make([]string, len(models))
		for i, m := range models {
			names[i] = m.Name
		}
		return names, err
	}
}

// openTracing is the injected provider, or the one YW_OTEL_ENDPOINT configures.
func openTracing(cfg config.Config, opts Options) (*tracing.Provider, error) {
	if opts.TracerProvider != nil {
		return tracing.Of(opts.TracerProvider), nil
	}
	return tracing.New(cfg.OTelEndpoint, opts.Program)
}
