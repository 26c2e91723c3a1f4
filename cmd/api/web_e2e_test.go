package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/corpustest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// webSession is the body of POST /ui/session.
type webSession struct {
	CSRFToken string         `json:"csrf_token"`
	Me        map[string]any `json:"me"`
}

// signIn posts a key to /ui/session and returns the session cookie and CSRF token.
func signIn(t *testing.T, c *apitest.Client, base, key string) (*http.Cookie, string) {
	t.Helper()
	req := c.Request("POST", "/ui/session", "", map[string]any{"key": key})
	var sess webSession
	resp := c.Send(req, http.StatusCreated, &sess)
	require.NotEmpty(t, sess.CSRFToken)
	require.NotContains(t, resp.Body, key, "the key never comes back")
	for _, ck := range (&http.Response{Header: resp.Header}).Cookies() {
		if ck.Name == "yw_session" {
			return ck, sess.CSRFToken
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header.Values("Set-Cookie"))
	return nil, ""
}

// raw sends a request outside the contract checker (for answers no route documents,
// like a CSRF refusal) and returns status and body.
func raw(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWebSessionCookieCSRFAndAssets(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-web-session-e2e"
	dataDir := t.TempDir()
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_DATA_DIR": dataDir})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")
	bob := newUser(t, c, admin, "bob")

	// The UI page and its assets come from the binary, under a strict CSP.
	req, _ := http.NewRequest("GET", base+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(page), `<script type="module" src="/assets/js/app.js">`)
	require.NotContains(t, string(page), "<script>", "no inline script")
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "img-src 'self' data:", "connect-src 'self'", "frame-ancestors 'none'"} {
		require.Contains(t, csp, want)
	}
	require.NotContains(t, csp, "unsafe-inline")
	require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))

	req, _ = http.NewRequest("GET", base+"/assets/js/app.js", nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)
	req, _ = http.NewRequest("GET", base+"/assets/js/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	status, _ := raw(t, req)
	require.Equal(t, http.StatusNotModified, status)
	for _, path := range []string{"/assets/../embed.go", "/assets/nothing.js", "/assets/embed.go"} {
		req, _ = http.NewRequest("GET", base+path, nil)
		status, _ = raw(t, req)
		require.Equal(t, http.StatusNotFound, status, path)
	}

	// Signing in: a bad key, a missing key, another origin.
	c.Do("GET", "/ui/session", "", nil, http.StatusUnauthorized, nil)
	c.Do("POST", "/ui/session", "", map[string]any{"key": "yw_notarealkey000000000000000000"}, http.StatusUnauthorized, nil)
	c.Do("POST", "/ui/session", "", map[string]any{}, http.StatusBadRequest, nil)
	req = c.Request("POST", "/ui/session", "", map[string]any{"key": alice})
	req.Header.Set("Origin", "https://evil.example")
	c.Send(req, http.StatusForbidden, nil)

	cookie, csrf := signIn(t, c, base, alice)
	require.True(t, cookie.HttpOnly, "the session cookie is out of reach of scripts")
	require.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	require.Equal(t, "/", cookie.Path)
	require.NotContains(t, cookie.Value, alice, "the key is sealed, not stored in clear")
	secret, err := os.ReadFile(filepath.Join(dataDir, "web-session.secret"))
	require.NoError(t, err, "the sealing secret is kept in the data dir, so restarts keep sessions")
	require.NotEmpty(t, secret)

	withCookie := func(method, path string, body any, ck *http.Cookie, token string) *http.Request {
		r := c.Request(method, path, "", body)
		r.AddCookie(ck)
		if token != "" {
			r.Header.Set("X-CSRF-Token", token)
		}
		return r
	}
	var me map[string]any
	c.Send(withCookie("GET", "/v1/me", nil, cookie, ""), http.StatusOK, &me)
	require.Equal(t, "alice", me["name"])
	var sess webSession
	c.Send(withCookie("GET", "/ui/session", nil, cookie, ""), http.StatusOK, &sess)
	require.Equal(t, csrf, sess.CSRFToken, "a reloaded page gets its token back")

	// Writes with the cookie need the CSRF token, and a same-origin Origin when sent.
	status, body := raw(t, withCookie("POST", "/v1/groups", map[string]any{"name": "g1"}, cookie, ""))
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, `"code":"forbidden"`)
	status, _ = raw(t, withCookie("POST", "/v1/groups", map[string]any{"name": "g1"}, cookie, "wrong-token"))
	require.Equal(t, http.StatusForbidden, status)
	r := withCookie("POST", "/v1/groups", map[string]any{"name": "g1"}, cookie, csrf)
	r.Header.Set("Origin", "https://evil.example")
	status, _ = raw(t, r)
	require.Equal(t, http.StatusForbidden, status)
	r = withCookie("POST", "/v1/groups", map[string]any{"name": "g1"}, cookie, csrf)
	r.Header.Set("Origin", base)
	c.Send(r, http.StatusCreated, nil)

	// A forged or damaged cookie is no session; a bearer key wins over a cookie.
	forged := *cookie
	forged.Value = cookie.Value[:len(cookie.Value)-4] + "AAAA"
	c.Send(withCookie("GET", "/v1/me", nil, &forged, ""), http.StatusUnauthorized, nil)
	r = withCookie("GET", "/v1/me", nil, cookie, "")
	r.Header.Set("Authorization", "Bearer "+bob)
	c.Send(r, http.StatusOK, &me)
	require.Equal(t, "bob", me["name"])
	r = c.Request("POST", "/v1/groups", bob, map[string]any{"name": "g2"})
	c.Send(r, http.StatusCreated, nil) // bearer clients need no CSRF token

	// Admins see a user's keys and can revoke one; revoking ends the web session built on it.
	var users struct {
		Users []map[string]any `json:"users"`
	}
	c.Do("GET", "/v1/admin/users", admin, nil, http.StatusOK, &users)
	aliceID := ""
	for _, u := range users.Users {
		if u["name"] == "alice" {
			aliceID = u["id"].(string)
		}
	}
	var keys struct {
		Keys []map[string]any `json:"keys"`
	}
	c.Do("GET", "/v1/admin/users/"+aliceID+"/keys", admin, nil, http.StatusOK, &keys)
	require.Len(t, keys.Keys, 1)
	require.True(t, strings.HasPrefix(alice, keys.Keys[0]["prefix"].(string)))
	c.Do("GET", "/v1/admin/users/"+aliceID+"/keys", bob, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/admin/users/not-a-uuid/keys", admin, nil, http.StatusNotFound, nil)

	// Sign-out needs the token, then clears the cookie.
	status, _ = raw(t, withCookie("DELETE", "/ui/session", nil, cookie, ""))
	require.Equal(t, http.StatusForbidden, status)
	out := c.Send(withCookie("DELETE", "/ui/session", nil, cookie, csrf), http.StatusNoContent, nil)
	cleared := (&http.Response{Header: out.Header}).Cookies()
	require.Len(t, cleared, 1)
	require.Equal(t, "", cleared[0].Value)
	require.Less(t, cleared[0].MaxAge, 0)

	c.Do("DELETE", "/v1/admin/users/"+aliceID+"/keys/"+keys.Keys[0]["id"].(string), admin, nil, http.StatusNoContent, nil)
	c.Send(withCookie("GET", "/v1/me", nil, cookie, ""), http.StatusUnauthorized, nil)
	c.Send(withCookie("GET", "/ui/session", nil, cookie, ""), http.StatusUnauthorized, nil)
	var audit struct {
		Entries []map[string]any `json:"entries"`
	}
	c.Do("GET", "/v1/admin/audit?action=admin.key.revoke", admin, nil, http.StatusOK, &audit)
	require.Len(t, audit.Entries, 1)
	require.Equal(t, "admin", audit.Entries[0]["actor_name"])
}

