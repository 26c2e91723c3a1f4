// Package llmtest provides an in-process HTTP server that speaks Ollama's wire
// format, scripted per test, so the chat and embedding adapters (and everything
// built on them) can be tested end to end through the real client library
// without a model. Production code never imports it.
//
// The server answers POST /api/chat (streamed NDJSON with content, thinking and
// tool-call chunks and a final done chunk carrying usage), POST /api/embed
// (deterministic vectors), POST /api/show (with a context length in model_info),
// GET /api/tags, GET /api/version and GET|HEAD /. A chat showing images to a
// vision model is answered with what the test taught it is written on them
// (see Teach).
package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

// Model names the server knows from the start.
const (
	// ChatModel is a chat model every new server knows.
	ChatModel = "test-chat"
	// EmbedModel is an embedding model every new server knows.
	EmbedModel = "test-embed"
	// Version is what GET /api/version reports.
	Version = "0.17.4"
	// DefaultEmbedDim is the embedding dimension until SetEmbedDim changes it.
	DefaultEmbedDim = 32
	// DefaultContextLength is the context length /api/show reports for a model
	// until SetContextLength changes it: llama3.1's.
	DefaultContextLength = 131072
)

// ToolCall is a tool call the scripted model makes.
type ToolCall struct {
	// Name is the tool's name.
	Name string
	// Arguments is encoded as the call's JSON arguments object.
	Arguments map[string]any
}

// Usage overrides the token counts of the final chunk.
type Usage struct {
	// PromptTokens is sent as prompt_eval_count.
	PromptTokens int
	// CompletionTokens is sent as eval_count.
	CompletionTokens int
}

// Script is one scripted chat reply.
//
// Chunks are emitted in this order: thinking chunks, content tokens, tool calls,
// then the final done chunk. Every emitted chunk counts for DropAfter.
type Script struct {
	// Thinking chunks are sent in the message's thinking field.
	Thinking []string
	// Tokens are sent one chunk each in the message's content field.
	Tokens []string
	// ToolCalls are sent in one chunk, as Ollama does, unless SplitToolCalls.
	ToolCalls []ToolCall
	// SplitToolCalls sends each tool call in its own chunk.
	SplitToolCalls bool
	// FirstTokenDelay is waited before the first chunk.
	FirstTokenDelay time.Duration
	// TokenDelay is waited before every chunk after the first.
	TokenDelay time.Duration
	// Usage overrides the counts; zero means: messages for the prompt, chunks
	// for the completion.
	Usage Usage
	// DoneReason defaults to "stop".
	DoneReason string
	// Status, when non-zero, answers with this HTTP status and Error as body
	// instead of a stream.
	Status int
	// Error is the error message sent with Status (default: the status text).
	Error string
	// Drop cuts the connection after DropAfter chunks (0: before any), without
	// a done chunk, as a crashing server would.
	Drop bool
	// DropAfter is the number of chunks sent before Drop cuts the connection.
	DropAfter int
	// Stall keeps the stream open after the scripted chunks, without a done
	// chunk, until the client goes away: for cancellation tests.
	Stall bool
}

// Text is a convenience script whose content is the given tokens.
func Text(tokens ...string) Script { return Script{Tokens: tokens} }

// Recorded is one request the server received.
type Recorded struct {
	// Method and Path identify the endpoint.
	Method, Path string
	// Body is the raw request body.
	Body []byte
	// At is when the request arrived.
	At time.Time
}

// Server is a scripted Ollama-compatible server. Its methods are safe for
// concurrent use; configure it before or during a test.
type Server struct {
	*httptest.Server

	mu         sync.Mutex
	scripts    []Script
	handler    func(api.ChatRequest) Script
	models     map[string]string // normalised name -> family
	failures   map[string][]int  // path -> statuses still to answer
	recorded   []Recorded
	embedDim   int
	contextLen map[string]int // normalised name -> context length; absent: DefaultContextLength
	embedDelay time.Duration
	embedder   func(text string, dim int) []float32
	inFlight   map[string]int // path -> requests being answered now
	maxFlight  map[string]int // path -> the most answered at once
	onEmit     func(i int, t time.Time)
	seen       map[[32]byte]string      // image fingerprint -> the text on it
	slots      map[string]chan struct{} // path -> its parallelism (SetParallel)

	done chan struct{} // closed on cleanup so stalled handlers exit
}

