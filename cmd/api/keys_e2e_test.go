package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

type keyJSON struct {
	ID         string     `json:"id"`
	Key        string     `json:"key"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	GroupIDs   []string   `json:"group_ids"`
	AllowedIPs []string   `json:"allowed_ips"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// startKeysAPI runs the program with env and returns a client and the admin key.
func startKeysAPI(t *testing.T, env map[string]string) (*apitest.Client, string) {
	t.Helper()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-" + randomHex(12)
	full := map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn"}
	for k, v := range env {
		full[k] = v
	}
	return apitest.NewClient(t, startAPI(t, full)), admin
}

func TestScopedKeysEndToEnd(t *testing.T) {
	t.Parallel()
	c, admin := startKeysAPI(t, nil)
	_, alice := groupsUser(t, c, admin, "alice")
	var g groupJSON
	c.Do("POST", "/v1/groups", alice, map[string]any{"name": "Research"}, http.StatusCreated, &g)

	// A named key that may only read, in one group, for an hour.
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	var k keyJSON
	c.Do("POST", "/v1/me/keys", alice, map[string]any{"name": "reader", "scopes": []string{"documents:read"},
		"group_ids": []string{g.ID}, "expires_at": expires.Format(time.RFC3339)}, http.StatusCreated, &k)
	require.Equal(t, "reader", k.Name)
	require.Equal(t, []string{"documents:read"}, k.Scopes)
	require.Equal(t, []string{g.ID}, k.GroupIDs)
	require.True(t, expires.Equal(*k.ExpiresAt))
	require.NotEmpty(t, k.Key)

	var list struct {
		Keys []keyJSON `json:"keys"`
	}
	c.Do("GET", "/v1/me/keys", alice, nil, http.StatusOK, &list)
	require.Len(t, list.Keys, 2)
	listed := list.Keys[1]
	require.Equal(t, k.ID, listed.ID)
	require.Equal(t, "reader", listed.Name)
	require.Empty(t, listed.Key, "the secret is shown only at creation")
	require.Nil(t, listed.LastUsedAt)
	require.Nil(t, list.Keys[0].Scopes, "a key without limits shows none")

	// It reads; it may not write, chat or administer; it still knows who it is.
	c.Do("GET", "/v1/documents", k.Key, nil, http.StatusOK, nil)
	c.Do("GET", "/v1/me", k.Key, nil, http.StatusOK, nil)
	for _, r := range []struct{ method, path string }{
		{"POST", "/v1/groups"}, {"POST", "/v1/chat/sessions"}, {"GET", "/v1/chat/sessions"}, {"GET", "/v1/admin/users"},
		{"DELETE", "/v1/documents/" + uuid.NewString()},
	} {
		requireCode(t, c.Do(r.method, r.path, k.Key, map[string]any{"name": "x"}, http.StatusForbidden, nil), "scope_denied")
	}
	c.Do("GET", "/v1/me/keys", alice, nil, http.StatusOK, &list)
	require.NotNil(t, list.Keys[1].LastUsedAt, "the key's use is recorded")

	// Refused requests name what is wrong.
	requireProblemField(t, c.Do("POST", "/v1/me/keys", alice, map[string]any{"scopes": []string{"admin"}}, http.StatusBadRequest, nil), "scopes")
	requireProblemField(t, c.Do("POST", "/v1/me/keys", alice, map[string]any{"scopes": []string{"everything"}}, http.StatusBadRequest, nil), "scopes")
	requireProblemField(t, c.Do("POST", "/v1/me/keys", alice, map[string]any{"expires_at": "tomorrow"}, http.StatusBadRequest, nil), "expires_at")
	requireProblemField(t, c.Do("POST", "/v1/me/keys", alice, map[string]any{"group_ids": []string{uuid.NewString()}}, http.StatusNotFound, nil), "group_ids")
	requireProblemField(t, c.Do("POST", "/v1/me/keys", k.Key, map[string]any{"scopes": []string{"chat"}}, http.StatusBadRequest, nil), "scopes")
	var child keyJSON
	c.Do("POST", "/v1/me/keys", k.Key, nil, http.StatusCreated, &child)
	require.Equal(t, k.Scopes, child.Scopes, "a key made with a scoped key inherits its limits")
	require.Equal(t, k.GroupIDs, child.GroupIDs)

	// An admin's admin key administers; the admin scope makes no user an admin.
	var adminKey keyJSON
	c.Do("POST", "/v1/me/keys", admin, map[string]any{"scopes": []string{"admin"}}, http.StatusCreated, &adminKey)
	c.Do("GET", "/v1/admin/users", adminKey.Key, nil, http.StatusOK, nil)
	requireCode(t, c.Do("GET", "/v1/documents", adminKey.Key, nil, http.StatusForbidden, nil), "scope_denied")

	// An expired key fails like a wrong one.
	soon := time.Now().Add(2 * time.Second).UTC()
	var brief keyJSON
	c.Do("POST", "/v1/me/keys", alice, map[string]any{"expires_at": soon.Format(time.RFC3339Nano)}, http.StatusCreated, &brief)
	c.Do("GET", "/v1/me", brief.Key, nil, http.StatusOK, nil)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.DefaultClient.Do(c.Request("GET", "/v1/me", brief.Key, nil))
		require.NoError(t, err)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			break
		}
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.True(t, time.Now().Before(deadline), "the key did not expire")
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	requireCode(t, c.Do("GET", "/v1/me", brief.Key, nil, http.StatusUnauthorized, nil), "unauthenticated")
	c.Do("GET", "/v1/me", alice, nil, http.StatusOK, nil)
}

