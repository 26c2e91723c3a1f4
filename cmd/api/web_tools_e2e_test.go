package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// fakeSearXNG answers /search?q=..&format=json as SearXNG does, with results
// chosen by the test, and records the queries.
type fakeSearXNG struct {
	*httptest.Server
	mu      sync.Mutex
	queries []string
	results []map[string]string
}

func newFakeSearXNG(t *testing.T) *fakeSearXNG {
	f := &fakeSearXNG{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/search" || r.URL.Query().Get("format") != "json" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		f.mu.Lock()
		f.queries = append(f.queries, r.URL.Query().Get("q"))
		body, _ := json.Marshal(map[string]any{"query": r.URL.Query().Get("q"), "results": f.results})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(f.Close)
	return f
}

// TestWebSearchFetchAndCitedAnswerEndToEnd: a chat turn through the whole
// platform searches the web with SearXNG, reads a result through the guarded
// client, is refused a page inside the network, and answers citing the page by
// its URL, in the turn, its events and the chat's export.
func TestWebSearchFetchAndCitedAnswerEndToEnd(t *testing.T) {
	report, err := os.ReadFile("../../pkg/article/testdata/article.html")
	require.NoError(t, err)
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(report)
	}))
	t.Cleanup(pages.Close)
	_, port, _ := strings.Cut(strings.TrimPrefix(pages.URL, "http://"), ":")
	pageURL, inside := pages.URL+"/reports/q3", "http://127.0.0.2:"+port+"/admin"
	searx := newFakeSearXNG(t)
	searx.results = []map[string]string{
		{"url": pageURL, "title": "Quarterly cold-chain report", "content": "How the cold chain performed this quarter.", "engine": "duckduckgo"},
		{"url": "https://elsewhere.example/cold", "title": "Cold chains explained", "content": "A primer."},
	}

	question := "What happened on the Lyon route last quarter?"
	model := newScriptedModel(t)
	model.on(question,
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "web_search", Arguments: map[string]any{"query": "cold chain report Lyon"}}}},
		llmtest.Script{ToolCalls: []llmtest.ToolCall{
			{Name: "fetch_page", Arguments: map[string]any{"url": pageURL}},
			{Name: "fetch_page", Arguments: map[string]any{"url": inside}},
		}},
		llmtest.Text("The Lyon route had 7 excursions, the longest 122 minutes [1]."),
	)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-web-tools-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_LOG_LEVEL": "warn",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_OLLAMA_URL": model.llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel,
		"YW_SEARXNG_URL": searx.URL, "YW_FETCH_PAGE": "true", "YW_FETCH_ALLOW_CIDRS": "127.0.0.1/32"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")

	var sent struct {
		SessionID string `json:"session_id"`
		Turn      struct {
			Status    string `json:"status"`
			Answer    string `json:"answer"`
			Citations []struct {
				Index      int    `json:"index"`
				DocumentID string `json:"document_id"`
				Filename   string `json:"filename"`
				URL        string `json:"url"`
			} `json:"citations"`
			ToolCalls []struct {
				Name   string `json:"name"`
				Status string `json:"status"`
			} `json:"tool_calls"`
		} `json:"turn"`
	}
	c.Do("POST", "/v1/chat/send", alice, map[string]any{"content": question}, http.StatusOK, &sent)
	turn := sent.Turn
	require.Equal(t, "completed", turn.Status)
	require.Equal(t, "The Lyon route had 7 excursions, the longest 122 minutes [1].", turn.Answer)
	require.Len(t, turn.ToolCalls, 3)
	require.Equal(t, "web_search", turn.ToolCalls[0].Name)
	require.ElementsMatch(t, []string{"ok", "ok", "error"}, []string{turn.ToolCalls[0].Status, turn.ToolCalls[1].Status, turn.ToolCalls[2].Status},
		"the page and the search are read, the page inside the network is refused")
	require.Len(t, turn.Citations, 1)
	require.Equal(t, 1, turn.Citations[0].Index)
	require.Equal(t, pageURL, turn.Citations[0].URL)
	require.Equal(t, "Quarterly cold-chain report", turn.Citations[0].Filename)
	require.Empty(t, turn.Citations[0].DocumentID)
	require.Equal(t, []string{"cold chain report Lyon"}, searx.queries)

	// What the model was shown: numbered results with their URLs, then the page's
	// text with its table, and a refusal for the page inside the network.
	reqs := model.requests(question)
	require.Len(t, reqs, 3)
	results := reqs[1].Messages[len(reqs[1].Messages)-1].Content
	require.Contains(t, results, "[1] Quarterly cold-chain report <"+pageURL+">")
	require.Contains(t, results, "[2] Cold chains explained <https://elsewhere.example/cold>")
	var page, refused string
	for _, m := range reqs[2].Messages {
		if m.Role == "tool" && strings.HasPrefix(m.Content, "[1]") {
			page = m.Content
		}
		if m.Role == "tool" && strings.HasPrefix(m.Content, "Error:") {
			refused = m.Content
		}
	}
	require.Contains(t, page, `| Lyon \| Turin | 95 | 7 | 122 |`)
	require.NotContains(t, page, "About us", "the page's navigation is not its text")
	require.Equal(t, "Error: this URL leads to an address inside the network, which is not fetched", refused)

	resp := c.Do("GET", "/v1/chat/sessions/"+sent.SessionID+"/export", alice, nil, http.StatusOK, nil)
	require.Contains(t, resp.Body, "- [1] Quarterly cold-chain report, <"+pageURL+">")
}
