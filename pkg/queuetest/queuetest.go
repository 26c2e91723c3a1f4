// Package queuetest starts a real, embedded JetStream server per test, with
// the streams, consumers and bucket declared by queue.Setup (the code
// production runs), so tests exercise the real delivery semantics. Only
// tests import it.
package queuetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/queue"
)

// Server is a running embedded server with a connection to it.
type Server struct {
	// URL is the client URL, for code that connects on its own.
	URL string
	// Conn is a connection owned by the Server; it is closed at cleanup.
	Conn *nats.Conn
	// JS is a JetStream handle on Conn.
	JS jetstream.JetStream
	// Config is the queue configuration the resources were declared with.
	Config queue.Config
	// Embedded is the server itself.
	Embedded *queue.Embedded
}

// Option adjusts the queue configuration of a test server, e.g. a short
// AckWait to exercise redelivery quickly.
type Option func(*queue.Config)

// WithConfig returns an Option that applies fn to the configuration.
func WithConfig(fn func(*queue.Config)) Option {
	return Option(fn)
}

// Start runs an embedded server with its store in t.TempDir(), connects to it
// and declares the resources with queue.Setup. Everything is torn down by
// t.Cleanup, connection before server.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var cfg queue.Config
	for _, o := range opts {
		o(&cfg)
	}
	cfg = cfg.WithDefaults()

	e, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(e.Shutdown)

	nc, err := nats.Connect(e.ClientURL(), nats.Name(t.Name()), nats.MaxReconnects(0))
	require.NoError(t, err)
	t.Cleanup(nc.Close)

	js, err := jetstream.New(nc)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, queue.Setup(ctx, js, cfg))

	return &Server{URL: e.ClientURL(), Conn: nc, JS: js, Config: cfg, Embedded: e}
}

// Connect opens another connection to the server, closed at cleanup, for
// tests that need a second client (another replica, a producer).
func (s *Server) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.URL, nats.Name(t.Name()), nats.MaxReconnects(0))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return nc, js
}

// StartWithConfig runs an embedded nats-server with JetStream on a free
// loopback port, configured by conf: the text of a nats-server configuration
// file (natsperm's authorization block, a tls block) to which the listener and
// the JetStream store are added. Nothing is declared: connect as a user that may
// declare and call queue.Setup. It returns the client URL; the server stops at
// cleanup.
func StartWithConfig(t testing.TB, conf string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "nats.conf")
	full := fmt.Sprintf("listen: \"127.0.0.1:-1\"\njetstream { store_dir: %q }\n%s\n", filepath.Join(dir, "js"), conf)
	require.NoError(t, os.WriteFile(path, []byte(full), 0o600))
	opts, err := server.ProcessConfigFile(path)
	require.NoError(t, err, "nats-server configuration:\n%s", full)
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	require.NoError(t, err)
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	require.True(t, srv.ReadyForConnections(10*time.Second), "nats-server did not start")
	return srv.ClientURL()
}
