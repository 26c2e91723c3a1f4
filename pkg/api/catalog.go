package api

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/agent"
)

// ToolCatalog tells which tools chat turns are offered and how the MCP servers
// behind some of them are doing, as this process sees them.
type ToolCatalog interface {
	Tools(ctx context.Context) ([]agent.ToolInfo, error)
	MCPServers(ctx context.Context) ([]agent.MCPServerStatus, error)
}

// mountCatalog adds what users may choose from: chat models and tools; and, for
// admins, the MCP servers with their errors.
func (s *Server) mountCatalog(v1, admin *echo.Group) {
	v1.GET("/models", s.listModels)
	v1.GET("/tools", s.listTools)
	admin.GET("/mcp/servers", s.listMCPServers)
}

// listModels serves GET /v1/models: the chat models the operator allows, and
// whether the model server has each.
func (s *Server) listModels(c echo.Context) error {
	models, err := s.deps.Models.List(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"models": models})
}

// toolView is one tool of GET /v1/tools.
type toolView struct {
	Name        string  `json:"name"`
	Source      string  `json:"source"`
	Server      *string `json:"server"`
	Description string  `json:"description"`
	Healthy     bool    `json:"healthy"`
}

// listTools serves GET /v1/tools: the built-in tools and those of the MCP servers
// as last listed, each healthy when its server answers.
func (s *Server) listTools(c echo.Context) error {
	out := []toolView{}
	if s.deps.Tools != nil {
		tools, err := s.deps.Tools.Tools(c.Request().Context())
		if err != nil {
			return err
		}
		for _, t := range tools {
			v := toolView{Name: t.Name, Source: t.Source, Description: t.Description, Healthy: t.Healthy}
			if t.Server != "" {
				v.Server = &t.Server
			}
			out = append(out, v)
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"tools": out})
}

// mcpServerView is one server of GET /v1/admin/mcp/servers. URLs lose their user
// information and query, where credentials go, here and in the errors.
type mcpServerView struct {
	Name        string     `json:"name"`
	URL         string     `json:"url"`
	Healthy     bool       `json:"healthy"`
	Connected   bool       `json:"connected"`
	Tools       int        `json:"tools"`
	Error       *string    `json:"error"`
	LastError   *string    `json:"last_error"`
	LastErrorAt *time.Time `json:"last_error_at"`
	CheckedAt   *time.Time `json:"checked_at"`
}

// listMCPServers serves GET /v1/admin/mcp/servers to admins.
func (s *Server) listMCPServers(c echo.Context) error {
	out := []mcpServerView{}
	if s.deps.Tools != nil {
		servers, err := s.deps.Tools.MCPServers(c.Request().Context())
		if err != nil {
			return err
		}
		for _, st := range servers {
			v := mcpServerView{Name: st.Name, URL: redactURL(st.URL), Healthy: st.Healthy, Connected: st.Connected, Tools: st.Tools,
				Error: redactedText(st.Error), LastError: redactedText(st.LastError), LastErrorAt: timeOrNil(st.LastErrorAt), CheckedAt: timeOrNil(st.CheckedAt)}
			out = append(out, v)
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"servers": out})
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// urlPattern finds URLs in error messages.
var urlPattern = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// redactedText is msg with every URL in it redacted; nil for "".
func redactedText(msg string) *string {
	if msg == "" {
		return nil
	}
	msg = urlPattern.ReplaceAllStringFunc(msg, redactURL)
	return &msg
}

// redactURL drops a URL's user information and query, where tokens go.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[url]"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	u.Fragment = ""
	return strings.TrimSuffix(u.String(), "#")
}
