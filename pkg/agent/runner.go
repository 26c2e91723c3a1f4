package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/tracing"
)

// Defaults applied by NewRunner to zero fields of Config.
const (
	DefaultMaxSteps      = 8
	DefaultToolTimeout   = 60 * time.Second
	DefaultContextTokens = 8192
	DefaultAnswerReserve = 1024
)

// DefaultSystemPrompt is used when Config.SystemPrompt is empty.
const DefaultSystemPrompt = `You are YouWorker, an assistant for the people of this company.
Answer in the language the user writes in.
For questions about the company, its documents, policies, projects or data, call search_documents before answering, and base your answer on the passages it returns.
Cite the passages you use with their markers, like [1] or [2][3], right after the statement they support. Never invent a marker.
If the passages do not contain the answer, say so plainly instead of guessing.
Use the other tools when they help (current_time for dates and times, convert_units for conversions).`

// StepLimitNote ends an answer cut short by the step limit, so the user knows
// why it may be incomplete.
const StepLimitNote = "(I reached the limit of tool steps for one answer, so this answer may be incomplete.)"

// stepLimitInstruction tells the model, in the last call, that it has to
// answer now with what it has.
const stepLimitInstruction = "The tool step limit is reached: no more tools can be called. Answer now with the information you already have."

// Config tunes the loop. Zero values take the defaults above.
type Config struct {
	// SystemPrompt opens every conversation; empty means DefaultSystemPrompt.
	SystemPrompt string
	// MaxSteps caps the model calls that may request tools in one turn.
	// After that, one last call without tools produces the answer.
	MaxSteps int
	// ToolTimeout bounds each tool call.
	ToolTimeout time.Duration
	// ContextTokens is the most of a model's context window a turn uses; a
	// model whose metadata says its window is smaller (llm.ContextWindower) gets
	// its own. It is also what the model server is asked to allocate (num_ctx),
	// so it bounds the memory a turn takes there. The prompt is fitted to the
	// window less AnswerReserve by leaving out the oldest turns first (see
	// turn.prompt), and the turn's events say so.
	ContextTokens int
	// AnswerReserve is kept free in the context window for the answer; at most
	// a quarter of a smaller model's window.
	AnswerReserve int
	// MaxToolResultTokens caps each tool result other than passages fed back to
	// the model; 0 means a quarter of the prompt budget.
	MaxToolResultTokens int
	// SearchLimit is the default number of passages per search (0: 5).
	SearchLimit int
	// Think asks reasoning models for their reasoning, streamed as thinking.
	// Only enable it for models that support it: others reject the request.
	Think bool
	// ExtractiveFallback answers a turn extractively, from the user's documents,
	// when the default model is unavailable or missing at the turn's first call:
	// the model being down degrades answers instead of failing them.
	ExtractiveFallback bool
	// DefaultModel is the model a turn uses unless it names another; only turns
	// of the default model fall back (a model the user named is not replaced:
	// they asked for it, and are told it is missing).
	DefaultModel string
	// Metrics records every tool call; nil records nothing.
	Metrics *Metrics
}

// Validate reports every configuration problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxSteps < 0 {
		errs = append(errs, errors.New("agent max steps must not be negative"))
	}
	if c.ToolTimeout < 0 {
		errs = append(errs, errors.New("agent tool timeout must not be negative"))
	}
	if c.ContextTokens < 0 || c.AnswerReserve < 0 || c.MaxToolResultTokens < 0 {
		errs = append(errs, errors.New("agent token budgets must not be negative"))
	}
	ctxTokens, reserve := c.ContextTokens, c.AnswerReserve
	if ctxTokens == 0 {
		ctxTokens = DefaultContextTokens
	}
	if reserve == 0 {
		reserve = DefaultAnswerReserve
	}
	if reserve >= ctxTokens {
		errs = append(errs, fmt.Errorf("agent answer reserve (%d tokens) must be smaller than the context (%d tokens)", reserve, ctxTokens))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.SystemPrompt == "" {
		c.SystemPrompt = DefaultSystemPrompt
	}
	if c.MaxSteps == 0 {
		c.MaxSteps = DefaultMaxSteps
	}
	if c.ToolTimeout == 0 {
		c.ToolTimeout = DefaultToolTimeout
	}
	if c.ContextTokens == 0 {
		c.ContextTokens = DefaultContextTokens
	}
	if c.AnswerReserve == 0 {
		c.AnswerReserve = DefaultAnswerReserve
	}
	return c
}

