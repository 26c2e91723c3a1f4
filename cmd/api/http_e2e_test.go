package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

func TestRateLimitsBodyLimitsCORSAndProxies(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-http-e2e-test"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn",
		"YW_RATE_LIMIT_RPS": "0.5", "YW_RATE_LIMIT_BURST": "3", "YW_MAX_BODY_BYTES": "2048",
		"YW_CORS_ORIGINS": "https://intranet.example", "YW_TRUSTED_PROXIES": "127.0.0.1"})
	c := apitest.NewClient(t, base)

	// CORS: the allowed origin is answered, others get nothing (and a refused preflight).
	req := c.Request("GET", "/healthz", "", nil)
	req.Header.Set("Origin", "https://intranet.example")
	resp := c.Send(req, http.StatusOK, nil)
	require.Equal(t, "https://intranet.example", resp.Header.Get("Access-Control-Allow-Origin"))
	req = c.Request("GET", "/healthz", "", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp = c.Send(req, http.StatusOK, nil)
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	pre, err := http.NewRequest(http.MethodOptions, base+"/v1/me", nil)
	require.NoError(t, err)
	pre.Header.Set("Origin", "https://intranet.example")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	r, err := http.DefaultClient.Do(pre)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusNoContent, r.StatusCode)
	require.Contains(t, r.Header.Get("Access-Control-Allow-Headers"), "Authorization")

	// A body over the limit is refused with 413 and nothing is created.
	big := map[string]any{"name": "bob", "pad": strings.Repeat("x", 4096)}
	c.Do("POST", "/v1/admin/users", admin, big, http.StatusRequestEntityTooLarge, nil)

	// The client address comes from X-Forwarded-For only through a trusted proxy (the
	// test connects from 127.0.0.1, which is configured as one).
	req = c.Request("POST", "/v1/admin/users", admin, map[string]any{"name": "carol"})
	req.Header.Set("X-Forwarded-For", "10.1.2.3")
	c.Send(req, http.StatusCreated, nil)
	var audit struct {
		Entries []map[string]any `json:"entries"`
	}
	c.Do("GET", "/v1/admin/audit?action=user.create", admin, nil, http.StatusOK, &audit)
	require.NotEmpty(t, audit.Entries)
	require.Equal(t, "10.1.2.3", audit.Entries[0]["client_ip"])

	// Per-key token bucket: the burst passes, then 429 with Retry-After.
	var limited *apitest.Response
	for i := 0; i < 10 && limited == nil; i++ {
		req := c.Request("GET", "/v1/me", admin, nil)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			limited = &apitest.Response{Status: res.StatusCode, Header: res.Header}
		}
	}
	require.NotNil(t, limited, "the bucket must run dry")
	require.NotEmpty(t, limited.Header.Get("Retry-After"))
	resp = c.Do("GET", "/v1/me", admin, nil, http.StatusTooManyRequests, nil)
	require.Contains(t, resp.Body, `"code":"rate_limited"`)
}
