package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/youworker/youworker/pkg/llm"
)

// Defaults applied by NewMCPTools to zero fields of MCPConfig.
const (
	DefaultMCPRefreshInterval = 5 * time.Minute
	DefaultMCPCallTimeout     = 30 * time.Second
	DefaultMCPConnectTimeout  = 10 * time.Second
)

// MCPSeparator joins a server name and a tool name: "<server>__<tool>".
const MCPSeparator = "__"

// maxToolNameLen is the longest tool name the OpenAI-style function calling
// of most models accepts.
const maxToolNameLen = 64

// MCPConfig configures the MCP client.
type MCPConfig struct {
	// Servers are streamable HTTP endpoints, each "URL" or "name=URL". The
	// name prefixes the server's tools; without one it is derived from the
	// URL's host.
	Servers []string
	// RefreshInterval is how often the tool lists are fetched again; negative
	// disables periodic refreshes (Refresh still works).
	RefreshInterval time.Duration
	// CallTimeout bounds each tool call.
	CallTimeout time.Duration
	// ConnectTimeout bounds connecting to a server and listing its tools.
	ConnectTimeout time.Duration
	// HTTPClient replaces the client built by NewMCPTools.
	HTTPClient *http.Client
}

// Validate reports every configuration problem at once.
func (c MCPConfig) Validate() error {
	var errs []error
	if _, err := parseMCPServers(c.Servers); err != nil {
		errs = append(errs, err)
	}
	if c.CallTimeout < 0 || c.ConnectTimeout < 0 {
		errs = append(errs, errors.New("mcp timeouts must not be negative"))
	}
	return errors.Join(errs...)
}

// MCPTools exposes the tools of remote MCP servers as agent tools, named
// "<server>__<tool>". A server that is down or failing only makes its own
// tools return errors to the model; it never fails a turn or the worker, and
// it is reconnected at the next refresh or call.
//
// The client does not open the optional standalone SSE stream: the periodic
// refresh keeps tool lists current without holding a connection per server.
type MCPTools struct {
	cfg     MCPConfig
	client  *mcp.Client
	http    *http.Client
	owned   *http.Transport
	log     *slog.Logger
	servers []*mcpServer

	kick   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
	closed    chan struct{}
}

var _ ToolSource = (*MCPTools)(nil)

// NewMCPTools connects to every configured server and lists its tools, then
// keeps the lists fresh in the background until Close. Servers that cannot be
// reached are logged and retried later; only a bad configuration is an error.
func NewMCPTools(ctx context.Context, cfg MCPConfig, logger *slog.Logger) (*MCPTools, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mcp config: %w", err)
	}
	endpoints, _ := parseMCPServers(cfg.Servers) // validated above
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = DefaultMCPRefreshInterval
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultMCPCallTimeout
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultMCPConnectTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &MCPTools{
		cfg:    cfg,
		log:    logger.With("component", "agent.mcp"),
		kick:   make(chan struct{}, 1),
		closed: make(chan struct{}),
		http:   cfg.HTTPClient,
	}
	if m.http == nil {
		m.owned = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: cfg.ConnectTimeout,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     90 * time.Second,
		}
		m.http = &http.Client{Transport: m.owned}
	}
	m.client = mcp.NewClient(&mcp.Implementation{Name: "youworker", Version: "1"}, &mcp.ClientOptions{
		Capabilities: &mcp.ClientCapabilities{}, // we offer no roots, sampling or elicitation
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			m.RefreshSoon()
		},
	})
	for _, e := range endpoints {
		m.servers = append(m.servers, &mcpServer{name: e.name, url: e.url, m: m})
	}
	if err := m.Refresh(ctx); err != nil {
		m.log.WarnContext(ctx, "some MCP servers are unavailable; retrying in the background", "error", err)
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	m.wg.Add(1)
	go m.loop(loopCtx)
	return m, nil
}

