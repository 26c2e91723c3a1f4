package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/oidctest"
)

// TestOIDCSignInInChromium signs in the way a person does: "Sign in with …" on the
// sign-in page, the provider's login form on another site (localhost, not
// 127.0.0.1, so the browser treats the provider as cross-site, as in production),
// back to the web UI signed in; then signs out here and at the provider.
func TestOIDCSignInInChromium(t *testing.T) {
	b := startBrowser(t)
	idp := oidctest.Start(t, oidctest.Options{Host: "localhost"})
	idp.AddUser(oidctest.User{Subject: "sub-hana", Username: "hana", Password: "hana-pw", Name: "Hana",
		Email: "hana@corp.example", EmailVerified: true, Groups: []string{"research"}})
	admin := "bootstrap-admin-key-for-oidc-web-e2e"
	base := oidcAPI(t, idp, admin, nil)

	p := b.newPage(t, "hana")
	p.goTo(base + "/")
	p.waitFor(`document.querySelector('[data-testid=sign-in-sso]')?.textContent === 'Sign in with Test IdP'`, "the single sign-on button")
	require.True(t, p.evalBool(`document.querySelector('input[name=key]')`), "the API key form stays")
	p.screenshot("40-sso-sign-in")

	p.click("[data-testid=sign-in-sso]", "Sign in with Test IdP")
	p.waitFor(`location.hostname === 'localhost' && document.querySelector('input[name=username]')`, "the provider's login form")
	p.screenshot("41-sso-provider-login")
	p.typeInto("input[name=username]", "hana")
	p.typeInto("input[name=password]", "hana-pw")
	p.click("button", "Sign in")
	p.waitFor(`document.querySelector('[data-testid=who]')?.textContent === 'hana'`, "hana signed in")
	require.Equal(t, base+"/#/chat", p.evalString(`location.href`))
	require.Equal(t, "", p.evalString(`document.cookie`), "the session cookie is out of reach of scripts")
	var status int
	p.eval(`fetch('/v1/me').then(r => r.status)`, &status)
	require.Equal(t, http.StatusOK, status)

	// The provider's group is hers, managed by the provider.
	p.click("a.nav-link", "Groups")
	p.waitFor(`document.querySelector('[data-testid=managed]') && document.querySelector('#group-title')?.textContent === 'research'`, "the managed group")
	require.False(t, p.evalBool(`[...document.querySelectorAll('button')].some(b => /Leave|Delete group/.test(b.textContent))`), "no hand edits of a managed group")
	p.screenshot("42-sso-managed-group")

	// Sign out: the session ends here, then at the provider, which sends her back.
	p.click("button", "Sign out")
	p.waitFor(`location.href === '`+base+`/' && document.querySelector('[data-testid=sign-in-sso]')`, "the sign-in page after signing out at the provider")
	p.eval(`fetch('/v1/me').then(r => r.status)`, &status)
	require.Equal(t, http.StatusUnauthorized, status)
	require.NotEmpty(t, idp.EndedSessions(), "the provider's end-session endpoint was reached")

	// A failed sign-in shows a page that says why, with a way to try again.
	p.goTo(base + "/ui/auth/oidc/callback?state=forged&code=forged")
	p.waitFor(`document.querySelector('[data-testid=sign-in-failed]')`, "the sign-in failure page")
	require.Contains(t, p.bodyText(), "not started in this browser")
	require.True(t, p.evalBool(`[...document.querySelectorAll('a')].some(a => a.textContent === 'Try again' && a.getAttribute('href') === '/ui/auth/oidc/login')`))
	p.screenshot("43-sso-sign-in-failed")
	require.Empty(t, p.problems(), "scripts and CSP run clean")
}