// Toolset is what the Runner offers the model.
type Toolset struct {
	// Searcher backs search_documents; nil means no document search.
	Searcher Searcher
	// Tools are offered on every turn with tools enabled, for example
	// CurrentTime{} and ConvertUnits{}.
	Tools []Tool
	// Sources add tools whose list changes at run time, such as *MCPTools.
	Sources []ToolSource
	// Web backs web_search (a SearXNG instance); nil leaves it out.
	Web WebSearcher
	// WebResults is web_search's default number of results (0: 5).
	WebResults int
	// Pages backs fetch_page (the guarded client); nil leaves it out.
	Pages PageReader
}

// Sink receives a turn's events as they happen. The Runner calls it from the
// goroutine running Run only, in event order. An error from the sink aborts
// the turn: a turn nobody can follow should not go on.
type Sink interface {
	Token(text string) error
	Thinking(text string) error
	ToolStarted(callID, name string, args json.RawMessage) error
	ToolFinished(callID, name, status string, latency time.Duration, preview string) error
}

// NopSink discards every event.
type NopSink struct{}

// Token implements Sink.
func (NopSink) Token(string) error { return nil }

// Thinking implements Sink.
func (NopSink) Thinking(string) error { return nil }

// ToolStarted implements Sink.
func (NopSink) ToolStarted(string, string, json.RawMessage) error { return nil }

// ToolFinished implements Sink.
func (NopSink) ToolFinished(string, string, string, time.Duration, string) error { return nil }

// Tool run statuses, as in tool.finished events.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// Input is one turn.
type Input struct {
	// Principal is the user asking; tools see only what they may see.
	Principal access.Principal
	// History is the conversation before this turn, oldest first.
	History []llm.Message
	// UserMessage is the new message.
	UserMessage string
	// ToolsEnabled offers tools to the model.
	ToolsEnabled bool
	// Model overrides the chat model's default model name when not empty.
	Model string
	// Scope narrows search_documents to the documents and groups the user
	// grounded the turn in; the zero scope searches all the principal may see.
	Scope access.DocumentScope
}

// ToolRun records one tool call of a turn.
type ToolRun struct {
	// CallID is the model's id of the call (the API's tool_calls[].id).
	CallID string
	Name   string
	// Args is the JSON object of arguments the model sent.
	Args json.RawMessage
	// Status is StatusOK or StatusError.
	Status  string
	Preview string
	Latency time.Duration
	// Error is the error text the model saw, for StatusError.
	Error string
}

// Output is the result of a turn, also when it ended early.
type Output struct {
	// Answer is all answer text streamed, in order: exactly the
	// concatenation of the Token events.
	Answer string
	// Citations are the passages whose [n] markers the answer uses.
	Citations []Citation
	// ToolRuns are the tool calls, in the order the model made them.
	ToolRuns []ToolRun
	// Usage is summed over all model calls.
	Usage llm.Usage
	// Steps is the number of model calls.
	Steps int
	// StepLimitReached says the answer was forced by the step limit.
	StepLimitReached bool
}

// Runner runs turns. It is safe for concurrent use; each Run is independent.
type Runner struct {
	model llm.ChatModel
	tools Toolset
	cfg   Config
	log   *slog.Logger
	// fallback answers the turns the model cannot (Config.ExtractiveFallback).
	fallback *Runner
}

