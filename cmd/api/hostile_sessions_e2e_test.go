package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// TestSignOutEndsTheSessionOnTheServer: signing out ends the session itself, not
// just the browser's cookie, so a copy of the cookie taken before (from another
// machine, a backup, a proxy log) stops working at once. Other sessions of the same
// user are not affected.
func TestSignOutEndsTheSessionOnTheServer(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-" + randomHex(12)
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")

	withCookie := func(method, path string, ck *http.Cookie, token string) *http.Request {
		r := c.Request(method, path, "", nil)
		r.AddCookie(ck)
		if token != "" {
			r.Header.Set("X-CSRF-Token", token)
		}
		return r
	}
	laptop, laptopCSRF := signIn(t, c, base, alice)
	phone, _ := signIn(t, c, base, alice)
	copied := &http.Cookie{Name: laptop.Name, Value: laptop.Value} // what a thief kept
	c.Send(withCookie("GET", "/v1/me", copied, ""), http.StatusOK, nil)

	out := c.Send(withCookie("DELETE", "/ui/session", laptop, laptopCSRF), http.StatusNoContent, nil)
	cleared := (&http.Response{Header: out.Header}).Cookies()
	require.Len(t, cleared, 1)
	require.Empty(t, cleared[0].Value)

	resp := c.Send(withCookie("GET", "/v1/me", copied, ""), http.StatusUnauthorized, nil)
	require.Contains(t, resp.Body, `"code":"unauthenticated"`)
	c.Send(withCookie("GET", "/ui/session", copied, ""), http.StatusUnauthorized, nil)
	status, _ := raw(t, withCookie("POST", "/v1/chat/sessions", copied, laptopCSRF))
	require.Equal(t, http.StatusUnauthorized, status, "writes with the copy fail too")

	// The other session, and the key itself, still work.
	c.Send(withCookie("GET", "/v1/me", phone, ""), http.StatusOK, nil)
	c.Do("GET", "/v1/me", alice, nil, http.StatusOK, nil)
	// Signing in again makes a new session.
	again, _ := signIn(t, c, base, alice)
	c.Send(withCookie("GET", "/v1/me", again, ""), http.StatusOK, nil)
	c.Send(withCookie("GET", "/v1/me", copied, ""), http.StatusUnauthorized, nil)
}

// TestFailedSignInsAreLimitedPerAddress: after a burst of bad keys from one client
// address, that address gets 429 even with a good key (the key is not even looked
// up), while another address, told apart by a trusted proxy, still signs in.
func TestFailedSignInsAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-" + randomHex(12)
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error", "YW_TRUSTED_PROXIES": "127.0.0.1",
		"YW_AUTH_FAILURE_BURST": "3", "YW_AUTH_FAILURE_RPS": "0.01"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")
	from := func(ip, key string) *http.Request {
		r := c.Request("GET", "/v1/me", key, nil)
		r.Header.Set("X-Forwarded-For", ip)
		return r
	}
	for range 3 {
		c.Send(from("198.51.100.7", "yw_"+randomHex(20)), http.StatusUnauthorized, nil)
	}
	resp := c.Send(from("198.51.100.7", alice), http.StatusTooManyRequests, nil)
	require.Contains(t, resp.Body, `"code":"rate_limited"`)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	status, _ := raw(t, func() *http.Request {
		r := c.Request("POST", "/ui/session", "", map[string]any{"key": alice})
		r.Header.Set("X-Forwarded-For", "198.51.100.7")
		return r
	}())
	require.Equal(t, http.StatusTooManyRequests, status, "web sign-in shares the limit")
	c.Send(from("198.51.100.8", alice), http.StatusOK, nil)
}