// New starts a server and closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		models: map[string]string{
			normalise(ChatModel):   "llama",
			normalise(EmbedModel):  "bert",
			normalise(VisionModel): familyVision,
		},
		failures:   map[string][]int{},
		contextLen: map[string]int{},
		embedDim:   DefaultEmbedDim,
		embedder:   Vector,
		inFlight:   map[string]int{}, maxFlight: map[string]int{},
		slots: map[string]chan struct{}{},
		done:  make(chan struct{}),
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.done)
		s.CloseClientConnections()
		s.Close()
	})
	return s
}

// DeadURL returns the URL of a loopback port nothing listens on, to test
// behaviour when Ollama is down.
func DeadURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}
	return "http://" + addr
}

// Reply queues scripted replies; each chat request consumes the next one.
// Queued replies take precedence over the handler.
func (s *Server) Reply(scripts ...Script) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts = append(s.scripts, scripts...)
}

// Handle sets a function that sees each chat request (when no reply is queued)
// and returns the script to answer with. Without either, the model answers "OK.".
func (s *Server) Handle(fn func(req api.ChatRequest) Script) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = fn
}

// AddModel makes a model known (for chat, embed, show and tags).
func (s *Server) AddModel(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models[normalise(name)] = "llama"
}

// RemoveModel makes a model unknown, so requests for it answer 404.
func (s *Server) RemoveModel(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.models, normalise(name))
}

// FailNext makes the next n requests to path (for example "/api/chat") answer
// with the HTTP status before the path works again.
func (s *Server) FailNext(path string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[path] = append(s.failures[path], status)
	}
}

// SetEmbedDim sets the dimension of the vectors /api/embed returns.
func (s *Server) SetEmbedDim(dim int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.embedDim = dim
}

// SetEmbedder replaces the function /api/embed computes its vectors with
// (Vector until then), so a benchmark can stand a better model in.
func (s *Server) SetEmbedder(f func(text string, dim int) []float32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.embedder = f
}

// SetContextLength sets the context length /api/show reports for model in its
// model_info ("llama.context_length"); 0 leaves it out, as for a model whose
// metadata does not say.
func (s *Server) SetContextLength(model string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.contextLen[normalise(model)] = n
}

// SetEmbedDelay makes every /api/embed request take at least d.
func (s *Server) SetEmbedDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.embedDelay = d
}

// SetParallel makes the server answer at most n requests to path (for example
// "/api/embed") at once, as Ollama's OLLAMA_NUM_PARALLEL does: the others wait
// for a slot, and their delays start once they have one. With SetEmbedDelay it
// is an embedder of a fixed capacity (n / delay requests a second), for
// measuring where the model becomes the bottleneck. n <= 0 removes the limit.
// Set it before requests arrive.
func (s *Server) SetParallel(path string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.slots, path)
		return
	}
	s.slots[path] = make(chan struct{}, n)
}

// acquire waits for a slot of path when its parallelism is limited and
// returns its release, or false when the client or the server went away.
func (s *Server) acquire(r *http.Request) (func(), bool) {
	s.mu.Lock()
	slots := s.slots[r.URL.Path]
	s.mu.Unlock()
	if slots == nil {
		return func() {}, true
	}
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, true
	case <-r.Context().Done():
		return nil, false
	case <-s.done:
		return nil, false
	}
}

// OnEmit registers a callback run right after each content, thinking or tool
// chunk i (from 0) has been flushed to the client, so benchmarks can measure
// the latency of relaying tokens downstream.
func (s *Server) OnEmit(fn func(i int, t time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onEmit = fn
}

// Requests returns every request received so far, in arrival order.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recorded(nil), s.recorded...)
}

