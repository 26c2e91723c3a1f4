package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/corpustest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

type statusComponent struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

type statusBody struct {
	Status     string `json:"status"`
	Components struct {
		LLM      statusComponent            `json:"llm"`
		Embedder statusComponent            `json:"embedder"`
		MCP      map[string]statusComponent `json:"mcp"`
	} `json:"components"`
}

type readinessBody struct {
	Status string `json:"status"`
	Checks map[string]struct {
		OK        bool  `json:"ok"`
		LatencyMS int64 `json:"latency_ms"`
	} `json:"checks"`
}

// requireReadyToServe checks that /readyz answers 200 with exactly the checks of
// what the process needs for its own traffic, and names no address.
func requireReadyToServe(t *testing.T, c *apitest.Client) {
	t.Helper()
	var ready readinessBody
	resp := c.Do("GET", "/readyz", "", nil, http.StatusOK, &ready)
	require.Equal(t, "ok", ready.Status)
	names := make([]string, 0, len(ready.Checks))
	for name, check := range ready.Checks {
		names = append(names, name)
		require.True(t, check.OK, name)
	}
	require.ElementsMatch(t, []string{"postgres", "nats", "vectors"}, names, "models and MCP servers never decide readiness")
	requireNoAddress(t, resp.Body)
}

// requireNoAddress checks a body shown to clients for URLs and addresses.
func requireNoAddress(t *testing.T, body string) {
	t.Helper()
	for _, leak := range []string{"http:", "https:", "127.0.0.1", "localhost", "refused"} {
		require.NotContains(t, body, leak)
	}
}

// statusUntil polls /v1/status, as the web UI does, until cond holds.
func statusUntil(t *testing.T, c *apitest.Client, key string, cond func(statusBody) bool, what string) statusBody {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var s statusBody
		resp := c.Do("GET", "/v1/status", key, nil, http.StatusOK, &s)
		requireNoAddress(t, resp.Body)
		if cond(s) {
			return s
		}
		require.True(t, time.Now().Before(deadline), "waiting for %s; last status %s", what, resp.Body)
		time.Sleep(100 * time.Millisecond) // polling interval, as a client would
	}
}

func TestReadinessHoldsWhileTheModelServerIsDown(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-status-down-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error",
		"YW_OLLAMA_URL": llmtest.DeadURL(t), "YW_CHAT_MODEL": llmtest.ChatModel, "YW_EMBED_MODEL": llmtest.EmbedModel})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")

	// The replica stays in the load balancer ...
	requireReadyToServe(t, c)

	// ... and says what works differently, to signed-in users only.
	c.Do("GET", "/v1/status", "", nil, http.StatusUnauthorized, nil)
	var s statusBody
	resp := c.Do("GET", "/v1/status", alice, nil, http.StatusOK, &s)
	requireNoAddress(t, resp.Body)
	require.Equal(t, "degraded", s.Status)
	require.False(t, s.Components.LLM.OK)
	require.Equal(t, "the chat model test-chat is not answering; answers quote your documents until it is back", s.Components.LLM.Detail)
	require.False(t, s.Components.Embedder.OK, "the index was built without the configured embedding model")
	require.Contains(t, s.Components.Embedder.Detail, "search uses keywords only")
	require.NotNil(t, s.Components.MCP)
	require.Empty(t, s.Components.MCP, "no MCP server configured")
	require.Contains(t, resp.Header.Get("Cache-Control"), "no-store")

	// It really serves: an upload is indexed and found by keyword search.
	var up struct {
		Documents []document `json:"documents"`
	}
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "fake-text.txt", Data: corpustest.Read(t, "fake-text.txt")}}, nil, http.StatusAccepted, &up)
	require.Len(t, up.Documents, 1)
	require.Equal(t, "ready", waitFor(t, c, alice, up.Documents[0].ID).Status)
	var found hits
	c.Do("POST", "/v1/search", alice, map[string]any{"query": "hamburgers delicious"}, http.StatusOK, &found)
	require.NotEmpty(t, found.Hits)
	require.Equal(t, up.Documents[0].ID, found.Hits[0].DocumentID)
	requireReadyToServe(t, c)
}

// startStatusMCP serves a real MCP server over streamable HTTP and returns it with
// a function that takes it down, as a crash would.
func startStatusMCP(t *testing.T) (*httptest.Server, func()) {
	t.Helper()
	server := mcp.NewServer(&mcp.Implementation{Name: "tools", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "ping", Description: "Answers pong."},
		func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "pong"}}}, nil, nil
		})
	s := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	down := func() {
		for ss := range server.Sessions() {
			_ = ss.Close()
		}
		s.CloseClientConnections()
		s.Close()
	}
	t.Cleanup(down)
	return s, down
}

func TestStatusFollowsTheModelAndToolServers(t *testing.T) {
	t.Parallel()
	model := llmtest.New(t)
	tools, toolsDown := startStatusMCP(t)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-status-follow-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error",
		"YW_OLLAMA_URL": model.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_EMBED_MODEL": llmtest.EmbedModel,
		"YW_MCP_SERVERS": "tools=" + tools.URL + "/?token=secret-in-the-url"})
	c := apitest.NewClient(t, base)
	bob := newUser(t, c, admin, "bob")

	s := statusUntil(t, c, bob, func(s statusBody) bool { return s.Status == "ok" }, "everything up")
	require.Equal(t, statusComponent{OK: true, Detail: "the chat model test-chat is answering"}, s.Components.LLM)
	require.Equal(t, statusComponent{OK: true, Detail: "the embedding model test-embed is answering"}, s.Components.Embedder)
	require.Equal(t, map[string]statusComponent{"tools": {OK: true, Detail: "the tool server tools is reachable"}}, s.Components.MCP)

	// Clients polling all at once never reach the model server directly.
	before := model.Count("/api/show")
	for range 30 {
		c.Do("GET", "/v1/status", bob, nil, http.StatusOK, nil)
	}
	require.LessOrEqual(t, model.Count("/api/show")-before, 4, "at most two probe runs (chat and embedding model each) for 30 requests")

	// The chat model is removed and the tool server crashes: degraded, still ready.
	model.RemoveModel(llmtest.ChatModel)
	toolsDown()
	s = statusUntil(t, c, bob, func(s statusBody) bool { return !s.Components.LLM.OK && !s.Components.MCP["tools"].OK },
		"the chat model and the tool server down")
	require.Equal(t, "degraded", s.Status)
	require.Equal(t, "the chat model test-chat is not installed on the model server; answers quote your documents until it is", s.Components.LLM.Detail)
	require.True(t, s.Components.Embedder.OK, "the embedding model still answers")
	require.Equal(t, "the tool server tools is not answering; its tools are unavailable", s.Components.MCP["tools"].Detail)
	requireReadyToServe(t, c)
	raw, err := json.Marshal(s)
	require.NoError(t, err)
	require.False(t, strings.Contains(string(raw), "secret-in-the-url"))

	// The model comes back: so does the chat component.
	model.AddModel(llmtest.ChatModel)
	s = statusUntil(t, c, bob, func(s statusBody) bool { return s.Components.LLM.OK }, "the chat model back")
	require.Equal(t, "degraded", s.Status, "the tool server is still down")
}
