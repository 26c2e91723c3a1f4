package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/youworker/youworker/pkg/ollamahttp"
	"github.com/youworker/youworker/pkg/tracing"

	"github.com/cenkalti/backoff/v4"
	"github.com/ollama/ollama/api"
	"go.opentelemetry.io/otel/attribute"
)

// OllamaConfig configures the Ollama chat adapter.
type OllamaConfig struct {
	// URL is the Ollama base URL, for example http://127.0.0.1:11434.
	URL string
	// Model is the default chat model (Request.Model overrides it).
	Model string
	// Timeout bounds a whole Chat call, retries included; 0 means only the
	// caller's context bounds it.
	Timeout time.Duration
	// Metrics records every chat call; nil records nothing.
	Metrics *Metrics
	ollamahttp.Settings
}

// Validate reports every configuration problem at once.
func (c OllamaConfig) Validate() error {
	errs := c.Settings.Validate(c.URL)
	if c.Model == "" {
		errs = append(errs, errors.New("ollama chat model is required"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("ollama chat timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Ollama is a ChatModel backed by an Ollama server. It is safe for concurrent
// use.
type Ollama struct {
	cfg     OllamaConfig
	client  *api.Client
	http    *http.Client
	chatURL string
	signed  bool            // chat goes through the library, which signs requests
	owned   *http.Transport // closed by Close when we built it
	retry   ollamahttp.Retry
	log     *slog.Logger
	windows windowCache
}

var (
	_ ChatModel       = (*Ollama)(nil)
	_ Checker         = (*Ollama)(nil)
	_ ContextWindower = (*Ollama)(nil)
)

// NewOllama returns an adapter for the server at cfg.URL. It does not contact
// the server; use Check for that.
func NewOllama(cfg OllamaConfig, logger *slog.Logger) (*Ollama, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ollama chat config: %w", err)
	}
	base, _ := url.Parse(cfg.URL) // validated above
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := &Ollama{cfg: cfg, log: logger.With("component", "llm.ollama"),
		retry: cfg.Retry()}
	var httpClient *http.Client
	httpClient, o.owned = cfg.Client()
	o.client = api.NewClient(base, httpClient)
	o.http = httpClient
	o.chatURL = base.JoinPath("/api/chat").String()
	o.signed = ollamahttp.SignedRequests(base)
	return o, nil
}

// Model returns the configured default model.
func (o *Ollama) Model() string { return o.cfg.Model }

// Close releases idle connections of the client NewOllama built.
func (o *Ollama) Close() error {
	if o.owned != nil {
		o.owned.CloseIdleConnections()
	}
	return nil
}

// errIncomplete marks a stream that ended or broke off without its done
// chunk, which is what a crashing or restarting server looks like.
var errIncomplete = errors.New("stream ended before the final chunk")

// errTurnTimeout is the cancellation cause of Config.Timeout, to tell it apart
// from the caller cancelling.
var errTurnTimeout = errors.New("chat turn timed out")

// Chat streams a completion, calling onDelta for every piece as it arrives.
// Transient failures are retried with exponential backoff only while nothing
// has been passed to onDelta.
func (o *Ollama) Chat(ctx context.Context, req Request, onDelta func(Delta) error) (resp Response, err error) {
	timer := o.cfg.Metrics.startCall()
	defer func() { timer.done(o.modelLabel(req.Model, err), resp, err) }()
	onDelta = timer.observe(onDelta)
	if o.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, o.cfg.Timeout, errTurnTimeout)
		defer cancel()
	}
	areq, err := toAPIRequest(o.cfg.Model, req)
	if err != nil {
		return Response{}, err
	}
	body, err := json.Marshal(areq)
	if err != nil {
		return Response{}, fmt.Errorf("encode chat request: %w", err)
	}
	firstID := countToolCalls(req.Messages) + 1
	b := o.retry.BackOff()
	for attempt := 1; ; attempt++ {
		resp, streamed, err := o.chatOnce(ctx, areq, body, firstID, onDelta)
		if err == nil {
			return resp, nil
		}
		var cb callbackError
		if errors.As(err, &cb) {
			return Response{}, cb.err
		}
		if ctx.Err() != nil {
			return Response{}, o.ctxError(ctx, "chat")
		}
		if streamed {
			return Response{}, fmt.Errorf("%w: ollama chat stream interrupted: %w", ErrUnavailable, err)
		}
		if !transient(err) {
			return Response{}, classify("ollama chat", areq.Model, err)
		}
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			return Response{}, fmt.Errorf("%w: ollama chat failed after %d attempts: %w", ErrUnavailable, attempt, err)
		}
		o.log.WarnContext(ctx, "ollama chat failed, retrying",
			"error", err, "attempt", attempt, "retry_in", wait, "model", areq.Model)
		if !sleep(ctx, wait) {
			return Response{}, o.ctxError(ctx, "chat")
		}
	}
}

// modelLabel is the model label of a call: the model asked for when the server
// had it or it is the configured one, else "other" (see modelOther).
func (o *Ollama) modelLabel(requested string, err error) string {
	if requested == "" || requested == o.cfg.Model {
		return o.cfg.Model
	}
	if err != nil {
		return modelOther
	}
	return requested
}

// ctxError explains why ctx ended: our own turn timeout makes the model
// unavailable for this turn; a caller's cancellation is passed through.
func (o *Ollama) ctxError(ctx context.Context, op string) error {
	if errors.Is(context.Cause(ctx), errTurnTimeout) {
		return fmt.Errorf("%w: ollama %s: no answer within %s: %w", ErrUnavailable, op, o.cfg.Timeout, context.DeadlineExceeded)
	}
	return fmt.Errorf("ollama %s: %w", op, ctx.Err())
}

// callbackError carries an error returned by onDelta through the stream
// reader untouched.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }
func (e callbackError) Unwrap() error { return e.err }

// chatOnce makes one attempt. streamed reports whether onDelta was called.
func (o *Ollama) chatOnce(ctx context.Context, areq *api.ChatRequest, body []byte, firstID int, onDelta func(Delta) error) (resp Response, streamed bool, err error) {
	ctx, span := tracing.Start(ctx, "ollama.chat", attribute.String("gen_ai.request.model", areq.Model))
	defer tracing.End(span, &err)
	var content, thinking strings.Builder
	var calls []ToolCall
	done := false
	onChunk := func(c *api.ChatResponse) error {
		d := Delta{Content: c.Message.Content, Thinking: c.Message.Thinking}
		for _, tc := range c.Message.ToolCalls {
			call, err := fromAPIToolCall(tc, firstID+len(calls))
			if err != nil {
				return err
			}
			calls = append(calls, call)
			d.ToolCalls = append(d.ToolCalls, call)
		}
		content.WriteString(d.Content)
		thinking.WriteString(d.Thinking)
		if c.Done {
			done = true
			resp.DoneReason = c.DoneReason
			resp.Model = c.Model
			resp.Usage = Usage{PromptTokens: c.PromptEvalCount, CompletionTokens: c.EvalCount}
		}
		if d.Content == "" && d.Thinking == "" && len(d.ToolCalls) == 0 {
			return nil
		}
		streamed = true
		if onDelta != nil {
			if err := onDelta(d); err != nil {
				return callbackError{err}
			}
		}
		return nil
	}
	if o.signed {
		err = o.client.Chat(ctx, areq, func(c api.ChatResponse) error { return onChunk(&c) })
	} else {
		err = o.streamChat(ctx, body, onChunk)
	}
	if err == nil && !done {
		err = errIncomplete
	}
	if err != nil {
		return Response{}, streamed, err
	}
	if resp.Model == "" {
		resp.Model = areq.Model
	}
	resp.Message = Message{Role: RoleAssistant, Content: content.String(), Thinking: thinking.String(), ToolCalls: calls}
	return resp, streamed, nil
}

// Check verifies that the server answers and has the configured model.
func (o *Ollama) Check(ctx context.Context) error {
	if _, err := o.client.Show(ctx, &api.ShowRequest{Model: o.cfg.Model}); err != nil {
		if ctx.Err() != nil {
			return o.ctxError(ctx, "show")
		}
		return classify("ollama show", o.cfg.Model, err)
	}
	return nil
}

// ModelInfo describes a model installed on the server.
type ModelInfo struct {
	// Name is the model's name with its tag, as Ollama lists it.
	Name string `json:"name"`
	// Size is the size on disk in bytes.
	Size int64 `json:"size"`
	// Family is the model family, such as "llama".
	Family string `json:"family,omitempty"`
	// ParameterSize is the human-readable parameter count, such as "8B".
	ParameterSize string `json:"parameter_size,omitempty"`
	// ModifiedAt is when the model was last pulled or changed.
	ModifiedAt time.Time `json:"modified_at"`
}

// Models lists the models installed on the server.
func (o *Ollama) Models(ctx context.Context) ([]ModelInfo, error) {
	list, err := o.client.List(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, o.ctxError(ctx, "list models")
		}
		return nil, classify("ollama list models", "", err)
	}
	out := make([]ModelInfo, 0, len(list.Models))
	for _, m := range list.Models {
		out = append(out, ModelInfo{
			Name: m.Name, Size: m.Size, Family: m.Details.Family,
			ParameterSize: m.Details.ParameterSize, ModifiedAt: m.ModifiedAt,
		})
	}
	return out, nil
}

