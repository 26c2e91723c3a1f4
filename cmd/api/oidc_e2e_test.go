package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/oidctest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// ssoBrowser is a browser as far as cookies and redirects go: a jar, following
// redirects, asking for pages. Its API calls carry the jar's cookies and go through
// the contract checker.
type ssoBrowser struct {
	t    *testing.T
	base string
	c    *http.Client
	api  *apitest.Client
	csrf string
}

func newSSOBrowser(t *testing.T, base string) *ssoBrowser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &ssoBrowser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}, api: apitest.NewClient(t, base)}
}

// navigate loads a URL as a page, following redirects, and returns the last
// response's status, URL and body.
func (b *ssoBrowser) navigate(u string) (int, *url.URL, string) {
	b.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	require.NoError(b.t, err)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL, string(body)
}

// signIn signs in through the provider as username and loads the session, as the
// page does.
func (b *ssoBrowser) signIn(idp *oidctest.Provider, username, password string) ssoSession {
	b.t.Helper()
	back := idp.Authorize(b.t, b.c, b.base+"/ui/auth/oidc/login", username, password)
	status, at, body := b.navigate(back.String())
	require.Equal(b.t, http.StatusOK, status, body)
	require.Equal(b.t, b.base+"/", at.String(), "signed in, the browser lands on the web UI")
	return b.session(http.StatusOK)
}

type ssoSession struct {
	CSRF       string  `json:"csrf_token"`
	Method     string  `json:"method"`
	SignOutURL *string `json:"sign_out_url"`
	Me         struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Groups []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Role string `json:"role"`
		} `json:"groups"`
	} `json:"me"`
}

func (b *ssoBrowser) session(status int) ssoSession {
	b.t.Helper()
	var s ssoSession
	b.do("GET", "/ui/session", nil, status, &s)
	b.csrf = s.CSRF
	return s
}

// do is one API call of the page: the session cookie, and the CSRF token on writes.
func (b *ssoBrowser) do(method, path string, body any, status int, out any) apitest.Response {
	b.t.Helper()
	req := b.api.Request(method, path, "", body)
	for _, ck := range b.c.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	if method != "GET" {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	return b.api.Send(req, status, out)
}

// oidcAPI starts the platform with sign-in through idp and registers it with idp.
func oidcAPI(t *testing.T, idp *oidctest.Provider, admin string, extra map[string]string) string {
	t.Helper()
	_, dbURL := pgtest.NewDB(t)
	env := map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_BOOTSTRAP_ADMIN_KEY": admin,
		"YW_LOG_LEVEL": "warn", "YW_OIDC_ISSUER": idp.Issuer, "YW_OIDC_CLIENT_ID": idp.ClientID,
		"YW_OIDC_CLIENT_SECRET": idp.ClientSecret, "YW_OIDC_PROVIDER_NAME": idp.Name,
		"YW_OIDC_ALLOWED_DOMAINS": "corp.example", "YW_OIDC_GROUPS_CLAIM": "groups"}
	for k, v := range extra {
		env[k] = v
	}
	base := startAPI(t, env)
	idp.AllowRedirect(base + "/ui/auth/oidc/callback")
	idp.AllowPostLogout(base + "/")
	return base
}

func searchHits(t *testing.T, c *apitest.Client, key, query string) []string {
	t.Helper()
	var found hits
	c.Do("POST", "/v1/search", key, map[string]any{"query": query}, http.StatusOK, &found)
	var ids []string
	for _, h := range found.Hits {
		ids = append(ids, h.DocumentID)
	}
	return ids
}