// NewRunner returns a Runner that answers with model and offers tools.
func NewRunner(model llm.ChatModel, tools Toolset, cfg Config, logger *slog.Logger) (*Runner, error) {
	if model == nil {
		return nil, errors.New("agent runner: a chat model is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("agent runner config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{model: model, tools: tools, cfg: cfg.withDefaults(), log: logger.With("component", "agent")}
	if _, extractive := model.(Extractive); cfg.ExtractiveFallback && !extractive {
		r.fallback = &Runner{model: Extractive{ModelDown: true}, tools: tools, cfg: r.cfg, log: r.log}
	}
	return r, nil
}

// modelDown reports whether err says the model cannot answer at all now.
func modelDown(err error) bool {
	return errors.Is(err, llm.ErrUnavailable) || errors.Is(err, llm.ErrModelNotFound)
}

// retrievalModel marks chat models that answer by searching documents, such
// as Extractive: they get search_documents even on turns with tools disabled,
// because searching is how they answer at all.
type retrievalModel interface {
	retrievalOnly() bool
}

// registry builds the tools of one turn, and the book of the sources they
// number for its citations.
func (r *Runner) registry(ctx context.Context, in Input) (*Registry, *sources) {
	book := newSources()
	var search *SearchTool
	if r.tools.Searcher != nil {
		search = newSearchTool(r.tools.Searcher, r.cfg.SearchLimit, r.log, book).WithScope(in.Scope)
	}
	var tools []Tool
	rm, isRetrieval := r.model.(retrievalModel)
	switch {
	case in.ToolsEnabled:
		if search != nil {
			tools = append(tools, search)
		}
		if r.tools.Web != nil {
			tools = append(tools, &webSearchTool{web: r.tools.Web, limit: r.tools.WebResults, book: book, log: r.log})
		}
		if r.tools.Pages != nil {
			tools = append(tools, &fetchPageTool{pages: r.tools.Pages, book: book, log: r.log})
		}
		tools = append(tools, r.tools.Tools...)
		for _, s := range r.tools.Sources {
			tools = append(tools, s.Tools()...)
		}
	case isRetrieval && rm.retrievalOnly() && search != nil:
		tools = append(tools, search)
	}
	reg, err := NewRegistry(tools...)
	if err != nil {
		r.log.WarnContext(ctx, "some tools were left out", "error", err)
	}
	return reg, book
}

// Run runs one turn, streaming events to sink. On error, Output still holds
// what the turn produced so far (the partial answer, tool runs, usage); when
// ctx ends, the error wraps ctx.Err() so the caller can record the turn as
// cancelled. Model errors wrap llm.ErrModelNotFound or llm.ErrUnavailable.
func (r *Runner) Run(ctx context.Context, in Input, sink Sink) (Output, error) {
	if sink == nil {
		sink = NopSink{}
	}
	reg, book := r.registry(ctx, in)
	window := r.contextWindow(ctx, in.Model)
	t := &turn{r: r, in: in, sink: sink, reg: reg, callIDs: map[string]bool{},
		window: window, reserve: min(r.cfg.AnswerReserve, window/4)}
	for _, m := range in.History {
		for _, c := range m.ToolCalls {
			t.callIDs[c.ID] = true
		}
	}
	err := t.run(ctx)
	defaultModel := in.Model == "" || in.Model == r.cfg.DefaultModel
	if r.fallback != nil && defaultModel && ctx.Err() == nil && modelDown(err) && t.out.Steps == 1 && t.answer.Len() == 0 && len(t.out.ToolRuns) == 0 {
		// Nothing was streamed yet: the whole turn can still be answered
		// from the user's documents.
		r.log.WarnContext(ctx, "the chat model is unavailable: answering from the documents", "error", err)
		return r.fallback.Run(ctx, in, sink)
	}
	out := t.out
	out.Answer = t.answer.String()
	out.Citations = CitationsFor(out.Answer, book.all())
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return out, err
}

// turn is the state of one Run.
type turn struct {
	r    *Runner
	in   Input
	sink Sink
	reg  *Registry

	msgs    []llm.Message // this turn's messages: the user's, then assistant and tool messages
	callIDs map[string]bool
	answer  strings.Builder
	out     Output

	// The context window of the turn and what of it is kept for the answer.
	window, reserve int
	// What was left out to fit the window, for the rest of the turn: the
	// history before historyFrom, passages and other tool results, and what the
	// sink was last told of it.
	historyFrom     int
	passages        []*passageResult
	droppedPassages int
	droppedResults  int
	trimmed         ContextTrimmedEvent
}

// contextWindow is the context window a turn of model fits its prompt to: the
// configured most, or the model's own window when its metadata says it is
// smaller. A model whose metadata cannot be read gets the configured window.
func (r *Runner) contextWindow(ctx context.Context, model string) int {
	window := r.cfg.ContextTokens
	cw, ok := r.model.(llm.ContextWindower)
	if !ok {
		return window
	}
	n, err := cw.ContextWindow(ctx, model)
	if err != nil {
		// The chat call that follows says what is wrong, better than this can.
		r.log.DebugContext(ctx, "context window of the model unknown", "model", model, "error", err)
		return window
	}
	if n > 0 && n < window {
		return n
	}
	return window
}

func (t *turn) run(ctx context.Context) error {
	cfg := t.r.cfg
	t.msgs = []llm.Message{{Role: llm.RoleUser, Content: t.in.UserMessage}}
	specs := t.reg.Specs()
	for {
		offer := len(specs) > 0 && t.out.Steps < cfg.MaxSteps
		final := len(specs) > 0 && !offer
		var stepSpecs []llm.ToolSpec
		if offer {
			stepSpecs = specs
		}
		msgs, err := t.prompt(ctx, stepSpecs, final)
		if err != nil {
			return err
		}
		resp, err := t.step(ctx, msgs, stepSpecs)
		t.out.Steps++
		t.out.Usage.PromptTokens += resp.Usage.PromptTokens
		t.out.Usage.CompletionTokens += resp.Usage.CompletionTokens
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("agent turn: %w", ctx.Err())
			}
			return fmt.Errorf("agent step %d: %w", t.out.Steps, err)
		}
		calls := resp.Message.ToolCalls
		if final {
			t.out.StepLimitReached = true
			if len(calls) > 0 {
				t.r.log.WarnContext(ctx, "model asked for tools after the step limit; ignored", "calls", len(calls))
			}
			return t.emitText(StepLimitNote)
		}
		if !offer || len(calls) == 0 {
			if len(calls) > 0 {
				t.r.log.WarnContext(ctx, "model asked for tools it was not offered; ignored", "calls", len(calls))
			}
			return nil
		}
		calls = ensureCallIDs(calls, t.out.Steps, t.callIDs)
		t.msgs = append(t.msgs, llm.Message{
			Role: llm.RoleAssistant, Content: resp.Message.Content, Thinking: resp.Message.Thinking, ToolCalls: calls,
		})
		if err := t.runTools(ctx, calls); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("agent turn: %w", ctx.Err())
		}
	}
}