// transient reports whether a failed attempt may succeed if repeated.
func transient(err error) bool {
	return errors.Is(err, errIncomplete) || ollamahttp.Transient(err)
}

// classify maps a non-context failure to the package's sentinels.
func classify(op, model string, err error) error {
	if notFound(err) {
		return fmt.Errorf("%w: %s %q: %w", ErrModelNotFound, op, model, err)
	}
	if transient(err) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func notFound(err error) bool {
	var se api.StatusError
	if errors.As(err, &se) {
		return ollamahttp.ModelNotFound(err)
	}
	// Ollama reports some failures as a plain error line in a 200 stream.
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "model") && strings.Contains(msg, "not found")
}

// sleep waits for d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func countToolCalls(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.ToolCalls)
	}
	return n
}

// toolCallID numbers calls across the conversation (call_1, call_2, ...), so
// ids are unique within a conversation and identical when a turn is re-run.
func toolCallID(n int) string { return "call_" + strconv.Itoa(n) }

func fromAPIToolCall(tc api.ToolCall, n int) (ToolCall, error) {
	args, err := json.Marshal(tc.Function.Arguments)
	if err != nil {
		return ToolCall{}, fmt.Errorf("encode arguments of tool call %q: %w", tc.Function.Name, err)
	}
	return ToolCall{ID: toolCallID(n), Name: tc.Function.Name, Arguments: args}, nil
}

