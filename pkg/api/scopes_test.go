package api

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/config"
)

func bareServer(t *testing.T, cfg config.Config) *Server {
	cfg.DataDir = t.TempDir()
	return New(Deps{Config: cfg, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
}

// Every /v1 route names the scope it needs, and every declared scope names a route
// that exists, so the table and the router cannot drift apart.
func TestEveryRouteDeclaresItsScope(t *testing.T) {
	t.Parallel()
	served := map[string]bool{}
	var missing []string
	for _, r := range bareServer(t, config.Config{}).Routes() {
		if r.Method == echo.RouteNotFound || !strings.HasPrefix(r.Path, "/v1/") || r.Path == "/v1/openapi.json" {
			continue
		}
		route := r.Method + " " + r.Path
		served[route] = true
		if _, ok := RouteScope(r.Method, r.Path); !ok {
			missing = append(missing, route)
		}
	}
	require.Empty(t, missing, "routes without a scope: declare each in routeScopes (pkg/api/scopes.go)")
	for route := range routeScopes {
		require.True(t, served[route], "routeScopes declares %s, which the server does not serve", route)
	}
}

// The deployment's allow-list refuses other addresses before authentication: no key
// is looked up (the server here has no user service at all, so a lookup would
// panic), and the health probes stay open.
func TestAllowlistRefusesBeforeAuthentication(t *testing.T) {
	t.Parallel()
	_, allowed, err := net.ParseCIDR("203.0.113.0/24")
	require.NoError(t, err)
	_, proxy, err := net.ParseCIDR("10.0.0.1/32")
	require.NoError(t, err)
	s := bareServer(t, config.Config{IPAllowlist: []*net.IPNet{allowed}, TrustedProxies: []*net.IPNet{proxy}})
	send := func(path, peer, xff string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = peer + ":4242"
		req.Header.Set("Authorization", "Bearer yw_not-a-key-but-long-enough-to-look-up")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	for _, c := range []struct {
		name, peer, xff string
	}{
		{"a stranger", "198.51.100.7", ""},
		{"a stranger claiming an allowed address to an untrusted peer", "198.51.100.7", "203.0.113.5"},
		{"a stranger behind the trusted proxy", "10.0.0.1", "198.51.100.7"},
		{"a stranger who prepends an allowed address behind the trusted proxy", "10.0.0.1", "203.0.113.5, 198.51.100.7"},
		{"the trusted proxy itself with nothing forwarded", "10.0.0.1", ""},
	} {
		rec := send("/v1/me", c.peer, c.xff)
		require.Equal(t, http.StatusForbidden, rec.Code, c.name)
		require.Contains(t, rec.Body.String(), `"code":"address_denied"`, c.name)
		require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	}
	require.Equal(t, http.StatusOK, send("/healthz", "198.51.100.7", "").Code, "health probes are not refused")
	require.Equal(t, http.StatusForbidden, send("/", "198.51.100.7", "").Code, "the web UI is refused too")
	require.Equal(t, http.StatusOK, send("/", "203.0.113.5", "").Code, "an allowed peer is served")
	require.Equal(t, http.StatusOK, send("/", "10.0.0.1", "203.0.113.5").Code, "an allowed client behind the trusted proxy is served")
	require.Equal(t, http.StatusOK, send("/", "10.0.0.1", "198.51.100.7, 203.0.113.5").Code,
		"the right-most address the trusted proxy did not add is the client")
}
