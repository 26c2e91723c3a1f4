package platform

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging/logtest"
)

func probeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// requireSafeDetail checks that a detail shown to users names no address.
func requireSafeDetail(t *testing.T, c Component) {
	t.Helper()
	require.NotEmpty(t, c.Detail)
	for _, leak := range []string{"http", "127.0.0.1", "localhost", "dial", "refused", "token"} {
		require.NotContains(t, c.Detail, leak)
	}
}

func TestChatModelProbeSaysWhatUsersLose(t *testing.T) {
	t.Parallel()
	server := llmtest.New(t)
	probe := func(url string) Component {
		model, err := llm.NewOllama(llm.OllamaConfig{URL: url, Model: llmtest.ChatModel}, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = model.Close() })
		return chatModelProbe(llmtest.ChatModel, model, newDownLog(slog.New(slog.DiscardHandler), "llm"))(probeCtx(t))
	}

	up := probe(server.URL)
	require.True(t, up.OK)
	require.Equal(t, "the chat model test-chat is answering", up.Detail)

	dead := probe(llmtest.DeadURL(t))
	require.False(t, dead.OK)
	require.Contains(t, dead.Detail, "the chat model test-chat is not answering")
	requireSafeDetail(t, dead)

	server.RemoveModel(llmtest.ChatModel)
	missing := probe(server.URL)
	require.False(t, missing.OK)
	require.Contains(t, missing.Detail, "the chat model test-chat is not installed on the model server")
	requireSafeDetail(t, missing)
}

func TestEmbedderConditionFollowsTheActiveIndex(t *testing.T) {
	t.Parallel()
	server := llmtest.New(t)
	quiet := newDownLog(slog.New(slog.DiscardHandler), "embedder")
	ollama := func(url string) embed.Embedder {
		o, err := embed.NewOllama(embed.OllamaConfig{URL: url, Model: llmtest.EmbedModel}, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = o.Close() })
		return o
	}
	lexical, err := embed.NewLexical(0)
	require.NoError(t, err)

	for _, tc := range []struct {
		name       string
		emb        embed.Embedder
		hasLexical bool
		configured string
		ok         bool
		detail     string
	}{
		{"no model configured", lexical, true, "", true, "no embedding model is configured; search uses keywords"},
		{"index built while the model was away", lexical, true, "nomic-embed-text", false,
			"search uses keywords only: the document index was built without the embedding model nomic-embed-text; an administrator can re-embed to use it"},
		{"model answering", ollama(server.URL), true, llmtest.EmbedModel, true, "the embedding model test-embed is answering"},
		{"model server down", ollama(llmtest.DeadURL(t)), true, llmtest.EmbedModel, false,
			"the embedding model test-embed is not answering; search uses keywords only"},
		{"down, and no keyword vectors to fall back on", ollama(llmtest.DeadURL(t)), false, llmtest.EmbedModel, false,
			"the embedding model test-embed is not answering; search is unavailable until it is back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := embedderCondition(probeCtx(t), tc.emb, tc.hasLexical, tc.configured, quiet)
			require.Equal(t, Component{OK: tc.ok, Detail: tc.detail}, c)
			requireSafeDetail(t, c)
		})
	}

	t.Run("model removed from the server", func(t *testing.T) {
		t.Parallel()
		gone := llmtest.New(t)
		gone.RemoveModel(llmtest.EmbedModel)
		c := embedderCondition(probeCtx(t), ollama(gone.URL), true, llmtest.EmbedModel, quiet)
		require.Equal(t, Component{Detail: "the embedding model test-embed is not installed on the model server; search uses keywords only"}, c)
	})
}

// startMCP serves a real MCP server over streamable HTTP.
func startMCP(t *testing.T) *httptest.Server {
	t.Helper()
	server := mcp.NewServer(&mcp.Implementation{Name: "tools", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "ping", Description: "Answers pong."},
		func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "pong"}}}, nil, nil
		})
	s := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	t.Cleanup(s.Close)
	return s
}

func TestMCPProbeChecksReachabilityWithoutASession(t *testing.T) {
	t.Parallel()
	real := startMCP(t)
	var sessions int
	var mu sync.Mutex
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			mu.Lock()
			sessions++
			mu.Unlock()
		}
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}))
	t.Cleanup(counting.Close)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	t.Cleanup(broken.Close)

	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	client := probeClient()
	probe := func(name, url string) Component {
		return mcpProbe(client, agent.MCPEndpoint{Name: name, URL: url}, newDownLog(logger, "mcp."+name))(probeCtx(t))
	}

	require.Equal(t, Component{OK: true, Detail: "the tool server tools is reachable"}, probe("tools", real.URL))
	require.True(t, probe("quiet", counting.URL).OK, "a 405 to a bare GET is an MCP server answering")
	require.Zero(t, sessions, "the probe opens no session")
	require.Equal(t, Component{Detail: "the tool server proxy is not answering; its tools are unavailable"}, probe("proxy", broken.URL))

	dead := probe("wiki", llmtest.DeadURL(t)+"/mcp?token=s3cret-value")
	require.Equal(t, Component{Detail: "the tool server wiki is not answering; its tools are unavailable"}, dead)
	require.Contains(t, logs.String(), "mcp.wiki", "operators see which server went down, and why")
	require.Contains(t, logs.String(), "connection refused")
	require.NotContains(t, logs.String(), "s3cret-value", "credentials in a URL never reach the log")
}

func TestDownLogLogsChangesNotEveryProbe(t *testing.T) {
	t.Parallel()
	logs := &logtest.Buffer{}
	d := newDownLog(slog.New(slog.NewTextHandler(logs, nil)), "llm")
	ctx := context.Background()
	d.record(ctx, nil)
	require.Empty(t, logs.String(), "nothing to say while it works")
	for range 3 {
		d.record(ctx, llm.ErrUnavailable)
	}
	require.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), "one warning when it goes down")
	d.record(ctx, nil)
	require.Equal(t, 1, strings.Count(logs.String(), "recovered"))
}

func TestStatusProbesNameMCPServersAsTheirTools(t *testing.T) {
	t.Parallel()
	real := startMCP(t)
	p := &Platform{Logger: slog.New(slog.DiscardHandler), Config: config.Config{
		MCPServers: []string{"tools=" + real.URL, llmtest.DeadURL(t) + "/mcp"},
	}}
	probes, err := p.StatusProbes()
	require.NoError(t, err)
	t.Cleanup(probes.Close)
	require.Len(t, probes.MCP, 2)
	require.True(t, probes.MCP["tools"](probeCtx(t)).OK)
	for name, probe := range probes.MCP {
		if name == "tools" {
			continue
		}
		require.Regexp(t, `^mcp_\d+$`, name, "an unnamed server on an address is named by its port, never its address")
		require.False(t, probe(probeCtx(t)).OK)
	}
	llm := probes.LLM(probeCtx(t))
	require.Equal(t, Component{OK: true, Detail: "no chat model is configured; answers quote the most relevant passages of your documents"}, llm)

	none, err := (&Platform{Logger: slog.New(slog.DiscardHandler)}).StatusProbes()
	require.NoError(t, err)
	require.NotNil(t, none.MCP)
	require.Empty(t, none.MCP)
}
