package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/logging/logtest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
)

const proxySecret = "proxy-shared-secret-0123456789"

// proxyServer is a Server with sign-in by proxy headers from 10.0.0.0/8 and
// 127.0.0.1, on a fresh database.
func proxyServer(t *testing.T) (*Server, *logtest.Buffer, *store.Store) {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	logs := &logtest.Buffer{}
	logger := logging.New(logs, -8, "json")
	audit := service.NewAuditor(st, logger)
	cfg, err := config.Load(func(k string) string {
		return map[string]string{
			"YW_PROXY_AUTH_TRUSTED": "10.0.0.0/8, 127.0.0.1", "YW_PROXY_AUTH_SECRET": proxySecret,
			"YW_PROXY_AUTH_GROUPS_HEADER": "X-Forwarded-Groups", "YW_PROXY_AUTH_GROUPS_SEPARATOR": "|",
			"YW_PROXY_AUTH_SIGN_OUT_URL": "/oauth2/sign_out",
			// Forwarded-for is believed from 192.0.2.0/24, which is not a sign-in proxy.
			"YW_TRUSTED_PROXIES": "192.0.2.0/24", "YW_DATA_DIR": t.TempDir(),
		}[k]
	})
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	srv := New(Deps{Config: cfg, Logger: logger, Registry: prometheus.NewRegistry(), Audit: audit, WebSessions: st,
		Users:      service.NewUsers(st, audit, nil, logger),
		Identities: service.NewIdentities(st, audit, service.IdentityConfig{}, logger)})
	return srv, logs, st
}

// proxied is a request as the proxy forwards it for user, from peer.
func proxied(method, path, peer, user, secret string) *http.Request {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = net.JoinHostPort(peer, "41000")
	req.Header.Set("X-Forwarded-User", user)
	req.Header.Set("X-Forwarded-Email", user+"@corp.example")
	req.Header.Set("X-Forwarded-Groups", "ops|research")
	if secret != "" {
		req.Header.Set("X-Proxy-Secret", secret)
	}
	return req
}

func serve(s *Server, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func TestProxyHeadersCountOnlyFromATrustedPeerWithTheSecret(t *testing.T) {
	t.Parallel()
	srv, logs, _ := proxyServer(t)

	rec := serve(srv, proxied("GET", "/v1/me", "10.1.2.3", "carol", proxySecret))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var me service.Me
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &me))
	require.Equal(t, "carol", me.Name, "provisioned just in time")
	var groups []string
	for _, g := range me.Groups {
		groups = append(groups, g.Name)
	}
	require.ElementsMatch(t, []string{"ops", "research"}, groups, "groups synced from the header")

	spoofed := func() *http.Request {
		// A client claiming to come through the forwarded-for chain from a proxy address.
		req := proxied("GET", "/v1/me", "192.0.2.9", "carol", proxySecret)
		req.Header.Set("X-Forwarded-For", "10.1.2.3")
		return req
	}
	for name, req := range map[string]*http.Request{
		"untrusted peer with the secret":   proxied("GET", "/v1/me", "203.0.113.7", "carol", proxySecret),
		"trusted peer without the secret":  proxied("GET", "/v1/me", "10.1.2.3", "carol", ""),
		"trusted peer with a wrong secret": proxied("GET", "/v1/me", "10.1.2.3", "carol", proxySecret[:len(proxySecret)-1]+"X"),
		"forwarded-for is not the peer":    spoofed(),
		"IPv6 peer outside the list":       proxied("GET", "/v1/me", "2001:db8::1", "carol", proxySecret),
	} {
		rec := serve(srv, req)
		require.Equal(t, http.StatusUnauthorized, rec.Code, "%s: %s", name, rec.Body.String())
	}
	out := logs.String()
	require.Contains(t, out, "sign-in proxy headers ignored")
	require.Contains(t, out, "the request does not come from a trusted proxy address")
	require.Contains(t, out, "the shared secret header is missing or wrong")
	require.NotContains(t, out, proxySecret[:12], "the secret never reaches the log")

	// Without a user header the proxy names nobody.
	req := proxied("GET", "/v1/me", "10.1.2.3", "", proxySecret)
	require.Equal(t, http.StatusUnauthorized, serve(srv, req).Code)
}

func TestProxyWritesNeedThePagesSession(t *testing.T) {
	t.Parallel()
	srv, _, st := proxyServer(t)
	const peer = "127.0.0.1"

	// A write with nothing but the proxy's headers is what a cross-site form would send.
	rec := serve(srv, proxied("POST", "/v1/me/keys", peer, "dave", proxySecret))
	require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())

	// The page asks for its session: the proxy's user gets one, without an API key.
	rec = serve(srv, proxied("GET", "/ui/session", peer, "dave", proxySecret))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var view webSessionView
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &view))
	require.Equal(t, "dave", view.Me.Name)
	require.Equal(t, methodProxy, view.Method)
	require.NotNil(t, view.SignOutURL)
	require.Equal(t, "/oauth2/sign_out", *view.SignOutURL)
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 1)
	keys, err := st.ListKeys(context.Background(), view.Me.ID)
	require.NoError(t, err)
	require.Empty(t, keys, "a proxy session mints no API key")

	write := func(user, token string) *httptest.ResponseRecorder {
		req := proxied("POST", "/v1/me/keys", peer, user, proxySecret)
		req.AddCookie(cookies[0])
		req.Header.Set(HeaderCSRF, token)
		return serve(srv, req)
	}
	require.Equal(t, http.StatusForbidden, write("dave", "wrong").Code)
	require.Equal(t, http.StatusCreated, write("dave", view.CSRFToken).Code)
	// Another person at the proxy in the same browser cannot use dave's session.
	require.Equal(t, http.StatusForbidden, write("erin", view.CSRFToken).Code)

	// The same browser asking again keeps its session.
	req := proxied("GET", "/ui/session", peer, "dave", proxySecret)
	req.AddCookie(cookies[0])
	rec = serve(srv, req)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Empty(t, rec.Result().Cookies(), "no new session while the old one lasts")
	require.Contains(t, rec.Body.String(), view.CSRFToken)

	// Another person at the proxy gets their own session in place of dave's.
	req = proxied("GET", "/ui/session", peer, "erin", proxySecret)
	req.AddCookie(cookies[0])
	rec = serve(srv, req)
	require.Equal(t, http.StatusOK, rec.Code)
	require.True(t, strings.Contains(rec.Body.String(), `"name":"erin"`), rec.Body.String())
	require.Len(t, rec.Result().Cookies(), 1)
}
