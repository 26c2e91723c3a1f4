package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/apikey"
	"github.com/youworker/youworker/pkg/apiserver"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/platform"
	"github.com/youworker/youworker/pkg/postgres"
	"github.com/youworker/youworker/pkg/qdrantlite"
	"github.com/youworker/youworker/pkg/service"
)

const usage = `usage:
  api [-dev]                               serve the HTTP API (-dev: with embedded NATS, vector store and all workers)
  api migrate                              apply database migrations
  api users create --name NAME [--admin]   create a user; prints the new API key as the last line
  api users list                           list users
  api keys rotate --name NAME              revoke a user's keys and print a new one as the last line
  api vector-store [--addr HOST:PORT]      serve the embedded vector store as a process of its own, for
                                           several programs on one host (YW_QDRANT_URL points at it)
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
	if args[0] == "vector-store" {
		return serveVectorStore(ctx, cfg, logger, args[1:], stdout)
	}
	switch command {
	case "migrate", "users create", "users list", "keys rotate":
	default:
		return fmt.Errorf("%w: unknown command %q\n%s", errUsage, command, usage)
	}
	if args[0] == "migrate" {
		return migrate(ctx, cfg, logger, stdout)
	}
	admin, err := app.OpenAdmin(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer admin.Close()
	users := admin.Users

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

// serveVectorStore runs the embedded vector store alone until ctx ends, its data in
// YW_DATA_DIR/vectors, so the programs of one host share one index. The store has
// no TLS: beyond loopback it serves only with an API key (YW_QDRANT_API_KEY, which
// the programs send too).
func serveVectorStore(ctx context.Context, cfg config.Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("api vector-store", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", cfg.DevQdrantAddr, "listen address")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v\n%s", errUsage, err, usage)
	}
	remote := !loopbackAddr(*addr)
	if remote && cfg.QdrantAPIKey == "" {
		return fmt.Errorf("%w: --addr %s is reachable beyond this host; set YW_QDRANT_API_KEY so only the programs can use the store", errUsage, *addr)
	}
	lite, err := qdrantlite.Start(ctx, qdrantlite.Config{Dir: filepath.Join(cfg.DataDir, "vectors"), Addr: *addr,
		AllowRemote: remote, APIKey: cfg.QdrantAPIKey}, logger)
	if err != nil {
		return fmt.Errorf("start the vector store: %w", err)
	}
	logger.Info("vector store serving", "addr", lite.Addr(), "dir", filepath.Join(cfg.DataDir, "vectors"))
	fmt.Fprintf(stdout, "vector store serving; set YW_QDRANT_URL=http://%s in the programs that use it\n", lite.Addr())
	<-ctx.Done()
	return lite.Close()
}

// loopbackAddr reports whether host:port listens on this host alone.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, dev bool, stdout io.Writer) error {
	opts := app.APIOptions
	if dev {
		opts = app.DevOptions
	}
	a, err := app.Open(ctx, cfg, logger, opts)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := bootstrapAdmin(ctx, a.Services.Users, cfg, dev, stdout); err != nil {
		return err
	}
	srv, err := apiserver.New(a)
	if err != nil {
		return err
	}
	defer srv.Close()
	l, err := a.Listen()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "YouWorker API listening on http://%s\n", l.Addr())
	err = a.Run(ctx, l, srv.Serve)
	logger.Info("stopped")
	return err
}

// migrate brings the database schema up to date.
func migrate(ctx context.Context, cfg config.Config, logger *slog.Logger, stdout io.Writer) error {
	url, release, err := platform.OperatorDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer release()
	pool, err := postgres.Open(ctx, url, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	from, to, err := postgres.Migrate(ctx, pool, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema at version %d (was %d)\n", to, from)
	return nil
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