// Tools returns the tools of every server as last listed. A server that is
// down keeps its last known tools, whose calls then return errors.
func (m *MCPTools) Tools() []Tool {
	var out []Tool
	for _, s := range m.servers {
		s.mu.Lock()
		for _, t := range s.tools {
			out = append(out, t)
		}
		s.mu.Unlock()
	}
	return out
}

// MCPServerStatus describes one server, for health pages and logs.
type MCPServerStatus struct {
	Name string
	URL  string
	// Connected says whether a session is open now.
	Connected bool
	// Healthy says whether its tools work as far as this process knows: the
	// last listing succeeded and no call has failed to reach it since.
	Healthy bool
	Tools   int
	// Error is the error that makes the server unhealthy now, empty when fine.
	Error string
	// LastError is the last connection, listing or call failure, kept after
	// the server recovers, with when it happened (zero: never).
	LastError   string
	LastErrorAt time.Time
	// CheckedAt is when its tools were last listed, or tried to be (zero: not yet).
	CheckedAt time.Time
}

// Status reports the state of every server, in the configured order.
func (m *MCPTools) Status() []MCPServerStatus {
	out := make([]MCPServerStatus, 0, len(m.servers))
	for _, s := range m.servers {
		s.mu.Lock()
		st := MCPServerStatus{Name: s.name, URL: s.url, Connected: s.session != nil, Tools: len(s.tools),
			Healthy: s.lastErr == nil && !s.checkedAt.IsZero(), LastError: s.lastFailure, LastErrorAt: s.lastFailureAt, CheckedAt: s.checkedAt}
		if s.lastErr != nil {
			st.Error = s.lastErr.Error()
		}
		s.mu.Unlock()
		out = append(out, st)
	}
	return out
}

// Describe implements Describer: every server's tools as last listed, each as
// healthy as its server.
func (m *MCPTools) Describe() []ToolInfo {
	var out []ToolInfo
	for _, s := range m.servers {
		s.mu.Lock()
		healthy := s.lastErr == nil && !s.checkedAt.IsZero()
		for _, t := range s.tools {
			out = append(out, ToolInfo{Name: t.spec.Name, Source: ToolSourceMCP, Server: s.name, Description: t.description, Healthy: healthy})
		}
		s.mu.Unlock()
	}
	return out
}

