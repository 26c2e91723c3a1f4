package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/llm"
)

// Tool is something the model can call.
type Tool interface {
	// Spec describes the tool to the model; Parameters is the JSON Schema the
	// Registry validates arguments against before Call.
	Spec() llm.ToolSpec
	// Call runs the tool. A returned error is shown to the model as the tool's
	// error text (it never fails the turn by itself), so it should say what
	// went wrong in words the model can act on.
	Call(ctx context.Context, call Call) (Result, error)
}

// ToolSource provides tools whose list can change while the program runs,
// such as those of MCP servers. The Runner asks for the list at every turn.
type ToolSource interface {
	Tools() []Tool
}

// Where tools come from, the Source of ToolInfo.
const (
	ToolSourceBuiltin = "builtin"
	ToolSourceMCP     = "mcp"
)

// ToolInfo describes a tool for people: what it does, where it comes from and
// whether it works now.
type ToolInfo struct {
	Name string
	// Source is ToolSourceBuiltin or ToolSourceMCP.
	Source string
	// Server is the MCP server's name; "" for built-in tools.
	Server      string
	Description string
	Healthy     bool
}

// Describer is a ToolSource that describes its tools, such as *MCPTools.
type Describer interface {
	Describe() []ToolInfo
}

// Describe lists the tools a turn with tools is offered, as the Runner offers
// them: document search, the built-in tools, then each source's. Built-in
// tools are always healthy; a source that cannot describe its tools is listed
// by their specs, as healthy.
func (ts Toolset) Describe() []ToolInfo {
	var out []ToolInfo
	builtin := func(t Tool) {
		spec := t.Spec()
		out = append(out, ToolInfo{Name: spec.Name, Source: ToolSourceBuiltin, Description: spec.Description, Healthy: true})
	}
	if ts.Searcher != nil {
		builtin(&SearchTool{})
	}
	for _, t := range ts.Tools {
		builtin(t)
	}
	for _, s := range ts.Sources {
		if d, ok := s.(Describer); ok {
			out = append(out, d.Describe()...)
			continue
		}
		for _, t := range s.Tools() {
			builtin(t)
		}
	}
	return out
}

// Call is one invocation of a tool.
type Call struct {
	// ID is the model's id for the call, unique within the conversation.
	ID string
	// Name is the tool name as the model called it.
	Name string
	// Principal is the user of the turn: tools that read documents must only
	// return what this principal may see.
	Principal access.Principal
	// Arguments is the raw JSON object the model produced, already validated
	// against the tool's schema.
	Arguments json.RawMessage
}

// Result is what a tool call produced.
type Result struct {
	// Text is fed back to the model.
	Text string
	// Preview is a short summary for the tool.finished event; empty means a
	// prefix of Text.
	Preview string
	// Passages, when set, are the whole of the result: the passages a search
	// returned, numbered as the model saw them, which fitting the context
	// window leaves out one by one. A tool that shows one long text (a page)
	// returns Text alone.
	Passages []NumberedPassage
}

// previewRunes caps previews in events and tool runs: enough to see what a
// tool did, short enough to keep events small.
const previewRunes = 200

