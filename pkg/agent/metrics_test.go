package agent_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/metricstest"
)

// TestToolCallMetrics runs a turn whose model calls an MCP tool, a built-in tool,
// a failing MCP tool and a tool that does not exist, and reads each back from the
// registry by tool, server and outcome.
func TestToolCallMetrics(t *testing.T) {
	t.Parallel()
	calc := startMCP(t, "calc")
	m := newMCPTools(t, agent.MCPConfig{Servers: []string{"calc=" + calc.URL}, RefreshInterval: -1})
	reg := prometheus.NewRegistry()
	metrics, err := agent.NewMetrics(reg)
	require.NoError(t, err)
	srv := llmtest.New(t)
	srv.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{
			{Name: "calc__echo", Arguments: map[string]any{"text": "ping"}},
			{Name: "current_time", Arguments: map[string]any{}},
			{Name: "calc__fail", Arguments: map[string]any{}},
			{Name: "user-7f3a-made-up", Arguments: map[string]any{}},
		}},
		llmtest.Text("Done."),
	)
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Tools: []agent.Tool{agent.CurrentTime{}}, Sources: []agent.ToolSource{m}},
		agent.Config{Metrics: metrics})

	_, err = r.Run(ctxTimeout(t), agent.Input{UserMessage: "use your tools", ToolsEnabled: true}, nil)
	require.NoError(t, err)

	calls := func(tool, server, outcome string) float64 {
		return metricstest.Value(t, reg, "yw_tool_calls_total", metricstest.Labels{"tool": tool, "server": server, "outcome": outcome})
	}
	require.Equal(t, 1.0, calls("calc__echo", "calc", agent.ToolOutcomeOK))
	require.Equal(t, 1.0, calls("current_time", "builtin", agent.ToolOutcomeOK))
	require.Equal(t, 1.0, calls("calc__fail", "calc", agent.ToolOutcomeError))
	require.Equal(t, 1.0, calls("unknown", "unknown", agent.ToolOutcomeError), "a name the model made up is not a label value")
	require.Nil(t, metricstest.Find(t, reg, "yw_tool_calls_total", metricstest.Labels{"tool": "user-7f3a-made-up"}))
	require.EqualValues(t, 1, metricstest.Histogram(t, reg, "yw_tool_call_duration_seconds",
		metricstest.Labels{"tool": "calc__echo", "server": "calc"}).GetSampleCount())
}