// Refresh lists the tools of every server now, connecting where needed, and
// returns the errors of the servers that failed.
func (m *MCPTools) Refresh(ctx context.Context) error {
	errs := make([]error, len(m.servers))
	var wg sync.WaitGroup
	for i, s := range m.servers {
		wg.Go(func() { errs[i] = s.refresh(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// RefreshIfOlder asks the background loop to refresh, without waiting, when a
// server was last listed more than age ago: a page showing the servers' health
// brings it up to date for the next look, however many people look.
func (m *MCPTools) RefreshIfOlder(age time.Duration) {
	for _, s := range m.servers {
		s.mu.Lock()
		stale := time.Since(s.checkedAt) > age
		s.mu.Unlock()
		if stale {
			m.RefreshSoon()
			return
		}
	}
}

// RefreshSoon asks the background loop to refresh without waiting for it.
func (m *MCPTools) RefreshSoon() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *MCPTools) loop(ctx context.Context) {
	defer m.wg.Done()
	var tick <-chan time.Time
	if m.cfg.RefreshInterval > 0 {
		t := time.NewTicker(m.cfg.RefreshInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-m.kick:
		}
		_ = m.Refresh(ctx) // each server logs its own failures
	}
}

// Close stops refreshing and closes every session. Calls still running fail.
func (m *MCPTools) Close() error {
	m.closeOnce.Do(func() {
		close(m.closed)
		m.cancel()
		m.wg.Wait()
		for _, s := range m.servers {
			// A server that is gone cannot end its session; nothing to do.
			if err := s.close(); err != nil {
				m.log.Debug("closing MCP session failed", "server", s.name, "error", err)
			}
		}
		if m.owned != nil {
			m.owned.CloseIdleConnections()
		}
	})
	return nil
}

func (m *MCPTools) isClosed() bool {
	select {
	case <-m.closed:
		return true
	default:
		return false
	}
}

// mcpServer is one remote server: its session (nil while disconnected) and
// its last known tools.
type mcpServer struct {
	name, url string
	m         *MCPTools

	connMu sync.Mutex // serialises connecting, so one attempt runs at a time

	mu      sync.Mutex
	session *mcp.ClientSession
	tools   []*mcpTool
	// lastErr is why the server does not work now: the last listing's error,
	// or a call's failure to reach it since; nil when it works.
	lastErr error
	// lastFailure is the last error of any kind, kept after recovery, for
	// operators; checkedAt is when the tools were last listed or tried.
	lastFailure   string
	lastFailureAt time.Time
	checkedAt     time.Time
}

// failed records a failure to reach the server; the server is unhealthy until
// a listing or a call succeeds.
func (s *mcpServer) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err
	s.lastFailure, s.lastFailureAt = err.Error(), time.Now()
}

// reached records that a call went through: the server works.
func (s *mcpServer) reached() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.checkedAt.IsZero() {
		s.lastErr = nil
	}
}

// connect returns the session, connecting first when there is none.
func (s *mcpServer) connect(ctx context.Context) (*mcp.ClientSession, error) {
	s.mu.Lock()
	cs := s.session
	s.mu.Unlock()
	if cs != nil {
		return cs, nil
	}
	s.connMu.Lock()
	defer s.connMu.Unlock()
	s.mu.Lock()
	cs = s.session
	s.mu.Unlock()
	if cs != nil {
		return cs, nil
	}
	if s.m.isClosed() {
		return nil, errors.New("mcp client closed")
	}
	ctx, cancel := context.WithTimeout(ctx, s.m.cfg.ConnectTimeout)
	defer cancel()
	transport := &mcp.StreamableClientTransport{
		Endpoint:             s.url,
		HTTPClient:           s.m.http,
		MaxRetries:           -1, // a broken session is dropped and reconnected by us
		DisableStandaloneSSE: true,
	}
	cs, err := s.m.client.Connect(ctx, transport, nil)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s.mu.Lock()
	s.session = cs
	s.mu.Unlock()
	if s.m.isClosed() { // Close ran while we connected: do not leak the session
		s.drop(cs)
		return nil, errors.New("mcp client closed")
	}
	return cs, nil
}

// drop forgets a broken session so the next use reconnects.
func (s *mcpServer) drop(cs *mcp.ClientSession) {
	s.mu.Lock()
	if s.session == cs {
		s.session = nil
	}
	s.mu.Unlock()
	_ = cs.Close() // the session is broken; its close error says nothing new
}

func (s *mcpServer) close() error {
	s.mu.Lock()
	cs := s.session
	s.session = nil
	s.mu.Unlock()
	if cs == nil {
		return nil
	}
	return cs.Close()
}

func (s *mcpServer) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.m.cfg.ConnectTimeout)
	defer cancel()
	tools, err := s.list(ctx)
	s.mu.Lock()
	prevErr, prevCount := s.lastErr, len(s.tools)
	s.lastErr = err
	s.checkedAt = time.Now()
	if err == nil {
		s.tools = tools
	} else {
		s.lastFailure, s.lastFailureAt = err.Error(), s.checkedAt
	}
	s.mu.Unlock()
	log := s.m.log.With("server", s.name, "url", s.url)
	switch {
	case err != nil && (prevErr == nil || prevErr.Error() != err.Error()):
		log.WarnContext(ctx, "MCP server unavailable; its tools will report errors", "error", err)
	case err != nil:
		log.DebugContext(ctx, "MCP server still unavailable", "error", err)
	case prevErr != nil || prevCount != len(tools):
		log.InfoContext(ctx, "MCP server tools listed", "tools", len(tools))
	}
	if err != nil {
		return fmt.Errorf("mcp server %s: %w", s.name, err)
	}
	return nil
}