func toAPIRequest(defaultModel string, req Request) (*api.ChatRequest, error) {
	model := req.Model
	if model == "" {
		model = defaultModel
	}
	stream := true
	out := &api.ChatRequest{Model: model, Stream: &stream, Options: toAPIOptions(req.Options)}
	if req.Think {
		out.Think = &api.ThinkValue{Value: true}
	}
	out.Messages = make([]api.Message, 0, len(req.Messages))
	for i, m := range req.Messages {
		am := api.Message{Role: m.Role, Content: m.Content, Thinking: m.Thinking, ToolName: m.ToolName, ToolCallID: m.ToolCallID}
		for _, img := range m.Images {
			am.Images = append(am.Images, api.ImageData(img))
		}
		for j, tc := range m.ToolCalls {
			args := api.NewToolCallFunctionArguments()
			if len(tc.Arguments) > 0 && string(tc.Arguments) != "null" {
				if err := json.Unmarshal(tc.Arguments, &args); err != nil {
					return nil, fmt.Errorf("message %d: arguments of tool call %q: %w", i, tc.Name, err)
				}
			}
			am.ToolCalls = append(am.ToolCalls, api.ToolCall{
				ID:       tc.ID,
				Function: api.ToolCallFunction{Index: j, Name: tc.Name, Arguments: args},
			})
		}
		out.Messages = append(out.Messages, am)
	}
	for _, t := range req.Tools {
		var params api.ToolFunctionParameters
		if len(t.Parameters) > 0 && string(t.Parameters) != "null" {
			if err := json.Unmarshal(t.Parameters, &params); err != nil {
				return nil, fmt.Errorf("parameters schema of tool %q: %w", t.Name, err)
			}
		}
		if params.Type == "" {
			params.Type = "object"
		}
		if params.Properties == nil {
			params.Properties = api.NewToolPropertiesMap()
		}
		out.Tools = append(out.Tools, api.Tool{
			Type:     "function",
			Function: api.ToolFunction{Name: t.Name, Description: t.Description, Parameters: params},
		})
	}
	return out, nil
}

func toAPIOptions(o Options) map[string]any {
	m := make(map[string]any, len(o.Extra)+6)
	for k, v := range o.Extra {
		m[k] = v
	}
	if o.Temperature != nil {
		m["temperature"] = *o.Temperature
	}
	if o.TopP != nil {
		m["top_p"] = *o.TopP
	}
	if o.Seed != nil {
		m["seed"] = *o.Seed
	}
	if o.NumCtx > 0 {
		m["num_ctx"] = o.NumCtx
	}
	if o.NumPredict != 0 {
		m["num_predict"] = o.NumPredict
	}
	if len(o.Stop) > 0 {
		m["stop"] = o.Stop
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
