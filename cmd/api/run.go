package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/api"
	"github.com/youworker/youworker/pkg/apikey"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/platform"
	"github.com/youworker/youworker/pkg/postgres"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
)

const usage = `usage:
  api [-dev]                               serve the HTTP API (-dev: with embedded NATS, vector store and all workers)
  api migrate                              apply database migrations
  api users create --name NAME [--admin]   create a user; prints the new API key as the last line
  api users list                           list users
  api keys rotate --name NAME              revoke a user's keys and print a new one as the last line
`

// run is the composition root. It returns the process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(getenv)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "configuration error:\n%v\n", err)
		return 2
	}
	logger := logging.New(stderr, cfg.LogLevel, cfg.LogFormat).With("program", "api")

	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		err = runCommand(ctx, cfg, logger, args, stdout)
	} else {
		fs := flag.NewFlagSet("api", flag.ContinueOnError)
		fs.SetOutput(stderr)
		dev := fs.Bool("dev", false, "run everything in one process with embedded NATS and vector store")
		if err := fs.Parse(args); err != nil {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = serve(ctx, cfg, logger, *dev, stdout)
	}
	if err != nil {
		var se *service.Error
		if errors.As(err, &se) || errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, "error:", err)
			return 2
		}
		logger.Error("api failed", "error", err)
		return 1
	}
	return 0
}

var errUsage = errors.New("bad usage")

func runCommand(ctx context.Context, cfg config.Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	command := args[0]
	if len(args) > 1 {
		command += " " + args[1]
	}
	switch command {
	case "migrate", "users create", "users list", "keys rotate":
	default:
		return fmt.Errorf("%w: unknown command %q\n%s", errUsage, command, usage)
	}
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	if args[0] == "migrate" {
		from, to, err := postgres.Migrate(ctx, pool, logger)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "schema at version %d (was %d)\n", to, from)
		return nil
	}
	if err := postgres.CheckSchema(ctx, pool); err != nil {
		return err
	}
	st := store.New(pool)
	users := service.NewUsers(st, service.NewAuditor(st, logger), nil, logger).
		WithQuotas(service.QuotaDefaults{Bytes: cfg.QuotaBytes, Documents: cfg.QuotaDocuments})

	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "user name")
	isAdmin := fs.Bool("admin", false, "make the user an admin")
	sub := ""
	if len(args) > 1 {
		sub = args[1]
		if err := fs.Parse(args[2:]); err != nil {
			return fmt.Errorf("%w: %v\n%s", errUsage, err, usage)
		}
	}
	switch args[0] + " " + sub {
	case "users create":
		user, key, err := users.Create(ctx, access.System, *name, *isAdmin)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created user %s (id %s, admin %t); the API key is shown only now:\n%s\n", user.Name, user.ID, user.IsAdmin, key.Secret)
	case "users list":
		cursor := ""
		for {
			page, err := users.List(ctx, access.System, service.MaxLimit, cursor)
			if err != nil {
				return err
			}
			for _, u := range page.Items {
				fmt.Fprintf(stdout, "%s\t%s\tadmin=%t\t%s\n", u.ID, u.Name, u.IsAdmin, u.CreatedAt.Format("2006-01-02T15:04:05Z07:00"))
			}
			if page.Next == nil {
				return nil
			}
			cursor = *page.Next
		}
	case "keys rotate":
		key, err := users.RotateKeys(ctx, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked every key of %s; the new API key is shown only now:\n%s\n", *name, key.Secret)
	}
	return nil
}

func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, dev bool, stdout io.Writer) error {
	logger.Info("starting", "dev", dev, "config", cfg.String())
	if dev {
		if err := os.MkdirAll(filepath.Clean(cfg.DataDir), 0o700); err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
	}
	p, err := platform.Open(ctx, cfg, logger, platform.Options{Program: "api", Dev: dev})
	if err != nil {
		return err
	}
	defer p.Close()

	relay := p.Relay()
	st := p.Store
	audit := service.NewAuditor(st, logger)
	quotas := service.QuotaDefaults{Bytes: cfg.QuotaBytes, Documents: cfg.QuotaDocuments}
	documents := service.NewDocuments(st, p.Objects, audit, service.DocumentsConfig{
		MaxUploadBytes: cfg.MaxUploadBytes, Notify: relay.Notify, Quota: quotas, UploadsPerUser: cfg.UploadsPerUser}, logger)
	users := service.NewUsers(st, audit, documents, logger).WithQuotas(quotas)
	groups := service.NewGroups(st, audit, service.GroupsConfig{Notify: relay.Notify}, logger)
	reindexJobs := service.NewReindex(st, audit, service.ReindexConfig{Notify: relay.Notify}, logger)
	if err := bootstrapAdmin(ctx, users, cfg, dev, stdout); err != nil {
		return err
	}

	checks := map[string]api.Check{}
	for name, check := range p.Checks() {
		checks[name] = check
	}
	probes, err := p.StatusProbes()
	if err != nil {
		return err
	}
	defer probes.Close()
	status := api.NewStatus(statusProbes(probes), api.StatusConfig{})
	chatService := service.NewChat(st, p.Turns, service.ChatConfig{
		DefaultModel: p.DefaultChatModel(), Notify: relay.Notify, Cancel: p.CancelTurn,
		MaxActiveTurns: cfg.MaxTurnsPerUser}, logger)
	srv := api.New(api.Deps{
		Config: cfg, Logger: logger, Registry: p.Registry, Users: users, Audit: audit,
		Documents: documents, Search: service.NewSearch(st, p.Index), Groups: groups, Checks: checks,
		Status: status, Reindex: reindexJobs, Chat: chatService, WebSessions: st,
	})
	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	fmt.Fprintf(stdout, "YouWorker API listening on http://%s\n", l.Addr())
	logger.Info("listening", "addr", l.Addr().String())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, l, cfg.ShutdownTimeout) })
	g.Go(func() error { return relay.Run(gctx) })
	if dev {
		g.Go(func() error { return p.RunIngest(gctx) })
		g.Go(func() error { return p.RunReindex(gctx) })
		g.Go(func() error { return p.RunChat(gctx) })
	}
	err = g.Wait()
	logger.Info("stopped")
	return err
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

// bootstrapAdmin creates the configured bootstrap admin; in -dev with none
// configured it creates one with a fresh key and prints it, so a newcomer can start
// at once.
func bootstrapAdmin(ctx context.Context, users *service.Users, cfg config.Config, dev bool, stdout io.Writer) error {
	key := cfg.BootstrapAdminKey
	generated := false
	if key == "" && dev {
		key, generated = apikey.Generate(), true
	}
	created, err := users.Bootstrap(ctx, key)
	if err != nil {
		return err
	}
	switch {
	case created && generated:
		fmt.Fprintf(stdout, "Created the admin user %q. Its API key, shown only now:\n\n    %s\n\n", service.BootstrapAdminName, key)
	case dev && !created:
		fmt.Fprintln(stdout, "Need an API key? go run ./cmd/api users create --name NAME [--admin]")
	}
	return nil
}
