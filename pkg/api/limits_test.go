package api

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/apikey"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/logging/logtest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
)

// keyLookups counts the queries that look API keys up.
type keyLookups struct{ n atomic.Int64 }

func (k *keyLookups) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.Contains(data.SQL, "FROM api_keys k JOIN users") {
		k.n.Add(1)
	}
	return ctx
}

func (k *keyLookups) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// testServer is a Server on a real, fresh database whose key lookups are counted.
type testServer struct {
	srv     *Server
	users   *service.Users
	lookups *keyLookups
	logs    *logtest.Buffer
}

func newTestServer(t *testing.T, cfg config.Config) *testServer {
	t.Helper()
	_, url := pgtest.NewDB(t)
	pcfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	lookups := &keyLookups{}
	pcfg.ConnConfig.Tracer = lookups
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	st := store.New(pool)
	logs := &logtest.Buffer{}
	logger := logging.New(logs, -8, "json")
	audit := service.NewAuditor(st, logger)
	users := service.NewUsers(st, audit, nil, logger)
	cfg.DataDir = t.TempDir()
	cfg.MaxBodyBytes = 1 << 20
	srv := New(Deps{Config: cfg, Logger: logger, Registry: prometheus.NewRegistry(), Users: users, Audit: audit, WebSessions: st})
	return &testServer{srv: srv, users: users, lookups: lookups, logs: logs}
}

func (ts *testServer) newUser(t *testing.T, name string) string {
	t.Helper()
	_, key, err := ts.users.Create(context.Background(), access.System, name, false)
	require.NoError(t, err)
	return key.Secret
}

// do serves one request from the client address ip.
func (ts *testServer) do(req *http.Request, ip string) *httptest.ResponseRecorder {
	req.RemoteAddr = net.JoinHostPort(ip, "40000")
	rec := httptest.NewRecorder()
	ts.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func withKey(key string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	return req
}

func signInRequest(key string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/ui/session", strings.NewReader(fmt.Sprintf(`{"key":%q}`, key)))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func problemCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var p Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p), rec.Body.String())
	return p.Code
}

// TestFailedSignInsAreRefusedBeforeTheKeyLookup: once an address has used up its
// failed attempts, its requests are refused with 429 without any key lookup, so a
// flood of made-up keys costs the database nothing; other addresses are unaffected.
func TestFailedSignInsAreRefusedBeforeTheKeyLookup(t *testing.T) {
	t.Parallel()
	const burst = 5
	ts := newTestServer(t, config.Config{RateLimitRPS: 1000, RateLimitBurst: 1000, AuthFailureRPS: 0.001, AuthFailureBurst: burst})
	good := ts.newUser(t, "alice")
	const attacker, neighbour = "192.0.2.1", "192.0.2.2"

	for range burst {
		rec := ts.do(withKey(apikey.Generate()), attacker)
		require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
	}
	require.Equal(t, int64(burst), ts.lookups.n.Load(), "each failure up to the limit was looked up")

	for range 50 {
		rec := ts.do(withKey(apikey.Generate()), attacker)
		require.Equal(t, http.StatusTooManyRequests, rec.Code)
		require.Equal(t, string(service.CodeRateLimited), problemCode(t, rec))
		require.NotEmpty(t, rec.Header().Get("Retry-After"))
	}
	rec := ts.do(withKey(good), attacker)
	require.Equal(t, http.StatusTooManyRequests, rec.Code, "the address waits, whatever key it sends")
	rec = ts.do(signInRequest(apikey.Generate()), attacker)
	require.Equal(t, http.StatusTooManyRequests, rec.Code, "web sign-in shares the limit: %s", rec.Body.String())
	require.Equal(t, int64(burst), ts.lookups.n.Load(), "no lookup once the address is refused")

	rec = ts.do(withKey(good), neighbour)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = ts.do(withKey(apikey.Generate()), neighbour)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, int64(burst+2), ts.lookups.n.Load())
}

func sessionCookieOf(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	cookies := (&http.Response{Header: rec.Header()}).Cookies()
	require.Len(t, cookies, 1, "one session cookie: %v", rec.Header().Values("Set-Cookie"))
	return cookies[0]
}