func (s *mcpServer) list(ctx context.Context) ([]*mcpTool, error) {
	cs, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	var out []*mcpTool
	seen := map[string]bool{}
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			if !serverAnswered(err) {
				s.drop(cs)
			}
			return nil, fmt.Errorf("list tools: %w", err)
		}
		name := s.name + MCPSeparator + sanitizeName(t.Name)
		name = truncateName(name)
		if seen[name] {
			s.m.log.WarnContext(ctx, "MCP tool name collides after sanitising; skipped", "server", s.name, "tool", t.Name)
			continue
		}
		seen[name] = true
		out = append(out, newMCPTool(s, name, t))
	}
	return out, nil
}

// serverAnswered reports whether err is an error response of the server
// (invalid params, unknown tool...), after which the session is still good.
// The SDK reports its own transport failures as JSON-RPC errors too, with
// the implementation-defined codes below; those leave the session broken.
func serverAnswered(err error) bool {
	if errors.Is(err, mcp.ErrConnectionClosed) || errors.Is(err, mcp.ErrSessionMissing) {
		return false
	}
	var we *jsonrpc.Error
	if !errors.As(err, &we) {
		return false
	}
	switch we.Code {
	case codeUnknown, codeClientClosing, codeServerClosing, codeRejected:
		return false
	}
	return true
}

// JSON-RPC error codes the SDK uses for failures on our side of the wire.
const (
	codeUnknown       = -32001
	codeClientClosing = -32003
	codeServerClosing = -32004
	codeRejected      = -32005
)

// mcpTool is one remote tool.
type mcpTool struct {
	server *mcpServer
	remote string // the tool's own name on the server
	spec   llm.ToolSpec
	// description is the server's own, without the server's name the model
	// is shown it with.
	description string
}

func newMCPTool(s *mcpServer, name string, t *mcp.Tool) *mcpTool {
	params := json.RawMessage(`{"type":"object"}`)
	if t.InputSchema != nil {
		if b, err := json.Marshal(t.InputSchema); err == nil {
			params = b
		}
	}
	desc := t.Description
	if desc == "" {
		desc = t.Title
	}
	return &mcpTool{
		server:      s,
		remote:      t.Name,
		spec:        llm.ToolSpec{Name: name, Description: strings.TrimSpace(fmt.Sprintf("[%s] %s", s.name, desc)), Parameters: params},
		description: strings.TrimSpace(desc),
	}
}

// Spec implements Tool.
func (t *mcpTool) Spec() llm.ToolSpec { return t.spec }

// Call implements Tool.
func (t *mcpTool) Call(ctx context.Context, call Call) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, t.server.m.cfg.CallTimeout)
	defer cancel()
	var args map[string]any
	if err := decodeArgs(call.Arguments, &args); err != nil {
		return Result{}, err
	}
	res, err := t.call(ctx, args)
	if errors.Is(err, mcp.ErrSessionMissing) && ctx.Err() == nil {
		// The server forgot our session (it restarted) before handling the
		// call, so calling again on a new session cannot run it twice.
		res, err = t.call(ctx, args)
	}
	if err != nil {
		t.server.m.log.WarnContext(ctx, "MCP tool call failed", "server", t.server.name, "tool", t.remote, "error", err)
		if ctx.Err() != nil {
			return Result{}, toolErrorf("MCP server %q did not answer in time", t.server.name)
		}
		return Result{}, fmt.Errorf("%w: %w", &ToolError{Message: fmt.Sprintf("MCP server %q failed", t.server.name)}, err)
	}
	text := resultText(res)
	if res.IsError {
		if text == "" {
			text = "the tool reported an error"
		}
		// The tool's own account of its failure, as its results are shown.
		return Result{}, &ToolError{Message: text}
	}
	return Result{Text: text}, nil
}