// Count returns how many requests hit path.
func (s *Server) Count(path string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

// MaxConcurrent returns the most requests to path the server answered at once.
func (s *Server) MaxConcurrent(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxFlight[path]
}

// ChatRequests returns the decoded chat requests received so far, in order.
func (s *Server) ChatRequests() []api.ChatRequest {
	var out []api.ChatRequest
	for _, r := range s.Requests() {
		if r.Path != "/api/chat" {
			continue
		}
		var req api.ChatRequest
		if json.Unmarshal(r.Body, &req) == nil {
			out = append(out, req)
		}
	}
	return out
}

// EmbedInputs returns, per /api/embed request received, the texts it carried.
func (s *Server) EmbedInputs() [][]string {
	var out [][]string
	for _, r := range s.Requests() {
		if r.Path != "/api/embed" {
			continue
		}
		var req api.EmbedRequest
		if json.Unmarshal(r.Body, &req) != nil {
			continue
		}
		out = append(out, inputs(req.Input))
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	release, ok := s.acquire(r)
	if !ok {
		return
	}
	defer release()
	arrived := time.Now()
	s.mu.Lock()
	s.recorded = append(s.recorded, Recorded{Method: r.Method, Path: r.URL.Path, Body: body, At: time.Now()})
	s.inFlight[r.URL.Path]++
	s.maxFlight[r.URL.Path] = max(s.maxFlight[r.URL.Path], s.inFlight[r.URL.Path])
	defer func() {
		s.mu.Lock()
		s.inFlight[r.URL.Path]--
		s.mu.Unlock()
	}()
	var failStatus int
	if q := s.failures[r.URL.Path]; len(q) > 0 {
		failStatus, s.failures[r.URL.Path] = q[0], q[1:]
	}
	s.mu.Unlock()
	if failStatus != 0 {
		writeError(w, failStatus, http.StatusText(failStatus))
		return
	}

	switch {
	case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		_, _ = io.WriteString(w, "Ollama is running")
	case r.URL.Path == "/api/version" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]string{"version": Version})
	case r.URL.Path == "/api/tags" && r.Method == http.MethodGet:
		s.tags(w)
	case r.URL.Path == "/api/show" && r.Method == http.MethodPost:
		s.show(w, body)
	case r.URL.Path == "/api/embed" && r.Method == http.MethodPost:
		s.embed(w, r, body, arrived)
	case r.URL.Path == "/api/chat" && r.Method == http.MethodPost:
		s.chat(w, r, body)
	default:
		writeError(w, http.StatusNotFound, "404 page not found")
	}
}

func (s *Server) known(model string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.models[normalise(model)]
	return ok
}

func (s *Server) tags(w http.ResponseWriter) {
	s.mu.Lock()
	resp := api.ListResponse{Models: []api.ListModelResponse{}}
	for name, family := range s.models {
		resp.Models = append(resp.Models, api.ListModelResponse{
			Name: name, Model: name, Size: 1 << 30, Digest: digest(name),
			ModifiedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
			Details:    api.ModelDetails{Format: "gguf", Family: family, ParameterSize: "1B", QuantizationLevel: "Q4_K_M"},
		})
	}
	s.mu.Unlock()
	sort.Slice(resp.Models, func(i, j int) bool { return resp.Models[i].Name < resp.Models[j].Name })
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) show(w http.ResponseWriter, body []byte) {
	var req api.ShowRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	name := req.Model
	if name == "" {
		name = req.Name
	}
	if !s.known(name) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("model '%s' not found", name))
		return
	}
	info := map[string]any{"general.architecture": "llama"}
	capabilities := []string{"completion", "tools", "thinking", "embedding"}
	s.mu.Lock()
	n, set := s.contextLen[normalise(name)]
	if s.models[normalise(name)] == familyVision {
		capabilities = []string{"completion", "vision"}
	}
	s.mu.Unlock()
	if !set {
		n = DefaultContextLength
	}
	if n > 0 {
		info["llama.context_length"] = n
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"details":      api.ModelDetails{Format: "gguf", Family: "llama", ParameterSize: "1B"},
		"model_info":   info,
		"capabilities": capabilities,
	})
}

