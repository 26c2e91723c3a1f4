package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/llm"
)

// Component is the state of a part whose absence degrades answers but never takes
// a replica out of service — the chat model, the embedding model, an MCP server —
// told in a sentence users may read: never a URL, a secret or a raw error. The
// probe that found it logs the error for operators.
type Component struct {
	OK     bool
	Detail string
}

// ComponentProbe finds out the state of one component; it returns soon after ctx
// ends, reporting the component down.
type ComponentProbe func(ctx context.Context) Component

// StatusProbes are the probes of what degrades answers (GET /v1/status). They are
// not readiness checks: see Checks.
type StatusProbes struct {
	LLM      ComponentProbe
	Embedder ComponentProbe
	// MCP is keyed by server name, as the tools of each server are prefixed.
	MCP map[string]ComponentProbe

	closers []func()
}

// Close releases the connections the probes keep.
func (s StatusProbes) Close() {
	for _, c := range s.closers {
		c()
	}
}

// StatusProbes builds the probes of the chat model, the embedder of the active
// index and every configured MCP server. They contact nothing until called.
func (p *Platform) StatusProbes() (StatusProbes, error) {
	var s StatusProbes
	s.LLM = func(context.Context) Component {
		return Component{OK: true, Detail: "no chat model is configured; answers quote the most relevant passages of your documents"}
	}
	if p.UsesOllama() {
		model, err := llm.NewOllama(llm.OllamaConfig{URL: p.Config.OllamaURL, Model: p.Config.ChatModel}, p.Logger)
		if err != nil {
			return StatusProbes{}, err
		}
		s.closers = append(s.closers, func() { _ = model.Close() })
		s.LLM = chatModelProbe(p.Config.ChatModel, model, newDownLog(p.Logger, "llm"))
	}
	configured := ""
	if p.Config.OllamaURL != "" {
		configured = p.Config.EmbedModel
	}
	embedLog := newDownLog(p.Logger, "embedder")
	s.Embedder = func(ctx context.Context) Component {
		return embedderCondition(ctx, p.Index.Embedder(), p.Index.Lexical() != nil, configured, embedLog)
	}
	endpoints, err := agent.ParseMCPEndpoints(p.Config.MCPServers)
	if err != nil {
		s.Close()
		return StatusProbes{}, fmt.Errorf("mcp servers: %w", err)
	}
	s.MCP = make(map[string]ComponentProbe, len(endpoints))
	if len(endpoints) > 0 {
		client := probeClient()
		for _, e := range endpoints {
			s.MCP[e.Name] = mcpProbe(client, e, newDownLog(p.Logger, "mcp."+e.Name))
		}
	}
	return s, nil
}

// chatModelProbe checks that the model server answers and has the chat model.
func chatModelProbe(name string, model llm.Checker, log *downLog) ComponentProbe {
	return func(ctx context.Context) Component {
		err := model.Check(ctx)
		log.record(ctx, err)
		switch {
		case err == nil:
			return Component{OK: true, Detail: fmt.Sprintf("the chat model %s is answering", name)}
		case errors.Is(err, llm.ErrModelNotFound):
			return Component{Detail: fmt.Sprintf("the chat model %s is not installed on the model server; answers quote your documents until it is", name)}
		default:
			return Component{Detail: fmt.Sprintf("the chat model %s is not answering; answers quote your documents until it is back", name)}
		}
	}
}

// embedderCondition reports the embedder the active index is built with. hasLexical
// says whether the index has keyword vectors to fall back on; configured is the
// embedding model the operator set, if any.
func embedderCondition(ctx context.Context, emb embed.Embedder, hasLexical bool, configured string, log *downLog) Component {
	model, usesModel := strings.CutPrefix(emb.Identity().Name, embed.ProviderOllama+":")
	if !usesModel {
		if configured != "" {
			// The first index was built while the model did not answer, and an index
			// keeps its embedder until a re-embed: say so rather than look healthy.
			return Component{Detail: fmt.Sprintf("search uses keywords only: the document index was built without the embedding model %s; an administrator can re-embed to use it", configured)}
		}
		return Component{OK: true, Detail: "no embedding model is configured; search uses keywords"}
	}
	err := embed.Check(ctx, emb)
	log.record(ctx, err)
	fallback := "search uses keywords only"
	if !hasLexical {
		fallback = "search is unavailable until it is back"
	}
	switch {
	case err == nil:
		return Component{OK: true, Detail: fmt.Sprintf("the embedding model %s is answering", model)}
	case errors.Is(err, embed.ErrModelNotFound):
		return Component{Detail: fmt.Sprintf("the embedding model %s is not installed on the model server; %s", model, fallback)}
	default:
		return Component{Detail: fmt.Sprintf("the embedding model %s is not answering; %s", model, fallback)}
	}
}

// probeClient is the HTTP client of the MCP probes: short timeouts, no kept
// connections (a probe runs every few seconds at most), no redirects followed (a
// redirect is an answer).
func probeClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			TLSHandshakeTimeout: 2 * time.Second,
			DisableKeepAlives:   true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// mcpProbe is a light reachability check: a GET of the endpoint without a session,
// which a streamable HTTP server answers at once (400 or 405) without starting one.
// Any answer below 500 means the server is there.
func mcpProbe(client *http.Client, e agent.MCPEndpoint, log *downLog) ComponentProbe {
	return func(ctx context.Context) Component {
		err := reach(ctx, client, e.URL)
		log.record(ctx, err)
		if err != nil {
			return Component{Detail: fmt.Sprintf("the tool server %s is not answering; its tools are unavailable", e.Name)}
		}
		return Component{OK: true, Detail: fmt.Sprintf("the tool server %s is reachable", e.Name)}
	}
}

func reach(ctx context.Context, client *http.Client, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// downLog logs a probe's error when its component goes down, and its recovery,
// rather than at every probe.
type downLog struct {
	logger *slog.Logger
	name   string
	mu     sync.Mutex
	down   bool
}

func newDownLog(logger *slog.Logger, name string) *downLog {
	return &downLog{logger: logger.With("component", "status"), name: name}
}

func (d *downLog) record(ctx context.Context, err error) {
	d.mu.Lock()
	was := d.down
	d.down = err != nil
	d.mu.Unlock()
	switch {
	case err != nil && !was:
		d.logger.WarnContext(ctx, "degraded: answers change until it is back", "dependency", d.name, "error", redactedError(err))
	case err == nil && was:
		d.logger.InfoContext(ctx, "recovered", "dependency", d.name)
	}
}

// redactedError is err's message with the user info and query of any URL it names
// removed: MCP and model URLs may carry credentials.
func redactedError(err error) string {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && (u.User != nil || u.RawQuery != "") {
			u.User = nil
			if u.RawQuery != "" {
				u.RawQuery = "redacted"
			}
			msg = strings.ReplaceAll(msg, ue.URL, u.String())
		}
	}
	return msg
}