// Preview shortens s to a one-line preview of at most previewRunes runes.
func Preview(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return truncateRunes(s, previewRunes)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Registry holds the tools of one turn and dispatches calls by name. It is
// safe for concurrent use, because the tool calls of one step run at once.
type Registry struct {
	tools map[string]Tool
	order []string

	mu      sync.Mutex
	schemas map[string]*compiledSchema // by tool name, compiled on first call
}

type compiledSchema struct {
	resolved *jsonschema.Resolved
	err      error
}

// NewRegistry returns a registry of tools. Tools are listed in the order
// given; a later tool with the same name as an earlier one is dropped and
// reported, so one misbehaving MCP server cannot shadow a built-in tool.
func NewRegistry(tools ...Tool) (*Registry, error) {
	r := &Registry{tools: make(map[string]Tool, len(tools)), schemas: map[string]*compiledSchema{}}
	var errs []error
	for _, t := range tools {
		name := t.Spec().Name
		switch {
		case name == "":
			errs = append(errs, errors.New("tool with an empty name"))
			continue
		case r.tools[name] != nil:
			errs = append(errs, fmt.Errorf("duplicate tool %q", name))
			continue
		}
		r.tools[name] = t
		r.order = append(r.order, name)
	}
	return r, errors.Join(errs...)
}

// Specs lists the tools for the model, in registration order.
func (r *Registry) Specs() []llm.ToolSpec {
	out := make([]llm.ToolSpec, 0, len(r.order))
	for _, name := range r.order {
		out = append(out, r.tools[name].Spec())
	}
	return out
}

// Names lists the tool names in registration order.
func (r *Registry) Names() []string { return slices.Clone(r.order) }

// Len returns the number of tools.
func (r *Registry) Len() int { return len(r.order) }

// Lookup returns the tool with the given name.
func (r *Registry) Lookup(name string) (Tool, bool) {
	t, ok := r.tools[name]
	return t, ok
}

// Dispatch validates the call's arguments against the tool's schema and runs
// the tool. A failure the model can fix (unknown tool, invalid arguments) comes
// back as a *ToolError; a tool's own failures may be internal errors.
func (r *Registry) Dispatch(ctx context.Context, call Call) (Result, error) {
	t, ok := r.tools[call.Name]
	if !ok {
		return Result{}, toolErrorf("unknown tool %q; available tools: %s", call.Name, strings.Join(r.order, ", "))
	}
	args, err := normaliseArgs(call.Arguments)
	if err != nil {
		return Result{}, toolErrorf("invalid arguments for tool %q: %v", call.Name, err)
	}
	call.Arguments = args
	if err := r.validate(call.Name, t.Spec().Parameters, args); err != nil {
		return Result{}, toolErrorf("invalid arguments for tool %q: %v", call.Name, err)
	}
	return t.Call(ctx, call)
}

// normaliseArgs turns missing or null arguments into {} because models often
// omit them for tools without parameters, and rejects anything but an object.
func normaliseArgs(raw json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return json.RawMessage("{}"), nil
	}
	if trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, errors.New("arguments must be a JSON object")
	}
	return trimmed, nil
}

func (r *Registry) validate(name string, schema json.RawMessage, args json.RawMessage) error {
	cs := r.schema(name, schema)
	if cs.err != nil || cs.resolved == nil {
		// A tool whose schema we cannot compile (an MCP server with an exotic
		// dialect) is still callable: the server validates on its side.
		return nil
	}
	var instance any
	if err := json.Unmarshal(args, &instance); err != nil {
		return fmt.Errorf("decode arguments: %w", err)
	}
	return cs.resolved.Validate(instance)
}

func (r *Registry) schema(name string, raw json.RawMessage) *compiledSchema {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cs, ok := r.schemas[name]; ok {
		return cs
	}
	cs := compileSchema(raw)
	r.schemas[name] = cs
	return cs
}

func compileSchema(raw json.RawMessage) *compiledSchema {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return &compiledSchema{}
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(raw, &s); err != nil {
		return &compiledSchema{err: fmt.Errorf("decode schema: %w", err)}
	}
	res, err := s.Resolve(nil)
	if err != nil {
		return &compiledSchema{err: fmt.Errorf("resolve schema: %w", err)}
	}
	return &compiledSchema{resolved: res}
}

// decodeArgs unmarshals validated arguments into a tool's argument struct.
func decodeArgs(raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return toolErrorf("decode arguments: %v", err)
	}
	return nil
}

// ToolError is a tool's own account of why a call failed, written for the model
// and the user (bad arguments, an unknown unit, a time-out): it is said as is in
// the tool result and in the user's tool preview. Any other error is internal:
// only the log keeps its text, and the model and the user are told the tool
// failed (see errorText).
type ToolError struct{ Message string }

func (e *ToolError) Error() string { return e.Message }

func toolErrorf(format string, args ...any) error {
	return &ToolError{Message: fmt.Sprintf(format, args...)}
}

// errorText is what the model and the user are told of a failed call.
func errorText(tool string, err error) string {
	if te, ok := errors.AsType[*ToolError](err); ok {
		return te.Message
	}
	return fmt.Sprintf("the tool %s failed (the details are in the server log)", tool)
}
