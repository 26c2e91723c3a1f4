package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig configures an in-process NATS server.
type EmbeddedConfig struct {
	// Dir is where JetStream keeps its files. Required: jobs and uploads
	// must survive a restart of "api -dev".
	Dir string
	// Host to listen on; defaults to 127.0.0.1. The embedded server has no
	// authentication, so it must stay on loopback.
	Host string
	// Port to listen on; 0 picks a free port, so it never collides with a
	// real NATS on 4222.
	Port int
	// Logger receives the server's own logs; nil keeps the server silent.
	Logger *slog.Logger
	// StartTimeout bounds the wait for the server to accept connections;
	// defaults to 10s.
	StartTimeout time.Duration
}

// Embedded is a running in-process NATS server with JetStream.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a NATS server with JetStream in the calling process
// and waits until it accepts connections. It is the real nats-server, so
// everything that works against it works against a production cluster
// (with Replicas 1). Call Shutdown to stop it.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Dir == "" {
		return nil, errors.New("embedded nats: store dir is required")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if ip := net.ParseIP(cfg.Host); cfg.Host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("embedded nats: host %q is not a loopback address; the embedded server has no authentication", cfg.Host)
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 10 * time.Second
	}
	port := cfg.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "youworker-embedded",
		Host:       cfg.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.Dir,
		NoSigs:     true,
		NoLog:      cfg.Logger == nil,
		// No HTTP monitoring, cluster, gateway or leafnode listeners: one
		// loopback client port is all a development setup needs.
		HTTPPort: 0,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if cfg.Logger != nil {
		srv.SetLoggerV2(&serverLogger{log: cfg.Logger.With("component", "nats-server")}, false, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(cfg.StartTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: not ready after %s", cfg.StartTimeout)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("embedded nats: jetstream did not start")
	}
	return &Embedded{srv: srv}, nil
}

// ClientURL is the URL clients connect to, e.g. nats://127.0.0.1:41234.
func (e *Embedded) ClientURL() string {
	return e.srv.ClientURL()
}

// MaxStore is how many bytes of file storage JetStream may use on this server
// (by default three quarters of the free disk space when it started). Stream
// caps are reserved against it, so the caps of all streams must fit.
func (e *Embedded) MaxStore() int64 {
	if cfg := e.srv.JetStreamConfig(); cfg != nil {
		return cfg.MaxStore
	}
	return 0
}

// Shutdown stops the server and waits until it has stopped, flushing
// JetStream's files. Clients should be closed or drained first.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// serverLogger adapts nats-server's printf logger to slog.
type serverLogger struct {
	log *slog.Logger
}

func (l *serverLogger) Noticef(format string, v ...any) { l.log.Info(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