// step makes one model call, streaming its content and thinking.
func (t *turn) step(ctx context.Context, msgs []llm.Message, specs []llm.ToolSpec) (resp llm.Response, err error) {
	req := llm.Request{
		Model:    t.in.Model,
		Messages: msgs,
		Tools:    specs,
		Think:    t.r.cfg.Think,
		Options:  llm.Options{NumCtx: t.window},
	}
	ctx, span := tracing.Start(ctx, "llm.chat", attribute.String("gen_ai.request.model", req.Model), attribute.Int("gen_ai.request.tools", len(specs)))
	defer tracing.End(span, &err)
	startedContent := false
	resp, err = t.r.model.Chat(ctx, req, func(d llm.Delta) error {
		if d.Thinking != "" {
			if err := t.sink.Thinking(d.Thinking); err != nil {
				return fmt.Errorf("stream thinking: %w", err)
			}
		}
		if d.Content == "" {
			return nil
		}
		if !startedContent {
			startedContent = true
			// Text of an earlier step ("Let me look that up.") and this
			// step's text belong to one answer; keep them apart.
			if err := t.separate(); err != nil {
				return err
			}
		}
		return t.emit(d.Content)
	})
	span.SetAttributes(attribute.String("gen_ai.response.model", resp.Model),
		attribute.Int("gen_ai.usage.input_tokens", resp.Usage.PromptTokens), attribute.Int("gen_ai.usage.output_tokens", resp.Usage.CompletionTokens))
	return resp, err
}

// separate starts a new paragraph when the answer already has text.
func (t *turn) separate() error {
	s := t.answer.String()
	if s == "" || strings.HasSuffix(s, "\n\n") {
		return nil
	}
	sep := "\n\n"
	if strings.HasSuffix(s, "\n") {
		sep = "\n"
	}
	return t.emit(sep)
}

// emit appends answer text and streams it.
func (t *turn) emit(text string) error {
	t.answer.WriteString(text)
	if err := t.sink.Token(text); err != nil {
		return fmt.Errorf("stream token: %w", err)
	}
	return nil
}

// emitText adds a paragraph of our own to the answer.
func (t *turn) emitText(text string) error {
	if err := t.separate(); err != nil {
		return err
	}
	return t.emit(text)
}

// ensureCallIDs gives every call an id unique in the conversation. Adapters
// number calls by counting those in the request, which can repeat an id once
// history is trimmed, and a call without a unique id could not be matched to
// its result.
func ensureCallIDs(calls []llm.ToolCall, step int, seen map[string]bool) []llm.ToolCall {
	out := make([]llm.ToolCall, len(calls))
	for i, c := range calls {
		for n := 0; c.ID == "" || seen[c.ID]; n++ {
			c.ID = fmt.Sprintf("call_s%d_%d", step, i+1)
			if n > 0 {
				c.ID += "_" + strconv.Itoa(n)
			}
		}
		seen[c.ID] = true
		out[i] = c
	}
	return out
}