// TestOIDCSignInAndGroupSyncEndToEnd signs people in through a real OpenID
// provider over HTTP, redirects and cookies included, and follows a group of the
// provider into search: a document shared with the group is visible after a
// sign-in whose claim lists the group, and gone after one whose claim does not.
func TestOIDCSignInAndGroupSyncEndToEnd(t *testing.T) {
	idp := oidctest.Start(t, oidctest.Options{})
	idp.AddUser(oidctest.User{Subject: "sub-bob", Username: "bob", Password: "bob-pw", Email: "bob@corp.example",
		EmailVerified: true, Groups: []string{"research"}})
	idp.AddUser(oidctest.User{Subject: "sub-alice", Username: "alice", Password: "alice-pw", Email: "alice@corp.example",
		EmailVerified: true, Groups: []string{}})
	admin := "bootstrap-admin-key-for-oidc-e2e-test"
	base := oidcAPI(t, idp, admin, nil)
	c := apitest.NewClient(t, base)

	var methods struct {
		OIDC *struct {
			Name     string `json:"name"`
			LoginURL string `json:"login_url"`
		} `json:"oidc"`
	}
	c.Do("GET", "/ui/auth", "", nil, http.StatusOK, &methods)
	require.NotNil(t, methods.OIDC)
	require.Equal(t, "Test IdP", methods.OIDC.Name)
	require.Equal(t, "/ui/auth/oidc/login", methods.OIDC.LoginURL)

	// Bob signs in: a user is made for him, with the provider's group.
	bob := newSSOBrowser(t, base)
	sess := bob.signIn(idp, "bob", "bob-pw")
	require.Equal(t, "bob", sess.Me.Name)
	require.Equal(t, "oidc", sess.Method)
	require.NotNil(t, sess.SignOutURL)
	require.Equal(t, "/ui/auth/oidc/logout", *sess.SignOutURL)
	require.Len(t, sess.Me.Groups, 1)
	require.Equal(t, "research", sess.Me.Groups[0].Name)
	require.Equal(t, "member", sess.Me.Groups[0].Role)
	research := sess.Me.Groups[0].ID
	var group map[string]any
	bob.do("GET", "/v1/groups/"+research, nil, http.StatusOK, &group)
	require.Equal(t, true, group["managed"])
	var keys struct {
		Keys []map[string]any `json:"keys"`
	}
	bob.do("GET", "/v1/me/keys", nil, http.StatusOK, &keys)
	require.Empty(t, keys.Keys, "the web session carries no API key of his")

	// Bob makes himself a key for a script (API keys keep working) and shares a document with research.
	var created struct {
		Key string `json:"key"`
	}
	bob.do("POST", "/v1/me/keys", nil, http.StatusCreated, &created)
	bobKey := created.Key
	var up struct {
		Documents []document `json:"documents"`
	}
	c.Upload("/v1/documents", bobKey, []apitest.File{{Name: "plan.txt", Data: []byte("The quarterly zeppelin maintenance plan of the research group.\n")}},
		map[string]string{"group_id": research}, http.StatusAccepted, &up)
	doc := up.Documents[0].ID
	require.Equal(t, "ready", waitFor(t, c, bobKey, doc).Status)

	// Alice is not in research at the provider: the document does not exist for her.
	alice := newSSOBrowser(t, base)
	sess = alice.signIn(idp, "alice", "alice-pw")
	aliceID := sess.Me.ID
	require.Empty(t, sess.Me.Groups)
	alice.do("POST", "/v1/me/keys", nil, http.StatusCreated, &created)
	aliceKey := created.Key
	alice.do("GET", "/v1/documents/"+doc, nil, http.StatusNotFound, nil)
	require.Empty(t, searchHits(t, c, aliceKey, "zeppelin maintenance"))

	// The provider puts her in research; her next sign-in brings the document at once.
	idp.SetGroups("sub-alice", []string{"research"})
	sess = alice.signIn(idp, "alice", "alice-pw")
	require.Equal(t, aliceID, sess.Me.ID, "the same person is the same user")
	alice.do("GET", "/v1/documents/"+doc, nil, http.StatusOK, nil)
	require.Equal(t, []string{doc}, searchHits(t, c, aliceKey, "zeppelin maintenance"))

	// Nobody edits the provider's group by hand.
	for _, try := range []struct {
		method, path string
		body         any
	}{
		{"DELETE", "/v1/groups/" + research + "/members/" + aliceID, nil},
		{"PATCH", "/v1/groups/" + research, map[string]any{"name": "renamed"}},
		{"POST", "/v1/groups/" + research + "/members", map[string]any{"name": "admin"}},
		{"DELETE", "/v1/groups/" + research, nil},
	} {
		resp := alice.do(try.method, try.path, try.body, http.StatusConflict, nil)
		require.Contains(t, resp.Body, `"code":"managed_by_provider"`, "%s %s", try.method, try.path)
		require.Contains(t, resp.Body, "identity provider")
	}

	// The provider takes her out again: gone from get and search after one sign-in.
	idp.SetGroups("sub-alice", []string{})
	alice.signIn(idp, "alice", "alice-pw")
	alice.do("GET", "/v1/documents/"+doc, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/documents/"+doc, aliceKey, nil, http.StatusNotFound, nil)
	require.Empty(t, searchHits(t, c, aliceKey, "zeppelin maintenance"))
	require.Equal(t, []string{doc}, searchHits(t, c, bobKey, "zeppelin maintenance"), "bob keeps it")

	// Every change of membership is in the audit log.
	var audit struct {
		Entries []map[string]any `json:"entries"`
	}
	c.Do("GET", "/v1/admin/audit?action=member.sync_add", admin, nil, http.StatusOK, &audit)
	require.Len(t, audit.Entries, 2, "bob, then alice")
	c.Do("GET", "/v1/admin/audit?action=member.sync_remove", admin, nil, http.StatusOK, &audit)
	require.Len(t, audit.Entries, 1)
	require.Equal(t, "alice", audit.Entries[0]["actor_name"])
	c.Do("GET", "/v1/admin/audit?action=user.provision", admin, nil, http.StatusOK, &audit)
	require.Len(t, audit.Entries, 2)

	// Signing out ends the session here, then at the provider.
	alice.do("DELETE", "/ui/session", nil, http.StatusNoContent, nil)
	alice.do("GET", "/v1/me", nil, http.StatusUnauthorized, nil)
	status, at, _ := alice.navigate(base + "/ui/auth/oidc/logout")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, base+"/", at.String(), "the provider sends the browser back to the sign-in page")
	require.NotEmpty(t, idp.EndedSessions(), "the provider's end-session endpoint was reached")
	c.Do("GET", "/v1/me", aliceKey, nil, http.StatusOK, nil)
	c.Do("GET", "/v1/me", admin, nil, http.StatusOK, nil)
}