// hostileFilename is a real file name that is also an HTML injection attempt.
// (Browsers escape double quotes in multipart file names, so it uses none.)
const hostileFilename = `<img src=x onerror=window.__pwned=7>.txt`

func TestWebUIInChromium(t *testing.T) {
	b := startBrowser(t)
	corpus := corpustest.Dir(t)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-web-ui-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn"})
	c := apitest.NewClient(t, base)
	aliceKey := newUser(t, c, admin, "alice")
	bobKey := newUser(t, c, admin, "bob")
	t.Logf("screenshots go to %s", artifactsDir(t))

	files := t.TempDir()
	upload := []string{filepath.Join(corpus, "book-war-and-peace-1p.txt"), filepath.Join(corpus, "handbook-1p.docx"), filepath.Join(files, hostileFilename)}
	require.NoError(t, os.WriteFile(upload[2], []byte("A file whose name tries to inject HTML into the page.\n"), 0o644))

	alice := b.newPage(t, "alice")
	alice.goTo(base + "/")
	alice.waitFor(`document.querySelector('input[name=key]')`, "the sign-in form")
	alice.screenshot("01-sign-in")

	// Sign in: the key goes into an HttpOnly cookie, out of reach of page scripts.
	alice.typeInto("input[name=key]", "not-a-key")
	alice.press("Enter")
	alice.waitFor(`document.querySelector('.form-error').textContent.includes('not valid')`, "the wrong-key message")
	alice.typeInto("input[name=key]", aliceKey)
	alice.press("Enter")
	alice.waitFor(`document.querySelector('[data-testid=who]')?.textContent === 'alice'`, "alice signed in")
	require.Equal(t, "", alice.evalString(`document.cookie`))
	require.False(t, alice.evalBool(`document.querySelector('a.nav-link[data-path=admin]')`), "no admin page for a user")
	var status int
	alice.eval(`fetch('/v1/groups', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"name":"sneaky"}'}).then(r => r.status)`, &status)
	require.Equal(t, http.StatusForbidden, status, "a cookie write without the CSRF header is refused")

	// Groups: create one and invite bob by name; he joins when he accepts.
	alice.click("a.nav-link", "Groups")
	alice.typeInto("input[name=name]", "research")
	alice.typeInto("input[name=description]", "Reading group")
	alice.click("button", "Create group")
	alice.waitFor(`document.querySelector('[data-testid=members]')?.textContent.includes('alice (you)')`, "the new group")
	alice.typeInto("[data-testid=member-name]", "bob")
	alice.click("button", "Add")
	alice.waitFor(`document.querySelector('[data-testid=pending-invitations]')?.textContent.includes('bob')`, "bob's pending invitation")
	require.False(t, alice.evalBool(`document.querySelector('[data-testid=members]').textContent.includes('bob')`), "not a member before accepting")
	alice.screenshot("03-groups")

	// Documents: upload two corpus files and a hostile file name, watch them become ready.
	alice.click("a.nav-link", "Documents")
	alice.waitFor(`document.querySelector('[data-testid=upload-input]')`, "the upload form")
	alice.eval(`window.__pwned = 0`, nil)
	alice.setFiles("[data-testid=upload-input]", upload...)
	alice.waitFor(`document.querySelector('.upload progress')`, "upload progress")
	alice.waitForWithin(`document.querySelectorAll('[data-testid=doc-row][data-status=ready]').length === 3`, "three ready documents", 120e9)
	alice.screenshot("02-documents")
	require.Equal(t, float64(0), evalNumber(alice, `window.__pwned`), "the hostile file name ran no script")
	require.Zero(t, evalNumber(alice, `document.querySelectorAll('[data-testid=documents] img').length`))
	require.True(t, alice.evalBool(fmt.Sprintf(`[...document.querySelectorAll('.filename')].some(e => e.textContent === %q)`, hostileFilename)),
		"the hostile name is shown as text, exactly")

	// Share one document with the group.
	alice.click("button", "Sharing of book-war-and-peace-1p.txt")
	alice.waitFor(`document.querySelector('dialog [data-testid=share-group]')`, "the sharing dialog")
	alice.eval(`(() => { const s = document.querySelector('dialog [data-testid=share-group]'); s.value = [...s.options].find(o => o.text === 'research').value; })()`, nil)
	alice.click("dialog button", "Save")
	alice.waitFor(`[...document.querySelectorAll('[data-testid=doc-row]')].some(r => r.textContent.includes('war-and-peace') && r.querySelector('.sharing').textContent === 'research')`, "the shared document")

	// Bob, in his own browser context, accepts the invitation on the groups page, and
	// then sees the shared document and nothing else.
	bob := b.newPage(t, "bob")
	bob.goTo(base + "/#/groups")
	bob.typeInto("input[name=key]", bobKey)
	bob.press("Enter")
	bob.waitFor(`document.querySelector('[data-testid=who]')?.textContent === 'bob'`, "bob signed in")
	bob.waitFor(`document.querySelector('[data-testid=invitation]')?.textContent.includes('research')`, "alice's invitation")
	bob.screenshot("04-groups-invitation")
	bob.click("[data-testid=invitation] button", "Accept")
	bob.waitFor(`document.querySelector('[data-testid=members]')?.textContent.includes('bob (you)')`, "bob in the group")
	require.False(t, bob.evalBool(`document.querySelector('[data-testid=invitation]')`), "the answered invitation is gone")
	bob.click("a.nav-link", "Documents")
	bob.waitFor(`document.querySelectorAll('[data-testid=doc-row]').length === 1 && document.querySelector('[data-testid=doc-row]').textContent.includes('book-war-and-peace-1p.txt')`, "the document alice shared")
	require.True(t, bob.evalBool(`document.querySelector('[data-testid=doc-row]').textContent.includes('shared with you')`))
	require.False(t, bob.evalBool(`document.querySelector('[data-testid=doc-row] [data-key$=":delete"]')`), "only the owner may delete")
	bob.screenshot("04-documents-shared-with-bob")

	t.Run("hostile markdown renders inert", func(t *testing.T) { hostileMarkdown(t, alice) })
	t.Run("chat", func(t *testing.T) { chatInBrowser(t, alice) })

	// Account: a named key that may only read the group's documents, expiring in a
	// week, is shown once with a copy button, then listed with its limits.
	alice.click("a.nav-link", "Account")
	alice.waitFor(`document.querySelector('[data-testid=quota]')?.textContent.includes('used')`, "the quota")
	alice.click("button", "New key")
	alice.waitFor(`document.querySelector('[data-testid=new-key-form]')`, "the new key form")
	alice.typeInto("input[name=key-name]", "reader")
	alice.eval(`(() => {
		document.querySelector('input[name=scope][value="documents:read"]').checked = true;
		[...document.querySelectorAll('input[name=group]')].find(i => i.parentElement.textContent === 'research').checked = true;
		document.querySelector('select[name=expires]').value = '7';
	})()`, nil)
	alice.screenshot("10-account-new-key-form")
	alice.click("dialog button", "Create key")
	alice.waitFor(`document.querySelector('[data-testid=new-key]')?.textContent.length > 20`, "the new key")
	alice.screenshot("10-account-new-key")
	alice.press("Escape")
	alice.waitFor(`[...document.querySelectorAll('[data-testid=key-row]')].some(r => r.textContent.includes('reader') && r.textContent.includes('scopes: documents:read') && r.textContent.includes('groups: research'))`, "the scoped key in the list")
	alice.screenshot("11-account-keys")

	// Admin pages.
	adm := b.newPage(t, "admin")
	adm.goTo(base + "/")
	adm.typeInto("input[name=key]", admin)
	adm.press("Enter")
	adm.waitFor(`document.querySelector('a.nav-link[data-path=admin]')`, "the admin page link")
	adm.click("a.nav-link", "Admin")
	adm.waitFor(`document.querySelector('[data-testid=users]')?.textContent.includes('alice')`, "the user list")
	adm.screenshot("07-admin-users")
	adm.click("button", "Keys of alice")
	adm.waitFor(`document.querySelectorAll('dialog tbody tr').length === 2`, "alice's two keys")
	adm.press("Escape")
	adm.click("button[role=tab]", "Re-index jobs")
	adm.waitFor(`document.querySelector('[data-testid=jobs] tbody tr')`, "the jobs tab")
	adm.click("button", "Start verify and repair")
	adm.waitForWithin(`document.querySelector('[data-testid=jobs] tr[data-status=completed]')?.textContent.includes('verify')`, "a completed verify job", 90*time.Second)
	adm.screenshot("08-admin-jobs")
	adm.click("button[role=tab]", "Audit log")
	adm.waitFor(`document.querySelector('[data-testid=audit]')?.textContent.includes('web.sign_in')`, "sign-ins in the audit log")
	adm.screenshot("09-admin-audit")

	// A phone-sized window, in the dark theme.
	alice.viewport(390, 844, true)
	alice.click("button", "Switch to dark theme")
	alice.waitFor(`document.documentElement.dataset.theme === 'dark'`, "the dark theme")
	alice.click("a.nav-link", "Documents")
	alice.waitFor(`document.querySelectorAll('[data-testid=doc-row]').length === 3`, "documents on a phone")
	alice.screenshot("12-phone-documents-dark")
	alice.click("a.nav-link", "Chat")
	alice.waitFor(`document.querySelector('[data-testid=composer]')`, "chat on a phone")
	alice.screenshot("11-phone-chat-dark")
	alice.reload()
	alice.waitFor(`document.documentElement.dataset.theme === 'dark' && document.querySelector('[data-testid=who]')`, "the theme and session kept over a reload")
	alice.viewport(1280, 860, false)

	// Sign-out ends the session for this browser only.
	bob.click("button", "Sign out")
	bob.waitFor(`document.querySelector('input[name=key]')`, "the sign-in form after sign-out")
	bob.eval(`fetch('/v1/me').then(r => r.status)`, &status)
	require.Equal(t, http.StatusUnauthorized, status)
	alice.eval(`fetch('/v1/me').then(r => r.status)`, &status)
	require.Equal(t, http.StatusOK, status)

	for _, p := range []*page{alice, bob, adm} {
		require.Empty(t, p.problems(), "%s: scripts and CSP must run clean", p.name)
	}
}

