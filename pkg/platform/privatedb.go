package platform

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"time"

	"github.com/youworker/youworker/pkg/postgres/privatepg"
)

// defaultDatabaseAddr is where DefaultDatabaseURL points.
const defaultDatabaseAddr = "127.0.0.1:5432"

// devDatabaseURL is the database -dev uses: the configured one, or — when
// YW_DATABASE_URL is unset and nothing listens on the default address — a private
// PostgreSQL kept under YW_DATA_DIR/postgres, so `make run` works on a machine where
// PostgreSQL is installed but not running.
func (p *Platform) devDatabaseURL(ctx context.Context) (string, error) {
	if p.Config.DatabaseURLSet || answers(defaultDatabaseAddr) {
		p.Logger.Info("using PostgreSQL", "url", redactedURL(p.Config.DatabaseURL))
		return p.Config.DatabaseURL, nil
	}
	dir := filepath.Join(p.Config.DataDir, "postgres")
	p.Logger.Info("no PostgreSQL answers on the default address; starting a private one",
		"default_addr", defaultDatabaseAddr, "dir", dir)
	srv, err := privatepg.Start(ctx, privatepg.Config{Dir: dir})
	if err != nil {
		return "", fmt.Errorf("nothing answers on %s and the private PostgreSQL did not start: %w", defaultDatabaseAddr, err)
	}
	p.privatePG = srv
	dbURL := srv.URL("youworker")
	p.Logger.Info("private PostgreSQL started", "url", dbURL, "dir", srv.Dir(), "log", filepath.Join(srv.Dir(), "server.log"))
	return dbURL, nil
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
