package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// usageReport is the part of a usage report these tests read.
type usageReport struct {
	Days []struct {
		Date              string `json:"date"`
		Turns             int64  `json:"turns"`
		ActiveUsers       int64  `json:"active_users"`
		DocumentsIngested int64  `json:"documents_ingested"`
	} `json:"days"`
	Models []struct {
		Name  string `json:"name"`
		Turns int64  `json:"turns"`
	} `json:"models"`
	Formats []struct {
		MIME      string `json:"mime"`
		Documents int64  `json:"documents"`
	} `json:"formats"`
}

// TestAnalyticsInTheWebUI: a user uploads a document and asks a question; the admin
// sees that activity in the Analytics tab, and the user sees it on their account page.
func TestAnalyticsInTheWebUI(t *testing.T) {
	b := startBrowser(t)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-analytics-web-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn"})
	c := apitest.NewClient(t, base)
	dora := newUser(t, c, admin, "dora")

	// Real activity: an upload that becomes ready, and a turn the extractive answerer
	// completes without a model.
	doc, _ := uploadOne(t, c, dora, "harbour.txt", []byte("The harbour master keeps the tide tables for every pier.\n"), http.StatusAccepted)
	require.Equal(t, "ready", waitFor(t, c, dora, doc.ID).Status)
	var sent struct {
		Turn struct {
			Status string `json:"status"`
		} `json:"turn"`
	}
	c.Do("POST", "/v1/chat/send", dora, map[string]any{"content": "Who keeps the tide tables?"}, http.StatusOK, &sent)
	require.Equal(t, "completed", sent.Turn.Status)

	// The API first: today has dora's turn and upload, for her and for the admin.
	today := time.Now().UTC().Format(time.DateOnly)
	for _, who := range []struct{ key, path string }{{dora, "/v1/me/usage"}, {admin, "/v1/admin/analytics"}} {
		var rep usageReport
		c.Do("GET", who.path+"?from="+today+"&to="+today, who.key, nil, http.StatusOK, &rep)
		require.Len(t, rep.Days, 1, who.path)
		require.Equal(t, today, rep.Days[0].Date)
		require.Equal(t, int64(1), rep.Days[0].Turns, who.path)
		require.Equal(t, int64(1), rep.Days[0].ActiveUsers, who.path)
		require.Equal(t, int64(1), rep.Days[0].DocumentsIngested, who.path)
		require.Len(t, rep.Models, 1, who.path)
		require.Equal(t, int64(1), rep.Models[0].Turns)
		require.Equal(t, "text/plain", rep.Formats[0].MIME)
	}
	c.Do("GET", "/v1/admin/analytics?from=2025-01-01&to=2026-03-01", admin, nil, http.StatusBadRequest, nil)
	c.Do("GET", "/v1/admin/analytics", dora, nil, http.StatusNotFound, nil)

	// The admin's Analytics tab, tall enough to show every chart and table.
	adm := b.newPage(t, "analytics-admin")
	adm.viewport(1280, 2000, false)
	adm.goTo(base + "/")
	adm.typeInto("input[name=key]", admin)
	adm.press("Enter")
	adm.waitFor(`document.querySelector('a.nav-link[data-path=admin]')`, "the admin page link")
	adm.click("a.nav-link", "Admin")
	adm.click("button[role=tab]", "Analytics")
	adm.waitFor(`document.querySelector('[data-testid=usage-turns] .value')?.textContent === '1'`, "one turn in the last 30 days")
	require.Equal(t, "1", adm.evalString(`document.querySelector('[data-testid=usage-documents] .value').textContent`))
	require.Equal(t, "1", adm.evalString(`document.querySelector('[data-testid=usage-peak-users] .value').textContent`))
	require.Equal(t, 30, int(evalNumber(adm, `document.querySelectorAll('[data-testid=chart-turns] .chart-data tbody tr').length`)), "a row for every day")
	require.Equal(t, 1, int(evalNumber(adm, `document.querySelectorAll('[data-testid=chart-turns] rect.chart-tone-1').length`)), "one day with turns")
	require.Contains(t, adm.evalString(`document.querySelector('[data-testid=chart-turns] svg[role=img] title').textContent`), "Turns and active users per day")
	require.Contains(t, adm.evalString(`document.querySelector('[data-testid=chart-turns] svg desc').textContent`), "Turns: 1 in all")
	require.Contains(t, adm.evalString(`document.querySelector('[data-testid=usage-formats]').textContent`), "text/plain")
	require.Contains(t, adm.evalString(`document.querySelector('[data-testid=usage-models] tbody').textContent`), "1")
	// The extractive answerer searches the documents once per question.
	require.Equal(t, "search_documents|1|0|0%", adm.evalString(`[...document.querySelectorAll('[data-testid=usage-tools] tbody tr > *')].map(e => e.textContent).filter(Boolean).slice(0, 4).join('|')`))
	// The upload and the chat went through the API, so their routes are among the
	// counted ones, with their volume and latency.
	routes := adm.evalString(`document.querySelector('[data-testid=usage-routes] tbody').textContent`)
	require.Contains(t, routes, "POST /v1/documents")
	require.Contains(t, routes, "POST /v1/chat/send")
	require.Contains(t, routes, " ms")
	require.NotContains(t, routes, "/events", "event streams last as long as the client watches: not counted")
	require.NotContains(t, routes, "/assets/", "the UI's files are not the API")
	adm.screenshot("15-admin-analytics")
	adm.eval(`(() => { const s = document.querySelector('[data-testid=usage-period]'); s.value = '7'; s.dispatchEvent(new Event('change')); return true })()`, nil)
	adm.waitFor(`document.querySelectorAll('[data-testid=chart-turns] .chart-data tbody tr').length === 7`, "the last 7 days")
	adm.click("button", "Switch to dark theme")
	adm.waitFor(`document.documentElement.dataset.theme === 'dark'`, "the dark theme")
	// The bars take the dark theme's accent, not a colour fixed in the page.
	require.Equal(t, adm.evalString(`getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()`), "#7c95ff")
	require.Equal(t, "rgb(124, 149, 255)", adm.evalString(`getComputedStyle(document.querySelector('[data-testid=chart-turns] rect.chart-tone-1')).fill`))
	adm.screenshot("16-admin-analytics-dark")

	// Dora's own usage on her account page.
	user := b.newPage(t, "analytics-user")
	user.viewport(1280, 1400, false)
	user.goTo(base + "/#/account")
	user.typeInto("input[name=key]", dora)
	user.press("Enter")
	user.waitFor(`document.querySelector('[data-testid=who]')?.textContent === 'dora'`, "dora signed in")
	user.click("a.nav-link", "Account")
	user.waitFor(`document.querySelector('[data-testid=usage] [data-testid=usage-turns] .value')?.textContent === '1'`, "dora's turn")
	require.Equal(t, "1", user.evalString(`document.querySelector('[data-testid=usage] [data-testid=usage-documents] .value').textContent`))
	require.False(t, user.evalBool(`!!document.querySelector('[data-testid=usage-peak-users]')`), "a user's page shows their own numbers, not the platform's")
	require.Equal(t, 1, int(evalNumber(user, `document.querySelectorAll('[data-testid=usage] [data-testid=chart-turns] rect.chart-tone-1').length`)))
	user.screenshot("17-account-usage")

	// Her data, from the same page: the link downloads the archive with her browser
	// session, and the history can be erased after a confirmation.
	require.Equal(t, "200 application/zip", user.evalString(`fetch(document.querySelector('[data-testid=export-link]').href).then(r => r.status + ' ' + r.headers.get('content-type'))`))
	user.click("button", "Delete my chat history")
	user.click("dialog button", "Delete all chats")
	user.waitFor(`[...document.querySelectorAll('.toast')].some(e => e.textContent.includes('Chat history deleted'))`, "the history deleted")
	var sessions struct {
		Sessions []any `json:"sessions"`
	}
	c.Do("GET", "/v1/chat/sessions", dora, nil, http.StatusOK, &sessions)
	require.Empty(t, sessions.Sessions)
	user.screenshot("18-account-data")

	// And she leaves: the account goes, and the browser is back at the sign-in form.
	user.click("button", "Delete my account")
	user.click("dialog button", "Delete my account")
	user.waitFor(`!!document.querySelector('input[name=key]')`, "the sign-in form")
	c.Do("GET", "/v1/me", dora, nil, http.StatusUnauthorized, nil)
	c.Do("GET", "/v1/documents/"+doc.ID, admin, nil, http.StatusNotFound, nil)
	require.Empty(t, adm.problems())
	require.Empty(t, user.problems())
}
