// Package llm holds the provider-neutral chat model contract (messages, tool
// calls, streamed deltas, usage) and its adapters, starting with Ollama.
//
// The agent loop depends on ChatModel only, so it can run against Ollama, the
// extractive fallback or a test double alike. Adapters translate transport
// failures into the sentinels ErrUnavailable and ErrModelNotFound, which the
// API maps to the error codes llm_unavailable and model_not_found.
package llm

import (
	"context"
	"encoding/json"
	"errors"
)

// Sentinel errors returned (wrapped) by adapters; test them with errors.Is.
var (
	// ErrUnavailable means the model server could not be reached or kept
	// failing after retries, or the stream broke off.
	ErrUnavailable = errors.New("llm unavailable")
	// ErrModelNotFound means the server does not have the requested model.
	ErrModelNotFound = errors.New("model not found")
)

// Message roles.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Message is one entry of a conversation.
type Message struct {
	// Role is one of RoleSystem, RoleUser, RoleAssistant, RoleTool.
	Role string `json:"role"`
	// Content is the text of the message (for RoleTool: the tool result).
	Content string `json:"content"`
	// Thinking is the model's reasoning text, when it produced any.
	Thinking string `json:"thinking,omitempty"`
	// ToolCalls are the calls an assistant message asks for.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolName names the tool whose result a RoleTool message carries.
	ToolName string `json:"tool_name,omitempty"`
	// ToolCallID links a RoleTool message to the call it answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// Images are encoded images (PNG or JPEG) a vision model reads with the
	// message's text.
	Images [][]byte `json:"images,omitempty"`
}

// ToolCall is a request by the model to run a tool.
type ToolCall struct {
	// ID identifies the call within the turn; adapters generate one when the
	// provider has none, so tool results can be matched to calls.
	ID string `json:"id"`
	// Name is the tool's name.
	Name string `json:"name"`
	// Arguments is the JSON object of arguments.
	Arguments json.RawMessage `json:"arguments"`
}

// ToolSpec describes a tool offered to the model.
type ToolSpec struct {
	// Name is the tool's name, as the model will call it.
	Name string `json:"name"`
	// Description tells the model when to use the tool.
	Description string `json:"description"`
	// Parameters is a JSON Schema object describing the arguments.
	Parameters json.RawMessage `json:"parameters"`
}

// Options are sampling and runtime options; zero values mean the model's
// defaults.
type Options struct {
	// Temperature is a pointer because 0 (greedy) is a meaningful choice.
	Temperature *float64
	// TopP is nucleus sampling; nil means the model default.
	TopP *float64
	// Seed makes sampling reproducible when set.
	Seed *int
	// NumCtx is the context window in tokens.
	NumCtx int
	// NumPredict caps the number of generated tokens.
	NumPredict int
	// Stop sequences end generation.
	Stop []string
	// Extra passes provider-specific options through unchanged.
	Extra map[string]any
}

// Request is one chat completion request.
type Request struct {
	// Model overrides the adapter's configured model when not empty.
	Model string
	// Messages is the conversation so far.
	Messages []Message
	// Tools the model may call.
	Tools []ToolSpec
	// Think asks reasoning models to think (and report it) before answering.
	Think bool
	// Options tune sampling.
	Options Options
}

// Delta is a piece of the answer, delivered as it streams in.
type Delta struct {
	// Content is answer text.
	Content string
	// Thinking is reasoning text.
	Thinking string
	// ToolCalls are calls completed in this piece, with their ids.
	ToolCalls []ToolCall
}

// Usage counts tokens of one model call.
type Usage struct {
	// PromptTokens is the number of tokens read.
	PromptTokens int `json:"prompt_tokens"`
	// CompletionTokens is the number of tokens generated.
	CompletionTokens int `json:"completion_tokens"`
}

// Response is the complete result of a chat call.
type Response struct {
	// Message is the assistant message: all content, thinking and tool calls.
	Message Message
	// Usage is the token accounting reported by the model server.
	Usage Usage
	// DoneReason says why generation stopped ("stop", "length", ...).
	DoneReason string
	// Model is the model that answered.
	Model string
}

// ChatModel produces a streamed chat completion. onDelta is called, from the
// calling goroutine, for each piece as it arrives; returning an error from it
// aborts the call with that error. Implementations never retry once onDelta
// has been called, so callers never see duplicated output.
type ChatModel interface {
	Chat(ctx context.Context, req Request, onDelta func(Delta) error) (Response, error)
}

// ContextWindower is a ChatModel that knows how many tokens each of its models
// can attend to, from the model's own metadata. model "" is the adapter's
// default model; 0 with a nil error means the metadata does not say.
type ContextWindower interface {
	ContextWindow(ctx context.Context, model string) (int, error)
}

// Checker reports whether a model is ready to serve (for readiness probes).
type Checker interface {
	Check(ctx context.Context) error
}
