package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/api"
	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/service"
)

type modelList struct {
	Models []service.Model `json:"models"`
}

// Users choose among the models the operator allows, and the API refuses any
// other: nobody loads a model of their own into the shared server.
func TestChatModelsAreTheOperatorsAllowList(t *testing.T) {
	t.Parallel()
	model := newScriptedModel(t)
	model.llm.AddModel("qwen3:8b")
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-models-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn",
		"YW_OLLAMA_URL": model.llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_CHAT_MODELS": "qwen3:8b, mistral:7b, " + llmtest.ChatModel})
	c := apitest.NewClient(t, base)
	bob := newUser(t, c, admin, "bob")

	var list modelList
	c.Do("GET", "/v1/models", bob, nil, http.StatusOK, &list)
	require.Equal(t, []service.Model{
		{Name: llmtest.ChatModel, Default: true, Available: true},
		{Name: "qwen3:8b", Available: true},
		{Name: "mistral:7b", Available: false},
	}, list.Models, "the default first, each once; mistral is allowed but not installed")

	// A model outside the list is refused before anything is queued.
	var sess struct{ ID string }
	c.Do("POST", "/v1/chat/sessions", bob, nil, http.StatusCreated, &sess)
	for _, other := range []string{"llama3.1:405b", "qwen3:32b"} {
		var p api.Problem
		c.Do("POST", "/v1/chat/sessions/"+sess.ID+"/messages", bob, map[string]any{"content": "hi", "model": other}, http.StatusBadRequest, &p)
		require.Equal(t, "validation_failed", p.Code)
		require.Len(t, p.Errors, 1)
		require.Equal(t, "model", p.Errors[0].Field)
		c.Do("POST", "/v1/chat/send", bob, map[string]any{"content": "hi", "model": other}, http.StatusBadRequest, &p)
		require.Equal(t, "model", p.Errors[0].Field)
	}
	var detail struct {
		Messages []any `json:"messages"`
	}
	c.Do("GET", "/v1/chat/sessions/"+sess.ID, bob, nil, http.StatusOK, &detail)
	require.Empty(t, detail.Messages, "nothing of a refused message is kept")

	// An allowed model answers the turn; the default answers when none is named.
	const q = "Which model are you?"
	model.on(q, llmtest.Text("I am qwen."))
	turnID, _ := askChat(t, c, bob, q, map[string]any{"model": "qwen3:8b", "tools": false})
	events := readEvents(t, base, bob, turnID, 0, 0)
	require.Equal(t, "turn.completed", events[len(events)-1].Type)
	require.Equal(t, "qwen3:8b", getChatTurn(t, c, bob, turnID).Model)
	reqs := model.requests(q)
	require.Len(t, reqs, 1)
	require.Equal(t, "qwen3:8b", reqs[0].Model)
	turnID, _ = askChat(t, c, bob, "And now?", map[string]any{"tools": false})
	readEvents(t, base, bob, turnID, 0, 0)
	require.Equal(t, llmtest.ChatModel, getChatTurn(t, c, bob, turnID).Model)

	// The model server's listing is followed: a model pulled later becomes available.
	model.llm.AddModel("mistral:7b")
	require.Eventually(t, func() bool {
		c.Do("GET", "/v1/models", bob, nil, http.StatusOK, &list)
		return list.Models[2].Available
	}, 60*time.Second, 250*time.Millisecond)
}

type toolList struct {
	Tools []struct {
		Name        string  `json:"name"`
		Source      string  `json:"source"`
		Server      *string `json:"server"`
		Description string  `json:"description"`
		Healthy     bool    `json:"healthy"`
	} `json:"tools"`
}

type mcpServerList struct {
	Servers []struct {
		Name      string  `json:"name"`
		URL       string  `json:"url"`
		Healthy   bool    `json:"healthy"`
		Tools     int     `json:"tools"`
		Error     *string `json:"error"`
		LastError *string `json:"last_error"`
	} `json:"servers"`
}

// Users see the tools chat may call, MCP ones with their server's health;
// admins see the MCP servers and their last error, without their secrets.
func TestToolsListBuiltinAndMCPToolsWithTheirHealth(t *testing.T) {
	t.Parallel()
	tools, toolsDown := startStatusMCP(t)
	dead := llmtest.DeadURL(t)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-tools-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error",
		"YW_MCP_SERVERS": "tools=" + tools.URL + "/?token=secret-in-the-url,files=" + dead + "/mcp?token=other-secret"})
	c := apitest.NewClient(t, base)
	bob := newUser(t, c, admin, "bob")

	var list toolList
	c.Do("GET", "/v1/tools", bob, nil, http.StatusOK, &list)
	byName := map[string]int{}
	for i, tl := range list.Tools {
		byName[tl.Name] = i
	}
	for _, name := range []string{agent.SearchToolName, "current_time", "convert_units"} {
		tl := list.Tools[byName[name]]
		require.Equal(t, "builtin", tl.Source, name)
		require.Nil(t, tl.Server, name)
		require.True(t, tl.Healthy, name)
		require.NotEmpty(t, tl.Description, name)
	}
	ping := list.Tools[byName["tools__ping"]]
	require.Equal(t, "mcp", ping.Source)
	require.Equal(t, "tools", *ping.Server)
	require.Equal(t, "Answers pong.", ping.Description)
	require.True(t, ping.Healthy)
	require.Len(t, list.Tools, 4, "the dead server has no tools to list")

	var servers mcpServerList
	c.Do("GET", "/v1/admin/mcp/servers", bob, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/admin/mcp/servers", admin, nil, http.StatusOK, &servers)
	require.Len(t, servers.Servers, 2)
	require.Equal(t, "tools", servers.Servers[0].Name)
	require.True(t, servers.Servers[0].Healthy)
	require.Equal(t, 1, servers.Servers[0].Tools)
	require.Nil(t, servers.Servers[0].LastError)
	files := servers.Servers[1]
	require.Equal(t, "files", files.Name)
	require.False(t, files.Healthy)
	require.NotNil(t, files.LastError)
	require.Contains(t, *files.LastError, "connect")

	// The tool server crashes: the next listing makes its tools unhealthy.
	toolsDown()
	require.Eventually(t, func() bool {
		c.Do("GET", "/v1/tools", bob, nil, http.StatusOK, &list)
		return !list.Tools[byName["tools__ping"]].Healthy
	}, 90*time.Second, 250*time.Millisecond)
	c.Do("GET", "/v1/admin/mcp/servers", admin, nil, http.StatusOK, &servers)
	require.False(t, servers.Servers[0].Healthy)
	require.NotNil(t, servers.Servers[0].Error)
	raw := c.Send(c.Request("GET", "/v1/admin/mcp/servers", admin, nil), http.StatusOK, nil).Body
	require.False(t, strings.Contains(raw, "secret"), "no token of a server URL is shown: %s", raw)
}