// TestOIDCSignInRefusals: each check of the callback refuses on its own, with a
// page that says why and shows no token, and nobody is signed in or provisioned.
func TestOIDCSignInRefusals(t *testing.T) {
	idp := oidctest.Start(t, oidctest.Options{})
	idp.AddUser(oidctest.User{Subject: "sub-ann", Username: "ann", Password: "ann-pw", Email: "ann@corp.example", EmailVerified: true})
	idp.AddUser(oidctest.User{Subject: "sub-mal", Username: "mallory", Password: "mal-pw", Email: "mallory@evil.example", EmailVerified: true})
	idp.AddUser(oidctest.User{Subject: "sub-eve", Username: "eve", Password: "eve-pw", Email: "eve@corp.example", EmailVerified: false})
	admin := "bootstrap-admin-key-for-oidc-refusals-e2e"
	base := oidcAPI(t, idp, admin, map[string]string{"YW_AUTH_FAILURE_BURST": "100"})
	c := apitest.NewClient(t, base)
	login := base + "/ui/auth/oidc/login"

	refused := func(b *ssoBrowser, u string, status int, code, says string) {
		t.Helper()
		got, _, page := b.navigate(u)
		require.Equal(t, status, got, page)
		require.Contains(t, page, `data-code="`+code+`"`)
		require.Contains(t, page, says)
		q, err := url.Parse(u)
		require.NoError(t, err)
		if code := q.Query().Get("code"); code != "" {
			require.NotContains(t, page, code, "the page shows no code or token")
		}
		require.NotContains(t, strings.ToLower(page), "goroutine", "no stack")
		b.session(http.StatusUnauthorized)
	}

	// An answer with no sign-in started in this browser.
	stranger := newSSOBrowser(t, base)
	refused(stranger, base+"/ui/auth/oidc/callback?state=made-up&code=made-up", http.StatusBadRequest, "validation_failed", "not started in this browser")
	// Without a page's Accept header, the same refusal is a problem document.
	resp := c.Do("GET", "/ui/auth/oidc/callback?state=made-up&code=made-up", "", nil, http.StatusBadRequest, nil)
	require.Contains(t, resp.Body, "not started in this browser")

	// Somebody else's answer, fed to this browser (login CSRF): the state does not match.
	victim, attacker := newSSOBrowser(t, base), newSSOBrowser(t, base)
	back := idp.Authorize(t, attacker.c, login, "ann", "ann-pw")
	victim.navigate(login) // the victim has a sign-in of their own under way
	refused(victim, back.String(), http.StatusBadRequest, "validation_failed", "does not belong to the sign-in this browser started")

	// A changed state; and the flow is good for one answer only.
	b := newSSOBrowser(t, base)
	back = idp.Authorize(t, b.c, login, "ann", "ann-pw")
	changed := *back
	q := changed.Query()
	q.Set("state", q.Get("state")+"x")
	changed.RawQuery = q.Encode()
	refused(b, changed.String(), http.StatusBadRequest, "validation_failed", "does not belong")
	refused(b, back.String(), http.StatusBadRequest, "validation_failed", "not started in this browser")

	// The person cancels at the provider.
	b = newSSOBrowser(t, base)
	refused(b, idp.Deny(t, b.c, login).String(), http.StatusForbidden, "forbidden", "Test IdP did not sign you in (access_denied)")

	// An ID token with another nonce, or signed by a key the provider does not publish.
	idp.TamperNonce(true)
	b = newSSOBrowser(t, base)
	refused(b, idp.Authorize(t, b.c, login, "ann", "ann-pw").String(), http.StatusUnauthorized, "unauthenticated", "not issued for this sign-in")
	idp.TamperNonce(false)
	idp.SignWithUnpublishedKey(true)
	b = newSSOBrowser(t, base)
	refused(b, idp.Authorize(t, b.c, login, "ann", "ann-pw").String(), http.StatusUnauthorized, "unauthenticated", "not valid for this server")
	idp.SignWithUnpublishedKey(false)

	// A domain that is not allowed; an address the provider has not verified.
	b = newSSOBrowser(t, base)
	refused(b, idp.Authorize(t, b.c, login, "mallory", "mal-pw").String(), http.StatusForbidden, "email_domain_not_allowed", "not in a domain allowed")
	b = newSSOBrowser(t, base)
	refused(b, idp.Authorize(t, b.c, login, "eve", "eve-pw").String(), http.StatusForbidden, "email_not_verified", "not verified your e-mail")

	// None of them became a user; every refusal is audited; a good sign-in still works.
	var users struct {
		Users []map[string]any `json:"users"`
	}
	c.Do("GET", "/v1/admin/users", admin, nil, http.StatusOK, &users)
	require.Len(t, users.Users, 1, "only the admin: %v", users.Users)
	var audit struct {
		Entries []struct {
			Outcome string         `json:"outcome"`
			Details map[string]any `json:"details"`
		} `json:"entries"`
	}
	c.Do("GET", "/v1/admin/audit?action=web.sign_in", admin, nil, http.StatusOK, &audit)
	reasons := map[string]int{}
	for _, e := range audit.Entries {
		require.Equal(t, "denied", e.Outcome)
		reasons[e.Details["reason"].(string)]++
	}
	require.Equal(t, map[string]int{"validation_failed": 5, "forbidden": 1, "unauthenticated": 2,
		"email_domain_not_allowed": 1, "email_not_verified": 1}, reasons)
	raw, err := json.Marshal(audit)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "eyJ", "no token in the audit log")

	b = newSSOBrowser(t, base)
	require.Equal(t, "ann", b.signIn(idp, "ann", "ann-pw").Me.Name)
}

