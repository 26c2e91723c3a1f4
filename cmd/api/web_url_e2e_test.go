package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// TestURLFieldAndWebCitationsInTheWebUI: in the browser, a person adds documents
// by their web addresses in the upload panel, sees them fetched (or refused,
// with the reason), fetches one again, and reads a chat answer whose web source
// is a link to the page.
func TestURLFieldAndWebCitationsInTheWebUI(t *testing.T) {
	b := startBrowser(t)
	web := newSite(t)
	report, err := os.ReadFile("../../pkg/article/testdata/article.html")
	require.NoError(t, err)
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(report)
	}))
	t.Cleanup(pages.Close)
	searx := newFakeSearXNG(t)
	searx.results = []map[string]string{{"url": pages.URL + "/q3", "title": "Quarterly cold-chain report", "content": "How the cold chain did."}}
	question := "How did the cold chain do?"
	model := newScriptedModel(t)
	model.on(question,
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "web_search", Arguments: map[string]any{"query": "cold chain quarter"}}}},
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "fetch_page", Arguments: map[string]any{"url": pages.URL + "/q3"}}}},
		llmtest.Text("Almost every shipment stayed within its band [1]."),
	)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-url-web-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_LOG_LEVEL": "warn",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_OLLAMA_URL": model.llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel,
		"YW_SEARXNG_URL": searx.URL, "YW_FETCH_PAGE": "true", "YW_FETCH_ALLOW_CIDRS": "127.0.0.1/32"})
	c := apitest.NewClient(t, base)
	hana := newUser(t, c, admin, "hana")
	_, port, _ := strings.Cut(strings.TrimPrefix(web.URL, "http://"), ":")
	handbook, inside := web.URL+"/handbook", "http://127.0.0.2:"+port+"/handbook"

	p := b.newPage(t, "url-field")
	p.goTo(base + "/#/documents")
	p.typeInto("input[name=key]", hana)
	p.press("Enter")
	p.waitFor(`document.querySelector('[data-testid=who]')?.textContent === 'hana'`, "hana signed in")
	p.click("a.nav-link", "Documents")
	p.typeInto("[data-testid=url-input]", handbook+"\n"+inside)
	p.click("[data-testid=url-form] button", "Add")
	p.waitFor(`(() => { const rs = [...document.querySelectorAll('[data-testid=doc-row]')]; return rs.length === 2 && rs.every(r => r.dataset.status === 'ready' || r.dataset.status === 'failed'); })()`,
		"both addresses fetched or refused")
	require.Equal(t, "", p.evalString(`document.querySelector('[data-testid=url-input]').value`), "the field is cleared once added")
	require.Equal(t, 2, int(evalNumber(p, `document.querySelectorAll('[data-testid=doc-row] [data-testid=source-url]').length`)))
	require.Equal(t, handbook, p.evalString(`[...document.querySelectorAll('[data-testid=source-url]')].find(a => a.textContent === '`+handbook+`').href`))
	ready := `[...document.querySelectorAll('[data-testid=doc-row]')].find(r => r.dataset.status === 'ready')`
	failed := `[...document.querySelectorAll('[data-testid=doc-row]')].find(r => r.dataset.status === 'failed')`
	require.Equal(t, handbook, p.evalString(ready+`.querySelector('[data-testid=source-url]').textContent`))
	require.Contains(t, p.evalString(failed+`.querySelector('[data-testid=doc-error]').textContent`), "inside the network")
	p.screenshot("30-documents-from-urls")

	// Re-fetch: the page changed; the document follows.
	id := p.evalString(ready + `.dataset.id`)
	before := waitForURL(t, c, hana, id)
	web.handbook.Store("The capybara parking rules now apply on weekends.")
	p.click(`[data-testid=doc-row][data-status=ready] [data-testid=refetch]`, "")
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := waitForURL(t, c, hana, id)
		if d.SHA256 != before.SHA256 {
			require.Equal(t, "ready", d.Status)
			break
		}
		require.True(t, time.Now().Before(deadline), "the page was not fetched again")
		time.Sleep(50 * time.Millisecond) // polling, as the page does
	}
	p.waitFor(`document.querySelector('[data-testid=doc-row][data-id="`+id+`"]')?.dataset.status === 'ready'`, "the handbook ready again")
	var found hits
	c.Do("POST", "/v1/search", hana, map[string]any{"query": "capybara parking", "mode": "lexical"}, http.StatusOK, &found)
	require.NotEmpty(t, found.Hits, "the re-fetched content is searched")

	// A chat answer citing a web page links to it.
	p.click("a.nav-link", "Chat")
	p.waitFor(`document.querySelector('[data-testid=composer]')`, "the composer")
	p.typeInto("[data-testid=composer]", question)
	p.press("Enter")
	p.waitFor(`document.querySelector('[data-testid=msg-assistant]')?.dataset.status === 'completed' && document.querySelector('[data-testid=citation]')`, "the cited answer")
	chip := `document.querySelector('[data-testid=citation]')`
	require.Equal(t, "A", p.evalString(chip+`.tagName`), "a web source is a link")
	require.Equal(t, pages.URL+"/q3", p.evalString(chip+`.href`))
	require.Equal(t, "noopener noreferrer", p.evalString(chip+`.rel`))
	require.Contains(t, p.evalString(chip+`.textContent`), "Quarterly cold-chain report · 127.0.0.1")
	require.Equal(t, pages.URL+"/q3", p.evalString(`document.querySelector('[data-testid=msg-assistant] a.cite-ref').href`))
	p.screenshot("31-chat-web-citation")
	require.Empty(t, p.problems())
}