// TestIPAllowlistEndToEnd: the deployment's allow-list and a key's own list, with
// and without a trusted proxy deciding the client address.
func TestIPAllowlistEndToEnd(t *testing.T) {
	t.Parallel()
	get := func(c *apitest.Client, path, key, xff string, want int) apitest.Response {
		t.Helper()
		req := c.Request("GET", path, key, nil)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		return c.Send(req, want, nil)
	}
	newKey := func(c *apitest.Client, owner string, allowed ...string) string {
		var k keyJSON
		c.Do("POST", "/v1/me/keys", owner, map[string]any{"allowed_ips": allowed}, http.StatusCreated, &k)
		require.Len(t, k.AllowedIPs, len(allowed))
		return k.Key
	}

	t.Run("no proxy: the TCP peer is the client", func(t *testing.T) {
		t.Parallel()
		c, admin := startKeysAPI(t, nil)
		loopback := newKey(c, admin, "127.0.0.1")
		elsewhere := newKey(c, admin, "198.51.100.0/24")
		get(c, "/v1/me", loopback, "", http.StatusOK)
		requireCode(t, get(c, "/v1/me", elsewhere, "", http.StatusForbidden), "address_denied")
		requireCode(t, get(c, "/v1/me", elsewhere, "198.51.100.9", http.StatusForbidden), "address_denied")
	})

	t.Run("deployment list, no proxy", func(t *testing.T) {
		t.Parallel()
		c, admin := startKeysAPI(t, map[string]string{"YW_IP_ALLOWLIST": "203.0.113.0/24"})
		requireCode(t, get(c, "/v1/me", admin, "", http.StatusForbidden), "address_denied")
		requireCode(t, get(c, "/v1/me", admin, "203.0.113.5", http.StatusForbidden), "address_denied")
		// Refused before any key is looked up: a flood of made-up keys is never
		// counted as failed sign-ins, so it is never answered 401 or 429.
		for range 50 {
			requireCode(t, get(c, "/v1/me", "yw_"+randomHex(20), "", http.StatusForbidden), "address_denied")
		}
		resp, err := http.DefaultClient.Do(c.Request("GET", "/", "", nil))
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "the web UI is refused too")
		get(c, "/healthz", "", "", http.StatusOK)
		get(c, "/readyz", "", "", http.StatusOK)
	})

	t.Run("deployment list behind a trusted proxy", func(t *testing.T) {
		t.Parallel()
		c, admin := startKeysAPI(t, map[string]string{"YW_IP_ALLOWLIST": "203.0.113.0/24", "YW_TRUSTED_PROXIES": "127.0.0.1"})
		get(c, "/v1/me", admin, "203.0.113.5", http.StatusOK)
		requireCode(t, get(c, "/v1/me", admin, "", http.StatusForbidden), "address_denied")
		requireCode(t, get(c, "/v1/me", admin, "198.51.100.1", http.StatusForbidden), "address_denied")
		requireCode(t, get(c, "/v1/me", admin, "203.0.113.5, 198.51.100.1", http.StatusForbidden), "address_denied")
		get(c, "/v1/me", admin, "198.51.100.1, 203.0.113.5", http.StatusOK) // the right-most untrusted address

		// A key's own list, judged by the same client address.
		req := c.Request("POST", "/v1/me/keys", admin, map[string]any{"allowed_ips": []string{"203.0.113.7"}})
		req.Header.Set("X-Forwarded-For", "203.0.113.5")
		var k keyJSON
		c.Send(req, http.StatusCreated, &k)
		get(c, "/v1/me", k.Key, "203.0.113.7", http.StatusOK)
		requireCode(t, get(c, "/v1/me", k.Key, "203.0.113.8", http.StatusForbidden), "address_denied")
	})
}