// TestTrustedProxySignInEndToEnd runs the program behind a "proxy" on 127.0.0.1:
// the headers sign a person in and sync their groups, and the page's session
// guards writes.
func TestTrustedProxySignInEndToEnd(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-proxy-e2e-test"
	secret := "shared-secret-of-the-sign-in-proxy"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_BOOTSTRAP_ADMIN_KEY": admin,
		"YW_LOG_LEVEL": "warn", "YW_PROXY_AUTH_TRUSTED": "127.0.0.1", "YW_PROXY_AUTH_SECRET": secret,
		"YW_PROXY_AUTH_GROUPS_HEADER": "X-Forwarded-Groups", "YW_SSO_GROUP_PREFIX": "idp:"})
	c := apitest.NewClient(t, base)
	as := func(req *http.Request, user, groups, key string) *http.Request {
		req.Header.Set("X-Forwarded-User", user)
		req.Header.Set("X-Forwarded-Email", user+"@corp.example")
		req.Header.Set("X-Forwarded-Groups", groups)
		if key != "" {
			req.Header.Set("X-Proxy-Secret", key)
		}
		return req
	}
	var me struct {
		Name   string `json:"name"`
		Groups []struct {
			Name string `json:"name"`
		} `json:"groups"`
	}
	c.Send(as(c.Request("GET", "/v1/me", "", nil), "gwen", "ops,research", secret), http.StatusOK, &me)
	require.Equal(t, "gwen", me.Name)
	require.Len(t, me.Groups, 2)
	require.Equal(t, "idp:ops", me.Groups[0].Name)
	c.Send(as(c.Request("GET", "/v1/me", "", nil), "gwen", "ops", secret), http.StatusOK, &me)
	require.Len(t, me.Groups, 1, "the groups follow the header")
	c.Send(as(c.Request("GET", "/v1/me", "", nil), "gwen", "ops", ""), http.StatusUnauthorized, nil)
	c.Send(as(c.Request("GET", "/v1/me", "", nil), "gwen", "ops", "not-the-secret"), http.StatusUnauthorized, nil)
	// An API key still works through the proxy, and wins over its headers.
	c.Send(as(c.Request("GET", "/v1/me", admin, nil), "gwen", "ops", secret), http.StatusOK, &me)
	require.Equal(t, "admin", me.Name)

	// Writes need the page's session and its CSRF token.
	c.Send(as(c.Request("POST", "/v1/groups", "", map[string]any{"name": "g"}), "gwen", "ops", secret), http.StatusForbidden, nil)
	resp := c.Send(as(c.Request("GET", "/ui/session", "", nil), "gwen", "ops", secret), http.StatusOK, nil)
	var sess ssoSession
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &sess))
	require.Equal(t, "proxy", sess.Method)
	cookies := (&http.Response{Header: resp.Header}).Cookies()
	require.Len(t, cookies, 1)
	req := as(c.Request("POST", "/v1/groups", "", map[string]any{"name": "gwen's group"}), "gwen", "ops", secret)
	req.AddCookie(cookies[0])
	req.Header.Set("X-CSRF-Token", sess.CSRF)
	c.Send(req, http.StatusCreated, nil)
}
