// Package qdrantlite is an embedded, Qdrant-compatible vector store. It
// serves the subset of Qdrant's gRPC API that the vector adapter uses, with
// Qdrant's semantics (filters, distances, aliases, scroll order), so the one
// adapter built on the official go-client runs unchanged against it in
// development and tests, and against a real Qdrant in production.
//
// A collection holds one unnamed dense vector per point and any number of
// named sparse vectors (optionally with the idf modifier), searched exactly;
// the Query API combines them with prefetches and RRF or DBSF fusion.
//
// Filters follow Qdrant's source (lib/segment json_path and
// payload_storage): key paths reach into arrays only through "[]", a nested
// filter tries array elements only, the clauses of one field condition are
// alternatives (as Qdrant's payload checker has them; Qdrant's keyword and
// integer index checkers look at the match clause alone, an inconsistency
// not copied here: indexes never change a result, but for full-text), and a
// full-text index makes text matches compare words. The
// parity suite in pkg/vector/vectortest pins this against cases from
// Qdrant's tests. Known gaps: geo and datetime conditions are refused rather
// than evaluated; of the text index settings only the tokenizer (the
// multilingual one splits like the word one), lowercase and the token length
// bounds are applied; a set-payload key is a plain dotted path (no "[]" or
// index steps).
//
// Data is kept in memory and persisted under Config.Dir as an append-only,
// checksummed operation log per collection that is compacted into a snapshot
// as it grows. Writes with wait=true are durable when the RPC returns.
package qdrantlite

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Version is the Qdrant version whose API this server follows; the health
// check reports it so clients' compatibility checks pass.
const Version = "1.17.0"

// DefaultAddr keeps clear of a real Qdrant (6333/6334) on the same machine.
const DefaultAddr = "127.0.0.1:6344"

// Config configures the embedded server.
type Config struct {
	// Dir holds the data; it is created if missing. Required.
	Dir string
	// Addr is the listen address; "127.0.0.1:0" picks a free port. Empty
	// means DefaultAddr. Only loopback addresses are accepted unless
	// AllowRemote is set, because the server has no TLS.
	Addr string
	// AllowRemote permits a non-loopback Addr.
	AllowRemote bool
	// APIKey, when set, is required in the "api-key" metadata of every call.
	APIKey string
	// CompactBytes is the log size that triggers compaction into a
	// snapshot (a log is also never compacted before it outgrows the last
	// snapshot). Zero means 64 MiB.
	CompactBytes int64
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("qdrantlite: Dir is required"))
	}
	if c.CompactBytes < 0 {
		errs = append(errs, errors.New("qdrantlite: CompactBytes must not be negative"))
	}
	if c.Addr != "" {
		host, _, err := net.SplitHostPort(c.Addr)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("qdrantlite: Addr %q: %w", c.Addr, err))
		case !c.AllowRemote && !isLoopback(host):
			errs = append(errs, fmt.Errorf("qdrantlite: Addr %q is not a loopback address (set AllowRemote to allow it)", c.Addr))
		}
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is a running embedded store. It is safe for concurrent use.
type Server struct {
	qdrant.UnimplementedQdrantServer

	logger *slog.Logger
	eng    *engine
	grpc   *grpc.Server
	lis    net.Listener
	done   chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Start loads the data under cfg.Dir and starts serving gRPC. ctx bounds
// start-up only; the server runs until Close.
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.CompactBytes == 0 {
		cfg.CompactBytes = 64 << 20
	}
	logger = logger.With("component", "qdrantlite")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	eng, err := openEngine(cfg.Dir, cfg.CompactBytes, logger)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("qdrantlite: listen on %s: %w", cfg.Addr, err), eng.closeAll())
	}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(64 << 20),
		grpc.MaxSendMsgSize(64 << 20),
		// Qdrant's go-client pings every 10 s, idle or not. gRPC's default policy
		// allows one ping in 5 minutes and answers the third early one with a
		// GOAWAY ("too_many_pings"), which cut every program's connection every
		// half minute (seen in the chaos harness's logs). Qdrant accepts them.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}
	if cfg.APIKey != "" {
		opts = append(opts, grpc.UnaryInterceptor(apiKeyInterceptor(cfg.APIKey)))
	}
	s := &Server{logger: logger, eng: eng, grpc: grpc.NewServer(opts...), lis: lis, done: make(chan struct{})}
	qdrant.RegisterQdrantServer(s.grpc, s)
	qdrant.RegisterCollectionsServer(s.grpc, &collectionsService{eng: eng})
	qdrant.RegisterPointsServer(s.grpc, &pointsService{eng: eng})
	go func() {
		defer close(s.done)
		if err := s.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			logger.Error("serve failed", "error", err)
		}
	}()
	logger.Info("embedded vector store listening", "addr", lis.Addr().String(), "collections", len(eng.colls))
	return s, nil
}

func apiKeyInterceptor(key string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		for _, v := range md.Get("api-key") {
			if subtle.ConstantTimeCompare([]byte(v), []byte(key)) == 1 {
				return handler(ctx, req)
			}
		}
		return nil, status.Error(codes.PermissionDenied, "Invalid api-key")
	}
}

// Addr returns the address the server listens on, e.g. "127.0.0.1:40123".
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Close stops accepting calls, lets running calls finish (for up to ten
// seconds), then flushes and closes every log. It is safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		stopped := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(stopped)
		}()
		timer := time.NewTimer(10 * time.Second)
		select {
		case <-stopped:
		case <-timer.C:
			s.grpc.Stop()
			<-stopped
		}
		timer.Stop()
		<-s.done
		s.closeErr = s.eng.closeAll()
		s.logger.Info("embedded vector store stopped")
	})
	return s.closeErr
}

// HealthCheck implements qdrant.QdrantServer.
func (s *Server) HealthCheck(context.Context, *qdrant.HealthCheckRequest) (*qdrant.HealthCheckReply, error) {
	return &qdrant.HealthCheckReply{Title: "qdrantlite - embedded Qdrant-compatible vector store", Version: Version}, nil
}