func (t *mcpTool) call(ctx context.Context, args map[string]any) (*mcp.CallToolResult, error) {
	cs, err := t.server.connect(ctx)
	if err != nil {
		if ctx.Err() == nil {
			t.server.failed(err)
		}
		return nil, fmt.Errorf("unavailable: %w", err)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: t.remote, Arguments: args})
	switch {
	case err == nil || serverAnswered(err):
		t.server.reached()
	case ctx.Err() == nil:
		t.server.drop(cs)
		t.server.failed(fmt.Errorf("call %s: %w", t.remote, err))
	}
	return res, err
}

// resultText flattens a tool result for the model: text as is, other content
// described, structured content as JSON when there is no text.
func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		switch c := c.(type) {
		case *mcp.TextContent:
			parts = append(parts, c.Text)
		case *mcp.ImageContent:
			parts = append(parts, "[image "+c.MIMEType+" omitted]")
		case *mcp.AudioContent:
			parts = append(parts, "[audio "+c.MIMEType+" omitted]")
		case *mcp.ResourceLink:
			parts = append(parts, "[resource "+c.URI+"]")
		case *mcp.EmbeddedResource:
			if c.Resource != nil && c.Resource.Text != "" {
				parts = append(parts, c.Resource.Text)
			} else if c.Resource != nil {
				parts = append(parts, "[resource "+c.Resource.URI+"]")
			}
		}
	}
	if len(parts) == 0 && res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err == nil {
			parts = append(parts, string(b))
		}
	}
	return strings.Join(parts, "\n")
}

type mcpEndpoint struct{ name, url string }

var (
	namePrefixRE = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_-]*)=(.+)$`)
	unsafeNameRE = regexp.MustCompile(`[^a-z0-9_-]+`)
	underscoreRE = regexp.MustCompile(`_{2,}`)
)

// parseMCPServers reads "URL" and "name=URL" entries and gives every server a
// unique short name.
func parseMCPServers(entries []string) ([]mcpEndpoint, error) {
	var out []mcpEndpoint
	var errs []error
	used := map[string]bool{}
	for _, raw := range entries {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		name, rawURL := "", entry
		if m := namePrefixRE.FindStringSubmatch(entry); m != nil {
			name, rawURL = m[1], m[2]
		}
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("mcp server %q is not an http(s) URL", entry))
			continue
		}
		explicit := name != ""
		if explicit {
			name = serverName(name)
		} else {
			name = hostName(u)
		}
		if used[name] {
			if explicit {
				errs = append(errs, fmt.Errorf("mcp server name %q is used twice", name))
				continue
			}
			base := name
			for i := 2; used[name]; i++ {
				name = base + "_" + strconv.Itoa(i)
			}
		}
		used[name] = true
		out = append(out, mcpEndpoint{name: name, url: u.String()})
	}
	return out, errors.Join(errs...)
}

// hostName derives a short name from a URL: the first label of a DNS name
// ("tools" for tools.corp.example), "mcp" plus the port for addresses and
// localhost, which say nothing about the server.
func hostName(u *url.URL) string {
	host := u.Hostname()
	if net.ParseIP(host) != nil || host == "localhost" {
		if p := u.Port(); p != "" {
			return "mcp_" + p
		}
		return "mcp"
	}
	label, _, _ := strings.Cut(host, ".")
	if n := serverName(label); n != "" {
		return n
	}
	return "mcp"
}

// serverName makes a name safe as a tool name prefix: lower case letters,
// digits, "-" and single "_", so that MCPSeparator stays unambiguous.
func serverName(s string) string {
	s = unsafeNameRE.ReplaceAllString(strings.ToLower(s), "_")
	s = underscoreRE.ReplaceAllString(s, "_")
	s = strings.Trim(s, "_")
	if len(s) > 20 {
		s = s[:20]
	}
	return s
}

var unsafeToolRE = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// sanitizeName keeps tool names within what function calling accepts.
func sanitizeName(s string) string {
	s = unsafeToolRE.ReplaceAllString(s, "_")
	if s == "" {
		return "tool"
	}
	return s
}

func truncateName(s string) string {
	if len(s) > maxToolNameLen {
		return s[:maxToolNameLen]
	}
	return s
}
