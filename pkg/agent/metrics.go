package agent

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/youworker/youworker/pkg/promreg"
)

// Labels of tool calls that fall outside the registered tools. The model may
// call any name it likes; only names from the turn's registry become label
// values, so /metrics cannot grow with what a model makes up.
const (
	toolUnknown   = "unknown"
	serverBuiltin = "builtin"
)

// Outcomes of a tool call, the "outcome" label of yw_tool_calls_total.
const (
	ToolOutcomeOK      = "ok"
	ToolOutcomeError   = "error"
	ToolOutcomeTimeout = "timeout"
)

// Metrics measures tool calls: which tools the model uses, how often they fail
// and how long they take, per MCP server. A nil *Metrics records nothing.
type Metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics builds the collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yw_tool_calls_total",
			Help: "Tool calls, by tool, MCP server (builtin for built-in tools) and outcome (ok, error, timeout).",
		}, []string{"tool", "server", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "yw_tool_call_duration_seconds",
			Help:    "Tool call latency, by tool and MCP server.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10), // 5ms .. ~19s
		}, []string{"tool", "server"}),
	}
	if err := promreg.Register(reg, "tool", m.calls, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}

// toolCalled records one call of the tool named name, as the registry reg
// resolves it.
func (m *Metrics) toolCalled(reg *Registry, name string, err, ctxErr error, latency time.Duration) {
	if m == nil {
		return
	}
	tool, server := toolLabels(reg, name)
	outcome := ToolOutcomeOK
	switch {
	case err != nil && errors.Is(ctxErr, context.DeadlineExceeded):
		outcome = ToolOutcomeTimeout
	case err != nil:
		outcome = ToolOutcomeError
	}
	m.calls.WithLabelValues(tool, server, outcome).Inc()
	m.duration.WithLabelValues(tool, server).Observe(latency.Seconds())
}

// toolLabels names a call's tool and server for metrics: the registered name
// and the MCP server it comes from, or "unknown" for a name the registry lacks.
func toolLabels(reg *Registry, name string) (tool, server string) {
	t, ok := reg.Lookup(name)
	if !ok {
		return toolUnknown, toolUnknown
	}
	if mt, ok := t.(*mcpTool); ok {
		return name, mt.server.name
	}
	return name, serverBuiltin
}