func evalNumber(p *page, expr string) float64 {
	p.t.Helper()
	var n float64
	p.eval(expr, &n)
	return n
}

// hostileMarkdown feeds the answer renderer what a prompt-injected model could write.
func hostileMarkdown(t *testing.T, p *page) {
	inputs := []string{
		`<img src=x onerror="window.__pwned=1">`,
		`<script>window.__pwned=2</script>`,
		`[click me](javascript:window.__pwned=3)`,
		`[click me](JaVaScRiPt:window.__pwned=3)`,
		"[tab trick](java\tscript:window.__pwned=3)",
		`[space trick](  javascript:window.__pwned=3)`,
		`![tracker](https://evil.example/pixel.png)`,
		`![x](javascript:window.__pwned=4)`,
		`[data](data:text/html,<script>window.__pwned=5</script>)`,
		`<a href="javascript:window.__pwned=6">html link</a>`,
		`<svg onload=window.__pwned=8>`,
		"```html\n<img src=x onerror=window.__pwned=9>\n```",
		"| a | b |\n|---|---|\n| <img src=x onerror=window.__pwned=10> | [v](vbscript:msgbox) |",
		`**bold** and [safe](https://example.com/a?b=1) and [mail](mailto:someone@example.com) and <https://example.org/auto> [1]`,
		"> quote with <iframe src=https://evil.example></iframe>\n\n- item `code`\n- ![inline](http://evil.example/x.gif)",
	}
	js, err := json.Marshal(inputs)
	require.NoError(t, err)
	var res struct {
		Pwned    float64  `json:"pwned"`
		Elements int      `json:"elements"`
		BadLinks []string `json:"badLinks"`
		Attrs    []string `json:"attrs"`
		Links    []string `json:"links"`
		Text     string   `json:"text"`
		Strong   int      `json:"strong"`
		Pre      int      `json:"pre"`
		Table    int      `json:"table"`
		Cite     int      `json:"cite"`
	}
	p.eval(`(async () => {
		const { renderMarkdown } = await import('/assets/js/markdown.js');
		window.__pwned = 0;
		const box = document.createElement('div');
		box.className = 'md';
		document.body.append(box);
		for (const s of `+string(js)+`) box.append(renderMarkdown(s, { citation: (n) => { const b = document.createElement('button'); b.className = 'cite-ref'; b.textContent = n; return b; } }));
		await new Promise((r) => setTimeout(r, 700));
		const out = {
			pwned: window.__pwned,
			elements: box.querySelectorAll('img, script, iframe, object, embed, svg, style, form, input, video, audio, link, meta, base').length,
			badLinks: [...box.querySelectorAll('a')].filter((a) => !/^(https?:|mailto:)/.test(a.href) || !a.rel.includes('noopener')).map((a) => a.href),
			attrs: [...new Set([...box.querySelectorAll('*')].flatMap((e) => [...e.attributes].map((a) => a.name)))],
			links: [...box.querySelectorAll('a')].map((a) => a.href),
			text: box.textContent,
			strong: box.querySelectorAll('strong').length,
			pre: box.querySelectorAll('pre code').length,
			table: box.querySelectorAll('table td').length,
			cite: box.querySelectorAll('button.cite-ref').length,
		};
		box.remove();
		return out;
	})()`, &res)
	require.Zero(t, res.Pwned, "no hostile input ran a script")
	require.Zero(t, res.Elements, "no element outside the allow-list was created")
	require.Empty(t, res.BadLinks, "links are only http, https or mailto, with rel=noopener")
	for _, a := range res.Attrs {
		require.Contains(t, []string{"href", "rel", "target", "class", "start", "data-lang"}, a, "unexpected attribute")
	}
	require.ElementsMatch(t, []string{"https://evil.example/pixel.png", "https://example.com/a?b=1", "mailto:someone@example.com",
		"https://example.org/auto", "http://evil.example/x.gif", "https://evil.example/"}, res.Links,
		"images become links; unsafe links become text; a bare https URL (here inside a raw iframe tag) is a plain link")
	require.Contains(t, res.Text, `<img src=x onerror="window.__pwned=1">`, "raw HTML is shown as text")
	require.Contains(t, res.Text, `<script>window.__pwned=2</script>`)
	require.Equal(t, 1, res.Strong)
	require.Equal(t, 1, res.Pre)
	require.Equal(t, 2, res.Table)
	require.Equal(t, 1, res.Cite)
}

