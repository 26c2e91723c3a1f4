// Package apiserver puts the HTTP API on an opened app: the services it calls, the
// readiness checks of the platform and the /v1/status probes of the chat model, the
// embedder and the MCP servers. It stands apart from package app so the worker
// programs, which serve only probes, carry neither the API nor the web UI.
package apiserver

import (
	"context"
	"net"
	"time"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/api"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/platform"
	"github.com/youworker/youworker/pkg/routestats"
)

// Server is the HTTP API of one app.
type Server struct {
	api        *api.Server
	status     platform.StatusProbes
	app        *app.App
	routeStats *routestats.Recorder
}

// routeStatsInterval is how often the API adds its route counts to PostgreSQL: the
// analytics are at most this late, and a crash loses at most this much.
const routeStatsInterval = 30 * time.Second

// New builds the API on a's services.
func New(a *app.App) (*Server, error) {
	status, err := a.Platform.StatusProbes()
	if err != nil {
		return nil, err
	}
	s := a.Services
	routeStats := routestats.New(a.Platform.Store, a.Logger)
	srv := api.New(api.Deps{
		Config: a.Config, Logger: a.Logger, Registry: a.Platform.Registry,
		Users: s.Users, Audit: s.Audit, Documents: s.Documents, Search: s.Search, Groups: s.Groups,
		Reindex: s.Reindex, Chat: s.Chat, Analytics: s.Analytics, Data: s.Data, WebSessions: a.Platform.Store, Identities: s.Identities,
		Models: s.Models, Tools: toolCatalog{a},
		Checks: a.Platform.Checks(), TracerProvider: a.Tracing,
		Status:     api.NewStatus(statusProbes(status), api.StatusConfig{}),
		RouteStats: routeStats,
	})
	return &Server{api: srv, status: status, app: a, routeStats: routeStats}, nil
}

// Serve serves l until ctx ends, then shuts down within the configured budget;
// the route counts of the last requests are saved before it returns.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	statsCtx, stopStats := context.WithCancel(context.WithoutCancel(ctx))
	statsDone := make(chan struct{})
	go func() {
		defer close(statsDone)
		s.routeStats.Run(statsCtx, routeStatsInterval)
	}()
	err := s.api.Serve(ctx, l, s.app.Config.ShutdownTimeout)
	stopStats()
	<-statsDone
	return err
}

// Close releases the connections the status probes keep; call it after Serve.
func (s *Server) Close() { s.status.Close() }

// toolCatalog lists the tools chat turns are offered — the toolset the chat
// consumer builds — and the process's MCP servers. Looking at them refreshes
// the servers' tool lists in the background once they are older than
// catalogFreshness, so a server that went down shows by the next look rather
// than at the next periodic refresh.
type toolCatalog struct{ app *app.App }

// catalogFreshness is how old the tool lists shown may be before a look
// refreshes them.
const catalogFreshness = 10 * time.Second

func (c toolCatalog) Tools(context.Context) ([]agent.ToolInfo, error) {
	ts, err := c.app.Toolset()
	if err != nil {
		return nil, err
	}
	if m, _ := c.app.MCP(); m != nil {
		m.RefreshIfOlder(catalogFreshness)
	}
	return ts.Describe(), nil
}

func (c toolCatalog) MCPServers(context.Context) ([]agent.MCPServerStatus, error) {
	m, err := c.app.MCP()
	if m == nil || err != nil {
		return nil, err
	}
	m.RefreshIfOlder(catalogFreshness)
	return m.Status(), nil
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
