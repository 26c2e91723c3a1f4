package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/tracing"
)

// toolOutcome is the result of one tool call of a step.
type toolOutcome struct {
	index   int
	result  Result
	err     error
	latency time.Duration
}

// runTools runs the calls of one step concurrently, each with the tool
// timeout, and appends their results to the turn's messages in the order of
// the calls, which is the order the model expects them in. Sink events are
// sent from this goroutine only: all tool.started first, then tool.finished as
// calls complete.
func (t *turn) runTools(ctx context.Context, calls []llm.ToolCall) error {
	for _, c := range calls {
		if err := t.sink.ToolStarted(c.ID, c.Name, argsOrEmpty(c.Arguments)); err != nil {
			return fmt.Errorf("stream tool start: %w", err)
		}
	}
	done := make(chan toolOutcome, len(calls))
	for i, c := range calls {
		go func() {
			done <- t.callTool(ctx, i, c)
		}()
	}
	outcomes := make([]toolOutcome, len(calls))
	var sinkErr error
	for range calls {
		o := <-done
		c := calls[o.index]
		status := StatusOK
		if o.err != nil {
			status, o.result.Preview = StatusError, Preview(errorText(c.Name, o.err))
		} else if o.result.Preview == "" {
			o.result.Preview = Preview(o.result.Text)
		}
		outcomes[o.index] = o
		if sinkErr == nil {
			if err := t.sink.ToolFinished(c.ID, c.Name, status, o.latency, o.result.Preview); err != nil {
				sinkErr = fmt.Errorf("stream tool finish: %w", err)
			}
		}
	}
	for i, c := range calls {
		o := outcomes[i]
		run := ToolRun{
			CallID: c.ID, Name: c.Name, Args: argsOrEmpty(c.Arguments),
			Status: StatusOK, Preview: o.result.Preview, Latency: o.latency,
		}
		var content string
		switch {
		case o.err != nil:
			run.Status, run.Error = StatusError, errorText(c.Name, o.err)
			content = "Error: " + run.Error
		case len(o.result.Passages) > 0:
			// Passages are kept whole, so that fitting the context window can
			// leave out the lowest-ranked ones rather than cut one in the middle.
			r := &passageResult{msg: len(t.msgs), kept: len(o.result.Passages)}
			for _, p := range o.result.Passages {
				r.lines = append(r.lines, FormatPassage(p))
			}
			t.passages = append(t.passages, r)
			content = r.content()
		default:
			content = t.capResult(o.result.Text)
		}
		t.out.ToolRuns = append(t.out.ToolRuns, run)
		t.msgs = append(t.msgs, llm.Message{Role: llm.RoleTool, Content: content, ToolName: c.Name, ToolCallID: c.ID})
	}
	return sinkErr
}

// callTool runs one call; a panicking tool becomes an error for the model
// rather than a crashed worker.
func (t *turn) callTool(ctx context.Context, index int, c llm.ToolCall) (o toolOutcome) {
	o.index = index
	ctx, span := tracing.Start(ctx, "tool "+c.Name, attribute.String("gen_ai.tool.name", c.Name), attribute.String("gen_ai.tool.call.id", c.ID))
	defer tracing.End(span, &o.err) // deferred first, so it sees a panic turned into an error
	start := time.Now()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, t.r.cfg.ToolTimeout)
	defer cancel()
	defer func() {
		o.latency = time.Since(start)
		if p := recover(); p != nil {
			t.r.log.ErrorContext(ctx, "tool panicked", "tool", c.Name, "panic", p, "stack", string(debug.Stack()))
			o.result, o.err = Result{}, toolErrorf("tool %q failed unexpectedly", c.Name)
		}
		t.r.cfg.Metrics.toolCalled(t.reg, c.Name, o.err, ctx.Err(), o.latency)
	}()
	call := Call{ID: c.ID, Name: c.Name, Principal: t.in.Principal, Arguments: c.Arguments}
	o.result, o.err = t.reg.Dispatch(ctx, call)
	if o.err != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		o.err = toolErrorf("tool %q timed out after %s", c.Name, t.r.cfg.ToolTimeout)
	}
	if o.err != nil {
		t.r.log.InfoContext(ctx, "tool call failed", "tool", c.Name, "call_id", c.ID, "error", o.err)
	}
	return o
}

func argsOrEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return []byte("{}")
	}
	return raw
}
