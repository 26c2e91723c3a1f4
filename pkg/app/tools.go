package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/youworker/youworker/pkg/agent"
)

// mcpClient is the MCP client of a process, connected on first use.
type mcpClient struct {
	once  sync.Once
	tools *agent.MCPTools
	err   error
}

// mcpConnectTimeout bounds the first connection to the MCP servers, whoever
// asks for it first: the chat consumer at start, or the API's tool list.
const mcpConnectTimeout = 10 * time.Second

// MCP is the process's client of the configured MCP servers, connected on
// first use, shared by the chat turns and the API's tool list so both see the
// same servers in the same health; nil when none is configured.
func (a *App) MCP() (*agent.MCPTools, error) {
	if len(a.Config.MCPServers) == 0 {
		return nil, nil
	}
	a.mcp.once.Do(func() {
		// The client outlives whoever asked first, a request or a consumer, and
		// carries nothing of theirs; its first listing is bounded.
		ctx, cancel := context.WithTimeout(context.Background(), mcpConnectTimeout)
		defer cancel()
		a.mcp.tools, a.mcp.err = agent.NewMCPTools(ctx, agent.MCPConfig{Servers: a.Config.MCPServers, RefreshInterval: time.Minute}, a.Logger)
		if a.mcp.err != nil {
			a.mcp.err = fmt.Errorf("connect MCP servers: %w", a.mcp.err)
		}
	})
	return a.mcp.tools, a.mcp.err
}

// closeMCP closes the MCP client if it was made.
func (a *App) closeMCP() {
	a.mcp.once.Do(func() {}) // none made from now on
	if a.mcp.tools != nil {
		_ = a.mcp.tools.Close()
	}
}

// Toolset is what chat turns with tools are offered: document search, the
// built-in tools, the web tools when configured, and those of the MCP servers. The API lists the same.
func (a *App) Toolset() (agent.Toolset, error) {
	tools := agent.Toolset{
		Searcher: searcher{a.Services.Search},
		Tools:    []agent.Tool{agent.CurrentTime{}, agent.ConvertUnits{}},
	}
	if err := a.webTools(&tools); err != nil {
		return agent.Toolset{}, err
	}
	mcp, err := a.MCP()
	if err != nil {
		return agent.Toolset{}, err
	}
	if mcp != nil {
		tools.Sources = append(tools.Sources, mcp)
	}
	return tools, nil
}