// embed answers /api/embed once the embed delay has passed since the request
// arrived: decoding the request and computing the vectors happen within the
// delay, as a model's work would, so the delay is the embedder's whole time.
func (s *Server) embed(w http.ResponseWriter, r *http.Request, body []byte, arrived time.Time) {
	var req api.EmbedRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !s.known(req.Model) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("model \"%s\" not found, try pulling it first", req.Model))
		return
	}
	s.mu.Lock()
	dim, delay, embedder := s.embedDim, s.embedDelay, s.embedder
	s.mu.Unlock()
	if req.Dimensions > 0 && req.Dimensions < dim {
		dim = req.Dimensions
	}
	texts := inputs(req.Input)
	vecs := make([][]float32, len(texts))
	tokens := 0
	for i, t := range texts {
		vecs[i] = embedder(t, dim)
		tokens += len(strings.Fields(t))
	}
	bp := embedBuffers.Get().(*[]byte)
	b := appendEmbedResponse((*bp)[:0], req.Model, vecs, tokens)
	defer func() { *bp = b; embedBuffers.Put(bp) }()
	if !s.wait(r, delay-time.Since(arrived)) {
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// embedBuffers recycles encoded /api/embed responses: benchmarks send many
// per second, and the time spent encoding adds to every request's latency.
var embedBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// appendEmbedResponse encodes what api.EmbedResponse would, writing each
// float32 with the shortest text that reads back as the same float32 rather
// than going through reflection and float64.
func appendEmbedResponse(b []byte, model string, vecs [][]float32, tokens int) []byte {
	name, _ := json.Marshal(model) // a string always encodes
	b = append(b, `{"model":`...)
	b = append(b, name...)
	b = append(b, `,"embeddings":[`...)
	for i, v := range vecs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, f := range v {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
		}
		b = append(b, ']')
	}
	b = append(b, ']')
	if tokens > 0 {
		b = append(b, `,"prompt_eval_count":`...)
		b = strconv.AppendInt(b, int64(tokens), 10)
	}
	return append(b, '}', '\n')
}

// Vector is the deterministic, unnormalised vector the server returns for a
// text: a hashed bag of lower-cased words, so texts sharing words are similar.
// Tests can use it to predict what the server embeds.
func Vector(text string, dim int) []float32 {
	v := make([]float32, dim)
	if dim == 0 {
		return v
	}
	words := strings.Fields(strings.ToLower(text))
	if len(words) == 0 {
		words = []string{"\x00empty"}
	}
	for _, w := range words {
		h := fnv.New64a()
		_, _ = h.Write([]byte(w))
		x := h.Sum64()
		sign := float32(1)
		if x>>63 == 1 {
			sign = -1
		}
		v[x%uint64(dim)] += 3 * sign // scaled so clients must normalise themselves
	}
	return v
}

func inputs(in any) []string {
	switch v := in.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, _ := x.(string)
			out = append(out, s)
		}
		return out
	default:
		return nil
	}
}

func (s *Server) nextScript(req api.ChatRequest) Script {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.scripts) > 0 {
		sc := s.scripts[0]
		s.scripts = s.scripts[1:]
		return sc
	}
	if s.handler != nil {
		h := s.handler
		s.mu.Unlock()
		sc := h(req)
		s.mu.Lock()
		return sc
	}
	return Text("OK.")
}

