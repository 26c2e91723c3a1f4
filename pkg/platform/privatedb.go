package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/postgres/privatepg"
)

// defaultDatabaseAddr is where DefaultDatabaseURL points.
const defaultDatabaseAddr = "127.0.0.1:5432"

// devDatabaseURL is the database -dev uses: the configured one, or — when
// YW_DATABASE_URL is unset and nothing listens on the default address — a private
// PostgreSQL kept under YW_DATA_DIR/postgres, so `make run` works on a machine where
// PostgreSQL is installed but not running, and on one with no PostgreSQL at all
// from an official build fetched once into YW_DATA_DIR/postgres-binaries.
func (p *Platform) devDatabaseURL(ctx context.Context) (string, error) {
	if p.Config.DatabaseURLSet || answers(defaultDatabaseAddr) {
		p.Logger.Info("using PostgreSQL", "url", redactedURL(p.Config.DatabaseURL))
		return p.Config.DatabaseURL, nil
	}
	dir := filepath.Join(p.Config.DataDir, "postgres")
	p.Logger.Info("no PostgreSQL answers on the default address; starting a private one",
		"default_addr", defaultDatabaseAddr, "dir", dir)
	srv, err := privatepg.Start(ctx, privatepg.Config{Dir: dir, Download: download(p.Config)})
	if err != nil {
		return "", fmt.Errorf("nothing answers on %s and the private PostgreSQL did not start: %w", defaultDatabaseAddr, err)
	}
	p.privatePG = srv
	dbURL := srv.URL(privateDatabase)
	p.Logger.Info("private PostgreSQL started", "url", dbURL, "dir", srv.Dir(), "log", filepath.Join(srv.Dir(), "server.log"),
		"programs", srv.BinDir())
	return dbURL, nil
}

// OperatorDatabase is the database the operator commands (migrate, users, keys,
// jobs) use. With YW_DATABASE_URL unset and nothing on the default address, that
// is the private cluster of `api -dev`: it listens on a port chosen when it
// started, so a command finds it through the cluster's own files while it runs,
// and starts it for the command's duration when it does not. release stops what
// was started here.
func OperatorDatabase(ctx context.Context, cfg config.Config, logger *slog.Logger) (url string, release func(), err error) {
	return operatorDatabase(ctx, cfg, logger, answers(defaultDatabaseAddr))
}

func operatorDatabase(ctx context.Context, cfg config.Config, logger *slog.Logger, defaultAnswers bool) (url string, release func(), err error) {
	noop := func() {}
	if cfg.DatabaseURLSet || defaultAnswers {
		return cfg.DatabaseURL, noop, nil
	}
	dir := filepath.Join(cfg.DataDir, "postgres")
	if url, ok := privatepg.RunningURL(dir, privateDatabase); ok {
		logger.Info("using the private PostgreSQL of the running platform", "dir", dir)
		return url, noop, nil
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		return "", nil, fmt.Errorf("nothing answers on %s and there is no private cluster in %s yet: "+
			"start the platform once (`make run`) or set YW_DATABASE_URL", defaultDatabaseAddr, dir)
	}
	srv, err := privatepg.Start(ctx, privatepg.Config{Dir: dir, Download: download(cfg)})
	if err != nil {
		return "", nil, fmt.Errorf("nothing answers on %s and the private PostgreSQL did not start: %w", defaultDatabaseAddr, err)
	}
	logger.Info("private PostgreSQL started for this command", "dir", dir)
	return srv.URL(privateDatabase), func() { _ = srv.Close() }, nil
}

// privateDatabase is the database the platform keeps in its private cluster.
const privateDatabase = "youworker"

// download is where a private server's programs come from when none are installed.
func download(cfg config.Config) *privatepg.Download {
	return &privatepg.Download{CacheDir: filepath.Join(cfg.DataDir, "postgres-binaries"), RepositoryURL: cfg.PostgresRepositoryURL}
}

// answers tells whether something accepts TCP connections on addr. A refused or
// silent port is enough to decide: a server that is merely slow still accepts.
func answers(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// redactedURL hides the password of a database URL for the log.
func redactedURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable]"
	}
	return u.Redacted()
}
