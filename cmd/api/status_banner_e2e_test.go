package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// TestStatusBannerInChromium signs in while the chat model is missing, sees the
// banner say so, and sees it go once the model is back.
func TestStatusBannerInChromium(t *testing.T) {
	b := startBrowser(t)
	model := llmtest.New(t)
	model.RemoveModel(llmtest.ChatModel)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-status-banner-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error",
		"YW_OLLAMA_URL": model.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_EMBED_MODEL": llmtest.EmbedModel})
	c := apitest.NewClient(t, base)
	key := newUser(t, c, admin, "dana")

	p := b.newPage(t, "dana")
	p.goTo(base + "/")
	p.waitFor(`document.querySelector('input[name=key]')`, "the sign-in form")
	require.False(t, p.evalBool(`document.querySelector('[data-testid=status-banner]')`), "no banner before signing in")
	p.typeInto("input[name=key]", key)
	p.press("Enter")
	p.waitFor(`document.querySelector('[data-testid=status-banner]')?.dataset.status === 'degraded'`, "the first status")
	banner := `document.querySelector('[data-testid=status-banner]')`
	require.False(t, p.evalBool(banner+`.hidden`), "shown while degraded")
	require.Equal(t, "status", p.evalString(banner+`.getAttribute('role')`), "screen readers hear it")
	require.Contains(t, p.evalString(banner+`.textContent`),
		"The chat model test-chat is not installed on the model server; answers quote your documents until it is.")
	require.NotContains(t, p.evalString(banner+`.textContent`), "127.0.0.1")

	// The chat page makes room for it: the composer stays in the window.
	p.waitFor(`document.querySelector('[data-testid=composer]')`, "the composer")
	p.waitFor(`parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--banner-h')) > 0`, "room made for the banner")
	require.True(t, p.evalBool(`document.querySelector('[data-testid=composer]').getBoundingClientRect().bottom <= innerHeight`),
		"the composer is not pushed below the window")
	p.screenshot("15-status-banner")

	// The model is back: the next poll hides the banner.
	model.AddModel(llmtest.ChatModel)
	deadline := time.Now().Add(30 * time.Second)
	for p.evalString(`import('/assets/js/status.js').then((m) => m.refreshStatus())`) != "ok" {
		require.True(t, time.Now().Before(deadline), "the status did not recover; banner: %s", p.evalString(banner+`.textContent`))
		time.Sleep(200 * time.Millisecond) // polling interval, as the page would
	}
	require.True(t, p.evalBool(banner+`.hidden`), "hidden while everything works")
	p.waitFor(`getComputedStyle(document.documentElement).getPropertyValue('--banner-h').trim() === '0px'`, "the room given back")

	// Signing out stops the polling: the sign-in form shows no banner.
	var status int
	p.click("button", "Sign out")
	p.waitFor(`document.querySelector('input[name=key]')`, "the sign-in form after sign-out")
	require.False(t, p.evalBool(`document.querySelector('[data-testid=status-banner]')`))
	p.eval(`fetch('/v1/status').then(r => r.status)`, &status)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Empty(t, p.problems(), "scripts and CSP must run clean")
}