// TestSessionCookieIsHostPrefixedOverTLS: over TLS, directly or behind a trusted
// proxy, the session cookie is __Host-yw_session (Secure, Path=/, no Domain), and a
// plain yw_session cookie, which anyone on a plain-HTTP path could plant, is not
// accepted there. Over plain HTTP it is the other way round.
func TestSessionCookieIsHostPrefixedOverTLS(t *testing.T) {
	t.Parallel()
	_, proxy, err := net.ParseCIDR("127.0.0.1/32")
	require.NoError(t, err)
	ts := newTestServer(t, config.Config{RateLimitRPS: 1000, RateLimitBurst: 1000, TrustedProxies: []*net.IPNet{proxy}})
	key := ts.newUser(t, "alice")

	overTLS := func(req *http.Request) *http.Request {
		req.TLS = &tls.ConnectionState{}
		return req
	}
	viaProxy := func(req *http.Request) *http.Request {
		req.Header.Set("X-Forwarded-Proto", "https")
		return req
	}
	cases := []struct {
		name   string
		secure func(*http.Request) *http.Request
		from   string
		want   string
	}{
		{"request over TLS", overTLS, "192.0.2.7", sessionCookieTLS},
		{"https at a trusted proxy", viaProxy, "127.0.0.1", sessionCookieTLS},
		{"https claimed by an untrusted peer", viaProxy, "192.0.2.7", sessionCookie},
		{"plain HTTP", func(r *http.Request) *http.Request { return r }, "192.0.2.7", sessionCookie},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := ts.do(tc.secure(signInRequest(key)), tc.from)
			require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
			ck := sessionCookieOf(t, rec)
			require.Equal(t, tc.want, ck.Name)
			require.Equal(t, tc.want == sessionCookieTLS, ck.Secure)
			require.Equal(t, "/", ck.Path)
			require.Empty(t, ck.Domain)
			require.True(t, ck.HttpOnly)

			me := func(name string) int {
				req := tc.secure(httptest.NewRequest(http.MethodGet, "/v1/me", nil))
				req.AddCookie(&http.Cookie{Name: name, Value: ck.Value})
				return ts.do(req, tc.from).Code
			}
			require.Equal(t, http.StatusOK, me(tc.want))
			other := sessionCookie
			if tc.want == sessionCookie {
				other = sessionCookieTLS
			}
			require.Equal(t, http.StatusUnauthorized, me(other), "the cookie under the other name is not accepted")
		})
	}
}

// TestInternalErrorsStayInTheLog: a client sees a stable code and a human message;
// the error text goes only to the log, with the correlation id the client was given.
func TestInternalErrorsStayInTheLog(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, config.Config{RateLimitRPS: 1000, RateLimitBurst: 1000})
	ts.srv.echo.GET("/test/internal", func(echo.Context) error {
		return fmt.Errorf("query users: dial tcp 10.9.8.7:5432: password=hunter2 rejected")
	})
	ts.srv.echo.GET("/test/refused", func(echo.Context) error {
		return echo.NewHTTPError(http.StatusBadRequest, errors.New("strconv.Atoi: parsing \"10.9.8.7\": invalid syntax"))
	})
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{{"/test/internal", http.StatusInternalServerError, "internal"}, {"/test/refused", http.StatusBadRequest, "validation_failed"}} {
		rec := ts.do(httptest.NewRequest(http.MethodGet, tc.path, nil), "192.0.2.1")
		require.Equal(t, tc.status, rec.Code)
		var p Problem
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		require.Equal(t, tc.code, p.Code)
		require.NotEmpty(t, p.Detail)
		require.NotContains(t, rec.Body.String(), "10.9.8.7")
		require.NotContains(t, rec.Body.String(), "hunter2")
		require.Equal(t, rec.Header().Get(logging.HeaderCorrelationID), p.CorrelationID)

		var logged bool
		for _, line := range strings.Split(ts.logs.String(), "\n") {
			if strings.Contains(line, "10.9.8.7") && strings.Contains(line, p.CorrelationID) {
				logged = true
			}
		}
		require.True(t, logged, "the log has the error with the correlation id: %s", ts.logs.String())
	}
}

// TestStreamLimiterHoldsUnderConcurrency: however many streams one user opens at
// once, exactly the limit get a slot; releasing (even twice) gives slots back, and a
// user with nothing open costs no memory.
func TestStreamLimiterHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	const limit, attempts = 16, 200
	l := newStreamLimiter(limit)
	var granted atomic.Int32
	releases := make(chan func(), attempts)
	var wg sync.WaitGroup
	for range attempts {
		wg.Go(func() {
			if release, ok := l.acquire("alice"); ok {
				granted.Add(1)
				releases <- release
			}
		})
	}
	wg.Wait()
	close(releases)
	require.Equal(t, int32(limit), granted.Load())
	require.Equal(t, limit, l.count("alice"))
	_, ok := l.acquire("bob")
	require.True(t, ok, "another user has slots of their own")

	for release := range releases {
		release()
		release() // a second call changes nothing
	}
	require.Equal(t, 0, l.count("alice"))
	l.mu.Lock()
	_, kept := l.open["alice"]
	l.mu.Unlock()
	require.False(t, kept)
	_, ok = l.acquire("alice")
	require.True(t, ok)
}

// TestLabelsComeFromClosedSets checks the label mapping on its own.
func TestLabelsComeFromClosedSets(t *testing.T) {
	t.Parallel()
	require.Equal(t, "GET", methodLabel("GET"))
	require.Equal(t, "other", methodLabel("get"))
	require.Equal(t, "other", methodLabel(strings.Repeat("X", 200<<10)))
	require.Equal(t, "404", statusLabel(404))
	require.Equal(t, "4xx", statusLabel(418))
	require.Equal(t, "other", statusLabel(1000))
}