// chatInBrowser asks a question, follows the streamed answer to its citation, and
// reloads the page in the middle of a second answer.
func chatInBrowser(t *testing.T, p *page) {
	var status int
	p.eval(`fetch('/v1/chat/sessions').then(r => r.status)`, &status)
	if status == http.StatusNotFound {
		t.Skip("the chat endpoints (/v1/chat/...) are not served yet: GET /v1/chat/sessions answers 404")
	}
	require.Equal(t, http.StatusOK, status)

	p.click("a.nav-link", "Chat")
	p.waitFor(`document.querySelector('[data-testid=composer]')`, "the composer")
	p.typeInto("[data-testid=composer]", "What did the Prince say about Genoa and Lucca?")
	p.press("Enter")
	p.waitFor(`document.querySelector('[data-testid=msg-assistant]')`, "the answer to start")
	p.waitForWithin(`document.querySelector('[data-testid=msg-assistant]').dataset.status === 'completed' && document.querySelector('[data-testid=citation]')`, "a completed answer with citations", 90e9)
	p.waitFor(`document.querySelector('[data-testid=sessions] a')?.textContent.includes('Genoa')`, "the new chat in the list")
	p.screenshot("05-chat")

	// The citation opens the cited passage and a link to the document.
	p.click("[data-testid=citation]", "book-war-and-peace")
	p.waitFor(`document.querySelector('[data-testid=citation-dialog] blockquote')?.textContent.length > 20`, "the cited passage")
	// It says why search chose the passage: the lexical retriever found it.
	p.waitFor(`/^Found by keywords \(rank \d+\)$/.test(document.querySelector('[data-testid=citation-matched]')?.textContent || '')`, "which retriever found the passage")
	p.screenshot("06-citation")
	href := p.evalString(`document.querySelector('[data-testid=open-document]').getAttribute('href')`)
	require.Regexp(t, `^/v1/documents/[0-9a-f-]{36}/content$`, href)
	p.eval(fmt.Sprintf(`fetch(%q).then(r => r.status)`, href), &status)
	require.Equal(t, http.StatusOK, status)
	var docName string
	p.eval(fmt.Sprintf(`fetch(%q).then(r => r.json()).then(d => d.filename)`, strings.TrimSuffix(href, "/content")), &docName)
	require.Equal(t, "book-war-and-peace-1p.txt", docName)
	p.press("Escape")

	// A second question with tools off; reload as soon as the answer starts streaming.
	p.eval(`document.querySelector('[data-testid=tools-toggle]').click()`, nil)
	p.typeInto("[data-testid=composer]", "Who is called Antichrist, and what does the speaker call himself?")
	p.press("Enter")
	p.waitFor(`document.querySelectorAll('[data-testid=msg-assistant]').length === 2`, "the second answer to start")
	p.reload()
	p.waitForWithin(`(() => { const a = document.querySelectorAll('[data-testid=msg-assistant]'); return a.length === 2 && a[1].dataset.status === 'completed' && a[1].querySelector('[data-testid=citation]') !== null; })()`, "the second answer and its citations after the reload", 90e9)
	require.Equal(t, float64(2), evalNumber(p, `document.querySelectorAll('[data-testid=msg-user]').length`), "nothing was sent twice")

	// What the page shows is exactly the stored answer: nothing lost, nothing doubled.
	var check struct {
		Shown, Stored string
	}
	p.eval(`(async () => {
		const { renderMarkdown } = await import('/assets/js/markdown.js');
		const id = location.hash.split('/')[2];
		const sess = await (await fetch('/v1/chat/sessions/' + id)).json();
		const last = sess.messages.filter((m) => m.role === 'assistant').pop();
		const turn = await (await fetch('/v1/chat/turns/' + last.turn_id)).json();
		const box = document.createElement('div');
		box.append(renderMarkdown(turn.answer, { citation: (n) => turn.citations.some((c) => c.index === n) ? document.createTextNode(String(n)) : null }));
		return { Shown: document.querySelectorAll('[data-testid=answer]')[1].textContent, Stored: box.textContent };
	})()`, &check)
	require.NotEmpty(t, check.Stored)
	require.Equal(t, check.Stored, check.Shown)
}

