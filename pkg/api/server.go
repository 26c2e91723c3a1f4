// Package api is the HTTP face of YouWorker: Echo handlers that bind, authenticate and
// call the services, plus the middleware every request passes through.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/probe"
	"github.com/youworker/youworker/pkg/routestats"
	"github.com/youworker/youworker/pkg/service"
)

// Deps are what the HTTP layer calls into.
type Deps struct {
	Config    config.Config
	Logger    *slog.Logger
	Registry  *prometheus.Registry
	Users     *service.Users
	Audit     *service.Auditor
	Groups    *service.Groups
	Documents *service.Documents
	Search    *service.Search
	Reindex   *service.Reindex
	Chat      *service.Chat
	Analytics *service.Analytics
	Data      *service.DataRights
	// Models are the chat models users may choose (GET /v1/models).
	Models *service.Models
	// Tools lists the tools of chat and the MCP servers (GET /v1/tools); nil
	// lists none.
	Tools ToolCatalog
	// Checks are the readiness probes by name: postgres, nats, vectors. Models and
	// MCP servers are never among them: they degrade answers, reported by Status.
	Checks map[string]probe.Check
	// Status serves /v1/status.
	Status *Status
	// WebSessions records web UI sign-ins server-side, so signing out ends them on
	// every replica.
	WebSessions WebSessions
	// Identities signs in people through the identity provider (OIDC or a trusted
	// proxy) and opens their sessions; nil when neither is used.
	Identities *service.Identities
	// TracerProvider records a span per request; nil records nothing.
	TracerProvider trace.TracerProvider
	// RouteStats counts requests per route for the usage analytics; nil counts
	// nothing.
	RouteStats *routestats.Recorder
}

// Server is the HTTP server with its readiness state.
type Server struct {
	echo    *echo.Echo
	deps    Deps
	logger  *slog.Logger
	limiter *rateLimiter
	// authFailures is the bucket of failed sign-ins per client address; when it is
	// empty, keys from that address are refused before they are looked up.
	authFailures *rateLimiter
	streams      *streamLimiter
	webSessions  WebSessions
	// oidc is the relying party of the OpenID provider (nil when not configured);
	// proxy is the state of sign-in by a trusted proxy's headers.
	oidc    *oidcClient
	proxy   *proxyAuth
	limits  httpLimits
	ready   atomic.Bool
	metrics *httpMetrics
	// routeLabels is the closed set of route templates metrics may name.
	routeLabels map[string]struct{}
	// openapiDoc is the merged contract, built once at start-up.
	openapiDoc []byte
	// closing is closed when shutdown begins, so long-lived streams end and clients
	// reconnect (with Last-Event-ID) to another replica.
	closing chan struct{}
	// keepAlive paces the pings of every open event stream.
	keepAlive *keepAlive
}

// New builds the server and its routes.
func New(deps Deps) *Server {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s := &Server{echo: e, deps: deps, logger: deps.Logger.With("component", "http"),
		limiter: newRateLimiter(deps.Config.RateLimitRPS, deps.Config.RateLimitBurst),
		metrics: newHTTPMetrics(deps.Registry), closing: make(chan struct{}),
		keepAlive: newKeepAlive(pingEvery)}
	s.limits = limitsOf(deps.Config)
	s.authFailures = newRateLimiter(orDefault(deps.Config.AuthFailureRPS, 0.5), orDefault(deps.Config.AuthFailureBurst, 30))
	s.streams = newStreamLimiter(orDefault(deps.Config.MaxStreamsPerUser, 16))
	s.webSessions = deps.WebSessions
	s.oidc, s.proxy = newOIDCClient(deps.Config.OIDC), newProxyAuth()
	doc, err := OpenAPI()
	if err != nil {
		panic("openapi fragments do not merge: " + err.Error()) // a build defect, caught by every test
	}
	s.openapiDoc = doc
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = ipExtractor(deps.Config.TrustedProxies)
	e.Use(s.correlation, s.recoverPanics, s.trace, s.observe, s.allowAddress(deps.Config.IPAllowlist),
		s.deadlines, s.securityHeaders, s.cors, s.bodyLimit)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metricsHandler())
	e.GET("/v1/openapi.json", s.openapi)
	s.mountWeb(e)

	v1 := e.Group("/v1", s.authenticate, s.requireScope, s.rateLimit)
	v1.GET("/me", s.getMe)
	v1.GET("/status", s.getStatus)
	v1.GET("/me/keys", s.listKeys)
	v1.POST("/me/keys", s.createKey)
	v1.DELETE("/me/keys/:id", s.revokeKey)
	admin := v1.Group("/admin", s.requireAdmin)
	admin.POST("/users", s.createUser)
	admin.GET("/users", s.listUsers)
	admin.DELETE("/users/:id", s.deleteUser)
	admin.PATCH("/users/:id", s.patchUser)
	s.mountGroups(v1)
	s.mountDocuments(v1)
	s.mountChat(v1)
	s.mountAudit(admin)
	s.mountReindex(admin)
	s.mountAnalytics(v1, admin)
	s.mountDataRights(v1, admin)
	s.mountCatalog(v1, admin)
	s.routeLabels = collectRouteLabels(e)
	s.ready.Store(true)
	return s
}

// orDefault is v, or def when v is unset (a configuration built without Load).
func orDefault[T int | float64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Handler is the server as an http.Handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.echo }

// Serve serves on l until ctx ends, then shuts down gracefully: readiness turns 503
// first so load balancers stop sending, then in-flight requests get the timeout.
func (s *Server) Serve(ctx context.Context, l net.Listener, timeout time.Duration) error {
	srv := &http.Server{Handler: s.echo,
		ReadHeaderTimeout: s.limits.readHeader,
		// No whole-request read or write timeout: the deadlines middleware sets them
		// per request, so uploads get longer to arrive and streams are not cut.
		ReadTimeout: 0, WriteTimeout: 0,
		IdleTimeout:    s.limits.idle,
		MaxHeaderBytes: s.limits.maxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	close(s.closing)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close() // long streams are cut; clients resume with Last-Event-ID
	}
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) && serveErr != nil {
		return serveErr
	}
	return err
}

func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// Routes lists every route the server answers, for tests that must cover them all.
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }
