package agent_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/llmtest"
)

type echoIn struct {
	Text string `json:"text" jsonschema:"the text to echo"`
}

// mcpServer is a real MCP server over streamable HTTP, in process.
type mcpServer struct {
	*httptest.Server
	mcp  *mcp.Server
	stop chan struct{} // releases handlers that wait for their context
}

func startMCP(t *testing.T, name string) *mcpServer {
	t.Helper()
	s := &mcpServer{mcp: mcp.NewServer(&mcp.Implementation{Name: name, Version: "v1"}, nil), stop: make(chan struct{})}
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "echo", Description: "Echo the text back."},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + " says " + in.Text}}}, nil, nil
		})
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "fail", Description: "Always fails."},
		func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "quota exceeded"}}}, nil, nil
		})
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "hang", Description: "Never answers."},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
			select {
			case <-ctx.Done():
			case <-s.stop:
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "late"}}}, nil, nil
		})
	s.Server = httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, nil))
	t.Cleanup(s.shutdown)
	return s
}

// shutdown stops the server and its sessions, as a crashed server would
// vanish. It is idempotent.
func (s *mcpServer) shutdown() {
	select {
	case <-s.stop:
		return
	default:
		close(s.stop)
	}
	for ss := range s.mcp.Sessions() {
		_ = ss.Close()
	}
	s.CloseClientConnections()
	s.Close()
}

func newMCPTools(t *testing.T, cfg agent.MCPConfig) *agent.MCPTools {
	t.Helper()
	m, err := agent.NewMCPTools(ctxTimeout(t), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func toolNamesOf(tools []agent.Tool) []string {
	var out []string
	for _, tl := range tools {
		out = append(out, tl.Spec().Name)
	}
	return out
}

func callMCP(t *testing.T, m *agent.MCPTools, name, args string) (agent.Result, error) {
	t.Helper()
	reg, err := agent.NewRegistry(m.Tools()...)
	require.NoError(t, err)
	return reg.Dispatch(ctxTimeout(t), agent.Call{ID: "call_1", Name: name, Arguments: json.RawMessage(args)})
}

func TestMCPToolsListedAndCalled(t *testing.T) {
	t.Parallel()
	calc := startMCP(t, "calc")
	dead := llmtest.DeadURL(t)
	m := newMCPTools(t, agent.MCPConfig{Servers: []string{"calc=" + calc.URL, dead}, RefreshInterval: -1})

	require.ElementsMatch(t, []string{"calc__echo", "calc__fail", "calc__hang"}, toolNamesOf(m.Tools()))
	status := m.Status()
	require.Len(t, status, 2)
	require.True(t, status[0].Connected)
	require.Equal(t, 3, status[0].Tools)
	u, err := url.Parse(dead)
	require.NoError(t, err)
	require.Equal(t, "mcp_"+u.Port(), status[1].Name, "a server without a name is named after its address")
	require.False(t, status[1].Connected)
	require.NotEmpty(t, status[1].Error)

	var echo agent.Tool
	for _, tl := range m.Tools() {
		if tl.Spec().Name == "calc__echo" {
			echo = tl
		}
	}
	require.Contains(t, echo.Spec().Description, "Echo the text back.")
	require.Contains(t, string(echo.Spec().Parameters), `"text"`)

	res, err := callMCP(t, m, "calc__echo", `{"text":"hi"}`)
	require.NoError(t, err)
	require.Equal(t, "calc says hi", res.Text)

	_, err = callMCP(t, m, "calc__echo", `{"text":5}`)
	require.ErrorContains(t, err, `invalid arguments for tool "calc__echo"`)

	_, err = callMCP(t, m, "calc__fail", `{}`)
	require.EqualError(t, err, "quota exceeded")
}

func TestMCPToolInTurn(t *testing.T) {
	t.Parallel()
	calc := startMCP(t, "calc")
	m := newMCPTools(t, agent.MCPConfig{Servers: []string{"calc=" + calc.URL}, RefreshInterval: -1})
	srv := llmtest.New(t)
	srv.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "calc__echo", Arguments: map[string]any{"text": "ping"}}}},
		llmtest.Text("The server said ping."),
	)
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Tools: []agent.Tool{agent.CurrentTime{}}, Sources: []agent.ToolSource{m}}, agent.Config{})

	out, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "ping the server", ToolsEnabled: true}, nil)
	require.NoError(t, err)
	require.Equal(t, "The server said ping.", out.Answer)
	reqs := srv.ChatRequests()
	require.Contains(t, toolNames(reqs[0]), "calc__echo")
	require.Equal(t, "calc says ping", toolMessages(reqs[1])[0].Content)
}

func TestMCPServerDownIsContained(t *testing.T) {
	t.Parallel()
	a := startMCP(t, "alpha")
	b := startMCP(t, "beta")
	m := newMCPTools(t, agent.MCPConfig{Servers: []string{"a=" + a.URL, "b=" + b.URL}, RefreshInterval: -1})
	require.Len(t, m.Tools(), 6)

	b.shutdown()

	_, err := callMCP(t, m, "b__echo", `{"text":"hi"}`)
	require.ErrorContains(t, err, `MCP server "b"`)
	res, err := callMCP(t, m, "a__echo", `{"text":"hi"}`)
	require.NoError(t, err)
	require.Equal(t, "alpha says hi", res.Text)

	err = m.Refresh(ctxTimeout(t))
	require.ErrorContains(t, err, "mcp server b")
	require.NotContains(t, err.Error(), "mcp server a")
	require.Len(t, m.Tools(), 6, "a server that went away keeps its last known tools")

	// In a turn, the dead server's tool is an error the model sees.
	srv := llmtest.New(t)
	srv.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{
			{Name: "b__echo", Arguments: map[string]any{"text": "x"}},
			{Name: "a__echo", Arguments: map[string]any{"text": "y"}},
		}},
		llmtest.Text("Half worked."),
	)
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Sources: []agent.ToolSource{m}}, agent.Config{})
	out, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "both", ToolsEnabled: true}, nil)
	require.NoError(t, err)
	require.Equal(t, "Half worked.", out.Answer)
	tm := toolMessages(srv.ChatRequests()[1])
	require.True(t, strings.HasPrefix(tm[0].Content, `Error: MCP server "b"`), tm[0].Content)
	require.Equal(t, "alpha says y", tm[1].Content)

	require.NoError(t, m.Close())
	_, err = callMCP(t, m, "a__echo", `{"text":"after close"}`)
	require.Error(t, err)
}

func TestMCPCallTimeout(t *testing.T) {
	t.Parallel()
	s := startMCP(t, "slow")
	m := newMCPTools(t, agent.MCPConfig{Servers: []string{"slow=" + s.URL}, RefreshInterval: -1, CallTimeout: 200 * time.Millisecond})
	_, err := callMCP(t, m, "slow__hang", `{}`)
	require.ErrorContains(t, err, `MCP server "slow" did not answer in time`)
	// The server is still usable afterwards.
	res, err := callMCP(t, m, "slow__echo", `{"text":"still here"}`)
	require.NoError(t, err)
	require.Equal(t, "slow says still here", res.Text)
}

func TestMCPConfigValidate(t *testing.T) {
	t.Parallel()
	err := agent.MCPConfig{Servers: []string{"ftp://x", "a=http://h1", "a=http://h2", "not a url"}, CallTimeout: -1}.Validate()
	require.Error(t, err)
	for _, want := range []string{`"ftp://x"`, `name "a" is used twice`, `"not a url"`, "negative"} {
		require.Contains(t, err.Error(), want)
	}
	require.NoError(t, agent.MCPConfig{Servers: []string{"http://tools.corp.example/mcp?x=y", "https://tools.other.example/mcp"}}.Validate())
}

func TestMCPNoServers(t *testing.T) {
	t.Parallel()
	m := newMCPTools(t, agent.MCPConfig{})
	require.Empty(t, m.Tools())
	require.NoError(t, m.Refresh(ctxTimeout(t)))
	require.NoError(t, m.Close())
	require.NoError(t, m.Close(), "Close is idempotent")
}

func TestMCPHealthFollowsTheServerAndKeepsItsLastError(t *testing.T) {
	t.Parallel()
	calc := startMCP(t, "calc")
	var down atomic.Bool
	// A proxy in front of the server that answers 503 while it is "down".
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		u, _ := url.Parse(calc.URL)
		r.URL.Scheme, r.URL.Host, r.Host, r.RequestURI = u.Scheme, u.Host, u.Host, ""
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	m := newMCPTools(t, agent.MCPConfig{Servers: []string{"calc=" + proxy.URL + "/?token=secret"}, RefreshInterval: -1})

	st := m.Status()[0]
	require.True(t, st.Healthy)
	require.Empty(t, st.LastError)
	require.False(t, st.CheckedAt.IsZero())
	tools := agent.Toolset{Searcher: &fakeSearcher{}, Tools: []agent.Tool{agent.CurrentTime{}}, Sources: []agent.ToolSource{m}}.Describe()
	require.Len(t, tools, 5)
	require.Equal(t, agent.ToolInfo{Name: agent.SearchToolName, Source: agent.ToolSourceBuiltin, Healthy: true,
		Description: tools[0].Description}, tools[0])
	require.Equal(t, "current_time", tools[1].Name)
	require.Contains(t, tools, agent.ToolInfo{Name: "calc__echo", Source: agent.ToolSourceMCP, Server: "calc",
		Description: "Echo the text back.", Healthy: true}, "the server's own description, without the prefix the model sees")

	// The server goes down: the next call that cannot reach it makes it unhealthy.
	down.Store(true)
	_, err := callMCP(t, m, "calc__echo", `{"text":"hi"}`)
	require.Error(t, err)
	st = m.Status()[0]
	require.False(t, st.Healthy)
	require.NotEmpty(t, st.Error)
	require.NotEmpty(t, st.LastError)
	failedAt := st.LastErrorAt
	require.False(t, failedAt.IsZero())
	for _, tl := range m.Describe() {
		require.False(t, tl.Healthy, tl.Name)
	}

	// It comes back: healthy at the next listing, and its last error is kept for operators.
	down.Store(false)
	require.NoError(t, m.Refresh(ctxTimeout(t)))
	st = m.Status()[0]
	require.True(t, st.Healthy)
	require.Empty(t, st.Error)
	require.NotEmpty(t, st.LastError)
	require.Equal(t, failedAt, st.LastErrorAt)
}