// wait sleeps for d unless the client or the server goes away first; it
// reports whether the handler should go on.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, body []byte) {
	var req api.ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !s.known(req.Model) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("model \"%s\" not found, try pulling it first", req.Model))
		return
	}
	var sc Script
	if imgs := images(req); len(imgs) > 0 {
		sc = s.visionScript(req, imgs)
	} else {
		sc = s.nextScript(req)
	}
	if sc.Status != 0 {
		msg := sc.Error
		if msg == "" {
			msg = http.StatusText(sc.Status)
		}
		writeError(w, sc.Status, msg)
		return
	}
	chunks := buildChunks(req.Model, sc)
	final := finalChunk(req, sc, len(chunks))
	if req.Stream != nil && !*req.Stream {
		s.chatOnce(w, r, sc, chunks, final)
		return
	}

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	s.mu.Lock()
	onEmit := s.onEmit
	s.mu.Unlock()
	enc := json.NewEncoder(w)
	for i, c := range chunks {
		if sc.Drop && i >= sc.DropAfter {
			drop(w)
			return
		}
		d := sc.TokenDelay
		if i == 0 {
			d = sc.FirstTokenDelay
		}
		if !s.wait(r, d) {
			return
		}
		if err := enc.Encode(c); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		if onEmit != nil {
			onEmit(i, time.Now())
		}
	}
	if sc.Drop {
		drop(w)
		return
	}
	if sc.Stall {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	if !s.wait(r, sc.TokenDelay) {
		return
	}
	_ = enc.Encode(final)
}

// chatOnce answers a non-streaming request with everything in one object.
func (s *Server) chatOnce(w http.ResponseWriter, r *http.Request, sc Script, chunks []api.ChatResponse, final api.ChatResponse) {
	if !s.wait(r, sc.FirstTokenDelay) {
		return
	}
	for _, c := range chunks {
		final.Message.Content += c.Message.Content
		final.Message.Thinking += c.Message.Thinking
		final.Message.ToolCalls = append(final.Message.ToolCalls, c.Message.ToolCalls...)
	}
	writeJSON(w, http.StatusOK, final)
}

func buildChunks(model string, sc Script) []api.ChatResponse {
	now := time.Now().UTC()
	chunk := func(m api.Message) api.ChatResponse {
		m.Role = "assistant"
		return api.ChatResponse{Model: model, CreatedAt: now, Message: m}
	}
	var out []api.ChatResponse
	for _, t := range sc.Thinking {
		out = append(out, chunk(api.Message{Thinking: t}))
	}
	for _, t := range sc.Tokens {
		out = append(out, chunk(api.Message{Content: t}))
	}
	calls := make([]api.ToolCall, len(sc.ToolCalls))
	for i, tc := range sc.ToolCalls {
		args := api.NewToolCallFunctionArguments()
		for k, v := range tc.Arguments {
			args.Set(k, v)
		}
		calls[i] = api.ToolCall{Function: api.ToolCallFunction{Index: i, Name: tc.Name, Arguments: args}}
	}
	switch {
	case len(calls) == 0:
	case sc.SplitToolCalls:
		for _, c := range calls {
			out = append(out, chunk(api.Message{ToolCalls: []api.ToolCall{c}}))
		}
	default:
		out = append(out, chunk(api.Message{ToolCalls: calls}))
	}
	return out
}

func finalChunk(req api.ChatRequest, sc Script, n int) api.ChatResponse {
	usage := sc.Usage
	if usage == (Usage{}) {
		usage = Usage{PromptTokens: 10 * len(req.Messages), CompletionTokens: n}
	}
	reason := sc.DoneReason
	if reason == "" {
		reason = "stop"
	}
	return api.ChatResponse{
		Model: req.Model, CreatedAt: time.Now().UTC(),
		Message: api.Message{Role: "assistant"}, Done: true, DoneReason: reason,
		Metrics: api.Metrics{
			PromptEvalCount: usage.PromptTokens, EvalCount: usage.CompletionTokens,
			TotalDuration: time.Millisecond, EvalDuration: time.Millisecond,
		},
	}
}

// drop cuts the underlying connection so the client sees an abrupt end.
func drop(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	rc := http.NewResponseController(w)
	if conn, _, err := rc.Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// normalise maps "name" and "name:latest" to the same key, as Ollama does.
func normalise(name string) string {
	if !strings.Contains(name, ":") {
		return name + ":latest"
	}
	return name
}

func digest(name string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return fmt.Sprintf("%016x", h.Sum64())
}
