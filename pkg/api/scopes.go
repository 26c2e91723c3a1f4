package api

import (
	"net"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/service"
)

// routeScopes is the capability every /v1 route needs, in one place: a key created
// with scopes reaches a route only when it has the route's scope (ScopeNone: any
// key). A /v1 route missing here is refused to every key with scopes, and
// TestEveryRouteDeclaresItsScope fails for it.
//
// Groups decide who sees documents, so reading them is documents:read and changing
// them (memberships, invitations) documents:write.
var routeScopes = map[string]access.Scope{
	"GET /v1/me":                          access.ScopeNone,
	"GET /v1/status":                      access.ScopeNone,
	"GET /v1/me/keys":                     access.ScopeNone,
	"POST /v1/me/keys":                    access.ScopeNone, // a new key never gets more than the key that made it
	"DELETE /v1/me/keys/:id":              access.ScopeNone,
	"GET /v1/me/usage":                    access.ScopeNone,
	"GET /v1/me/invitations":              access.ScopeDocumentsRead,
	"GET /v1/me/export":                   access.ScopeFull, // everything of the account, whatever a key was limited to
	"DELETE /v1/me":                       access.ScopeFull,
	"DELETE /v1/me/chat/sessions":         access.ScopeChat,
	"POST /v1/me/invitations/:id/accept":  access.ScopeDocumentsWrite,
	"POST /v1/me/invitations/:id/decline": access.ScopeDocumentsWrite,

	"POST /v1/groups":                        access.ScopeDocumentsWrite,
	"GET /v1/groups":                         access.ScopeDocumentsRead,
	"GET /v1/groups/:id":                     access.ScopeDocumentsRead,
	"PATCH /v1/groups/:id":                   access.ScopeDocumentsWrite,
	"DELETE /v1/groups/:id":                  access.ScopeDocumentsWrite,
	"POST /v1/groups/:id/members":            access.ScopeDocumentsWrite,
	"PATCH /v1/groups/:id/members/:user_id":  access.ScopeDocumentsWrite,
	"DELETE /v1/groups/:id/members/:user_id": access.ScopeDocumentsWrite,
	"GET /v1/groups/:id/invitations":         access.ScopeDocumentsRead,
	"DELETE /v1/groups/:id/invitations/:inv": access.ScopeDocumentsWrite,

	"POST /v1/documents":             access.ScopeDocumentsWrite,
	"GET /v1/documents":              access.ScopeDocumentsRead,
	"GET /v1/documents/:id":          access.ScopeDocumentsRead,
	"GET /v1/documents/:id/content":  access.ScopeDocumentsRead,
	"PATCH /v1/documents/:id":        access.ScopeDocumentsWrite,
	"DELETE /v1/documents/:id":       access.ScopeDocumentsWrite,
	"POST /v1/documents/:id/retry":   access.ScopeDocumentsWrite,
	"POST /v1/documents/:id/refetch": access.ScopeDocumentsWrite,
	"POST /v1/search":                access.ScopeDocumentsRead,

	"POST /v1/chat/sessions":              access.ScopeChat,
	"GET /v1/chat/sessions":               access.ScopeChat,
	"GET /v1/chat/sessions/:id":           access.ScopeChat,
	"PATCH /v1/chat/sessions/:id":         access.ScopeChat,
	"DELETE /v1/chat/sessions/:id":        access.ScopeChat,
	"POST /v1/chat/sessions/:id/messages": access.ScopeChat,
	"GET /v1/chat/turns/:id":              access.ScopeChat,
	"GET /v1/chat/turns/:id/events":       access.ScopeChat,
	"POST /v1/chat/turns/:id/cancel":      access.ScopeChat,
	"POST /v1/chat/send":                  access.ScopeChat,
	"GET /v1/chat/search":                 access.ScopeChat,
	"POST /v1/chat/turns/:id/feedback":    access.ScopeChat,
	"GET /v1/chat/sessions/:id/export":    access.ScopeChat,
	"GET /v1/models":                      access.ScopeChat,
	"GET /v1/tools":                       access.ScopeChat,

	"POST /v1/admin/users":                     access.ScopeAdmin,
	"GET /v1/admin/users":                      access.ScopeAdmin,
	"DELETE /v1/admin/users/:id":               access.ScopeAdmin,
	"PATCH /v1/admin/users/:id":                access.ScopeAdmin,
	"GET /v1/admin/users/:id/keys":             access.ScopeAdmin,
	"DELETE /v1/admin/users/:id/keys/:key_id":  access.ScopeAdmin,
	"GET /v1/admin/audit":                      access.ScopeAdmin,
	"GET /v1/admin/analytics":                  access.ScopeAdmin,
	"GET /v1/admin/users/:id/export":           access.ScopeFull, // another user's private documents: an unlimited admin key only
	"DELETE /v1/admin/users/:id/chat/sessions": access.ScopeAdmin,
	"POST /v1/admin/reindex":                   access.ScopeAdmin,
	"GET /v1/admin/reindex":                    access.ScopeAdmin,
	"GET /v1/admin/reindex/:id":                access.ScopeAdmin,
	"POST /v1/admin/reindex/:id/cancel":        access.ScopeAdmin,
	"GET /v1/admin/mcp/servers":                access.ScopeAdmin,
}

// RouteScope returns the scope a route needs, by method and route pattern as the
// router names it ("GET /v1/documents/:id"); ok is false for a route that declares
// none.
func RouteScope(method, path string) (scope access.Scope, ok bool) {
	scope, ok = routeScopes[method+" "+path]
	return scope, ok
}

// requireScope refuses, with 403 scope_denied, a request whose key lacks the scope
// of its route; it runs right after authentication, before any handler.
func (s *Server) requireScope(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := principal(c)
		scope, ok := RouteScope(c.Request().Method, c.Path())
		if !ok {
			// A key without scopes may do all its user may; a path no route
			// matches gets its 404.
			if p.Scopes() == nil || strings.HasSuffix(c.Path(), "/*") {
				return next(c)
			}
			return service.Errorf(service.CodeScopeDenied, "this route declares no scope, so no key limited to scopes may use it")
		}
		if access.RequireScope(p, scope) != nil {
			return service.Errorf(service.CodeScopeDenied, "this API key lacks the %s scope this request needs", scope)
		}
		return next(c)
	}
}

// allowAddress refuses requests from client addresses outside the deployment's
// allow-list (YW_IP_ALLOWLIST) with 403, before any authentication work. The client
// address is the one the trusted-proxy rule decides (Echo's IPExtractor). Health
// probes stay open to the orchestrator.
func (s *Server) allowAddress(allowed []*net.IPNet) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if len(allowed) == 0 {
			return next
		}
		return func(c echo.Context) error {
			switch c.Request().URL.Path {
			case "/healthz", "/readyz":
				return next(c)
			}
			ip := net.ParseIP(c.RealIP())
			if ip == nil || !slices.ContainsFunc(allowed, func(n *net.IPNet) bool { return n.Contains(ip) }) {
				return &service.Error{Code: service.CodeAddressDenied, Message: "this service does not answer requests from your address"}
			}
			return next(c)
		}
	}
}