// TestWebChatStreamsResumesAndStops runs the chat against a scripted, slow model, so
// the page can be reloaded while the answer is still streaming, and stopped.
func TestWebChatStreamsResumesAndStops(t *testing.T) {
	b := startBrowser(t)
	llm := llmtest.New(t)
	tokens := make([]string, 40)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("word%02d ", i)
	}
	llm.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "current_time", Arguments: map[string]any{}}}, FirstTokenDelay: 300 * time.Millisecond},
		llmtest.Script{Tokens: tokens, TokenDelay: 80 * time.Millisecond},
		llmtest.Script{Tokens: []string{"Partial ", "answer ", "so ", "far"}, TokenDelay: 50 * time.Millisecond, Stall: true},
	)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-web-chat-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_CHAT_BACKEND": "ollama",
		"YW_OLLAMA_URL": llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_EMBED_MODEL": llmtest.EmbedModel})
	c := apitest.NewClient(t, base)
	key := newUser(t, c, admin, "carol")

	p := b.newPage(t, "carol")
	p.goTo(base + "/#/chat")
	p.typeInto("input[name=key]", key)
	p.press("Enter")
	p.waitFor(`document.querySelector('[data-testid=composer]')`, "the composer")
	var status int
	p.eval(`fetch('/v1/chat/sessions').then(r => r.status)`, &status)
	if status == http.StatusNotFound {
		t.Skip("the chat endpoints (/v1/chat/...) are not served yet: GET /v1/chat/sessions answers 404")
	}

	// The tool call shows live with its status and latency, then the answer streams.
	p.typeInto("[data-testid=composer]", "What time is it?")
	p.press("Enter")
	p.waitFor(`document.querySelector('[data-testid=tool-calls] details[data-status=ok]')?.textContent.includes('current_time')`, "the finished tool call")
	require.Regexp(t, `\d+ ms`, p.evalString(`document.querySelector('[data-testid=tool-calls] details').textContent`))
	p.waitFor(`document.querySelector('[data-testid=answer]').textContent.includes('word03')`, "the first streamed words")
	p.screenshot("13-chat-streaming")

	// Reload in the middle of the answer: the page picks the stream up where it was.
	var running string
	p.eval(`(async () => {
		const id = location.hash.split('/')[2];
		const sess = await (await fetch('/v1/chat/sessions/' + id)).json();
		const turn = await (await fetch('/v1/chat/turns/' + sess.messages[0].turn_id)).json();
		return turn.status;
	})()`, &running)
	require.Equal(t, "running", running, "the reload must happen mid-stream")
	p.reload()
	p.waitFor(`document.querySelector('[data-testid=msg-assistant]')`, "the answer after the reload")
	require.False(t, p.evalBool(`document.querySelector('[data-testid=msg-assistant]').dataset.status === 'completed'`), "still streaming after the reload")
	p.waitForWithin(`document.querySelector('[data-testid=msg-assistant]').dataset.status === 'completed'`, "the completed answer", 60*time.Second)
	shown := p.evalString(`document.querySelector('[data-testid=answer]').textContent`)
	require.Equal(t, strings.TrimSpace(strings.Join(tokens, "")), strings.TrimSpace(shown), "every word exactly once")
	require.True(t, p.evalBool(`document.querySelector('[data-testid=tool-calls]').textContent.includes('current_time')`), "the tool call survives the reload")

	// Stop: the answer ends cancelled and keeps what was generated.
	p.typeInto("[data-testid=composer]", "Tell me a long story")
	p.press("Enter")
	p.waitFor(`document.querySelectorAll('[data-testid=answer]')[1]?.textContent.includes('so far')`, "the partial answer")
	p.click("[data-testid=stop]", "")
	p.waitFor(`document.querySelectorAll('[data-testid=msg-assistant]')[1].dataset.status === 'cancelled'`, "the stopped answer")
	require.Contains(t, p.evalString(`document.querySelectorAll('[data-testid=answer]')[1].textContent`), "Partial answer so far")
	p.screenshot("14-chat-stopped")
	require.Empty(t, p.problems())
}
