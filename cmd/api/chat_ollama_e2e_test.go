package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/corpustest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// chatTurn is the Turn of the API contract.
type chatTurn struct {
	ID        string  `json:"id"`
	SessionID string  `json:"session_id"`
	Status    string  `json:"status"`
	Answer    *string `json:"answer"`
	Model     string  `json:"model"`
	Citations []struct {
		Index      int    `json:"index"`
		DocumentID string `json:"document_id"`
		Filename   string `json:"filename"`
	} `json:"citations"`
	ToolCalls []struct {
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Args      json.RawMessage `json:"args"`
		Status    string          `json:"status"`
		LatencyMS *int            `json:"latency_ms"`
	} `json:"tool_calls"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// scriptedModel answers each conversation by its latest user message: step n of a
// turn (n assistant messages after that message) gets the n-th script. Parallel
// tests each use their own message, so they never take each other's replies.
type scriptedModel struct {
	llm   *llmtest.Server
	mu    sync.Mutex
	steps map[string][]llmtest.Script
}

func newScriptedModel(t *testing.T) *scriptedModel {
	m := &scriptedModel{llm: llmtest.New(t), steps: map[string][]llmtest.Script{}}
	m.llm.Handle(func(req api.ChatRequest) llmtest.Script {
		content, step := lastUserMessage(req)
		m.mu.Lock()
		defer m.mu.Unlock()
		if s := m.steps[content]; step < len(s) {
			return s[step]
		}
		return llmtest.Text("OK.")
	})
	return m
}

func lastUserMessage(req api.ChatRequest) (content string, step int) {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		switch req.Messages[i].Role {
		case "user":
			return req.Messages[i].Content, step
		case "assistant":
			step++
		}
	}
	return "", step
}

// on scripts the replies to a user message, one per model call of its turn.
func (m *scriptedModel) on(content string, steps ...llmtest.Script) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.steps[content] = steps
}

// requests returns the model calls made for a user message.
func (m *scriptedModel) requests(content string) []api.ChatRequest {
	var out []api.ChatRequest
	for _, req := range m.llm.ChatRequests() {
		if c, _ := lastUserMessage(req); c == content {
			out = append(out, req)
		}
	}
	return out
}

// askChat posts content to a new session of the user and returns the turn id.
func askChat(t *testing.T, c *apitest.Client, key, content string, extra map[string]any) (turnID, sessionID string) {
	t.Helper()
	var sess map[string]any
	c.Do("POST", "/v1/chat/sessions", key, nil, http.StatusCreated, &sess)
	sessionID = sess["id"].(string)
	body := map[string]any{"content": content}
	for k, v := range extra {
		body[k] = v
	}
	var posted struct {
		Turn chatTurn `json:"turn"`
	}
	c.Do("POST", "/v1/chat/sessions/"+sessionID+"/messages", key, body, http.StatusAccepted, &posted)
	return posted.Turn.ID, sessionID
}

func getChatTurn(t *testing.T, c *apitest.Client, key, turnID string) chatTurn {
	t.Helper()
	var tv chatTurn
	c.Do("GET", "/v1/chat/turns/"+turnID, key, nil, http.StatusOK, &tv)
	return tv
}

func eventTypes(events []sseEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

// eventsOfType returns the events of one type.
func eventsOfType(events []sseEvent, typ string) []sseEvent {
	var out []sseEvent
	for _, e := range events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func decodeEvent[T any](t *testing.T, e sseEvent) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(e.Data), &v), "event %s: %s", e.Type, e.Data)
	return v
}

// followEvents follows a turn's event stream in the background; the channel closes
// with the stream.
func followEvents(t *testing.T, base, key, turnID string) <-chan sseEvent {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/v1/chat/turns/"+turnID+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := make(chan sseEvent, 1024)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		_ = apitest.ReadEvents(resp.Body, func(e sseEvent) bool {
			out <- e
			return true
		})
	}()
	return out
}

// readUntil reads events until the condition holds for those read so far, and returns them.
func readUntil(t *testing.T, ch <-chan sseEvent, until func([]sseEvent) bool) []sseEvent {
	t.Helper()
	var got []sseEvent
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("stream closed early; events: %v", eventTypes(got))
			}
			got = append(got, e)
			if until(got) {
				return got
			}
		case <-deadline:
			t.Fatalf("timed out; events: %v", eventTypes(got))
		}
	}
}

func lastIs(typ string) func([]sseEvent) bool {
	return func(evs []sseEvent) bool { return evs[len(evs)-1].Type == typ }
}

func TestOllamaChatEndToEnd(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	model := newScriptedModel(t)
	admin := "bootstrap-admin-key-for-ollama-e2e-test"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error",
		"YW_OLLAMA_URL": model.llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_AGENT_MAX_STEPS": "2",
		"YW_CHAT_MODELS": "no-such-model:70b"})
	c := apitest.NewClient(t, base)

	t.Run("plain answer streams tokens and records usage", func(t *testing.T) {
		t.Parallel()
		key := newUser(t, c, admin, "plain")
		const q = "Say hello"
		model.on(q, llmtest.Script{Tokens: []string{"Hello", ", ", "world", "."},
			Usage: llmtest.Usage{PromptTokens: 42, CompletionTokens: 7}})
		turnID, _ := askChat(t, c, key, q, nil)
		events := readEvents(t, base, key, turnID, 0, 0)
		require.Equal(t, "turn.started", events[0].Type)
		require.Equal(t, "turn.completed", events[len(events)-1].Type)
		require.Equal(t, "Hello, world.", tokensOf(events))
		done := decodeEvent[agent.TurnCompletedEvent](t, events[len(events)-1])
		require.Equal(t, "Hello, world.", done.Answer)
		require.Equal(t, 42, done.Usage.PromptTokens)
		require.Equal(t, 7, done.Usage.CompletionTokens)
		require.NotEmpty(t, done.MessageID)

		tv := getChatTurn(t, c, key, turnID)
		require.Equal(t, "completed", tv.Status)
		require.Equal(t, "Hello, world.", *tv.Answer)
		require.Equal(t, llmtest.ChatModel, tv.Model)
		require.NotNil(t, tv.Usage)
		require.Equal(t, 42, tv.Usage.PromptTokens)
		require.Equal(t, 7, tv.Usage.CompletionTokens)
		require.Empty(t, tv.ToolCalls)
		require.NotNil(t, tv.StartedAt)
		require.NotNil(t, tv.FinishedAt)

		reqs := model.requests(q)
		require.Len(t, reqs, 1)
		require.Equal(t, llmtest.ChatModel, reqs[0].Model)
		require.Equal(t, "system", reqs[0].Messages[0].Role)
		var tools []string
		for _, tool := range reqs[0].Tools {
			tools = append(tools, tool.Function.Name)
		}
		require.Subset(t, tools, []string{"search_documents", "current_time", "convert_units"})
	})

	t.Run("search_documents over an uploaded document gives citations", func(t *testing.T) {
		t.Parallel()
		key := newUser(t, c, admin, "searcher")
		var up struct {
			Documents []document `json:"documents"`
		}
		c.Upload("/v1/documents", key, []apitest.File{{Name: "norwich-city.txt", Data: corpustest.Read(t, "norwich-city.txt")}}, nil, http.StatusAccepted, &up)
		require.Equal(t, "ready", waitFor(t, c, key, up.Documents[0].ID).Status)

		const q = "Who is Iwan Roberts?"
		model.on(q,
			llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "search_documents", Arguments: map[string]any{"query": "Iwan Roberts"}}}},
			llmtest.Script{Tokens: []string{"Iwan Roberts ", "is a Welsh footballer ", "[1]."}},
		)
		turnID, _ := askChat(t, c, key, q, nil)
		events := readEvents(t, base, key, turnID, 0, 0)
		require.Equal(t, []string{"turn.started", "tool.started", "tool.finished"}, eventTypes(events)[:3])
		started := decodeEvent[agent.ToolStartedEvent](t, events[1])
		require.Equal(t, "search_documents", started.Name)
		require.JSONEq(t, `{"query":"Iwan Roberts"}`, string(started.Args))
		finished := decodeEvent[agent.ToolFinishedEvent](t, events[2])
		require.Equal(t, "ok", finished.Status)
		require.Equal(t, started.CallID, finished.CallID)
		require.Contains(t, finished.Preview, "norwich-city.txt")
		done := decodeEvent[agent.TurnCompletedEvent](t, events[len(events)-1])
		require.Len(t, done.Citations, 1)
		require.Equal(t, up.Documents[0].ID, done.Citations[0].DocumentID)

		tv := getChatTurn(t, c, key, turnID)
		require.Equal(t, "completed", tv.Status)
		require.Equal(t, "Iwan Roberts is a Welsh footballer [1].", *tv.Answer)
		require.Len(t, tv.Citations, 1)
		require.Equal(t, 1, tv.Citations[0].Index)
		require.Equal(t, "norwich-city.txt", tv.Citations[0].Filename)
		require.Len(t, tv.ToolCalls, 1)
		require.Equal(t, "search_documents", tv.ToolCalls[0].Name)
		require.Equal(t, "ok", tv.ToolCalls[0].Status)
		require.NotNil(t, tv.ToolCalls[0].LatencyMS)
		require.GreaterOrEqual(t, *tv.ToolCalls[0].LatencyMS, 0)

		// The model got the passages back, numbered, as a tool message.
		reqs := model.requests(q)
		require.Len(t, reqs, 2)
		last := reqs[1].Messages[len(reqs[1].Messages)-1]
		require.Equal(t, "tool", last.Role)
		require.Contains(t, last.Content, "[1]")
		require.Contains(t, last.Content, "Roberts")
	})

	t.Run("two parallel tool calls", func(t *testing.T) {
		t.Parallel()
		key := newUser(t, c, admin, "parallel")
		const q = "Time in Berlin and 10 km in miles?"
		model.on(q,
			llmtest.Script{ToolCalls: []llmtest.ToolCall{
				{Name: "current_time", Arguments: map[string]any{"timezone": "Europe/Berlin"}},
				{Name: "convert_units", Arguments: map[string]any{"value": 10, "from": "km", "to": "mi"}},
			}},
			llmtest.Script{Tokens: []string{"It is late; 10 km is 6.2 miles."}},
		)
		turnID, _ := askChat(t, c, key, q, nil)
		events := readEvents(t, base, key, turnID, 0, 0)
		require.Equal(t, []string{"turn.started", "tool.started", "tool.started", "tool.finished", "tool.finished"}, eventTypes(events)[:5],
			"both calls start before either finishes")
		for _, e := range eventsOfType(events, "tool.finished") {
			require.Equal(t, "ok", decodeEvent[agent.ToolFinishedEvent](t, e).Status, e.Data)
		}
		tv := getChatTurn(t, c, key, turnID)
		require.Equal(t, "completed", tv.Status)
		require.Len(t, tv.ToolCalls, 2)
		names := []string{tv.ToolCalls[0].Name, tv.ToolCalls[1].Name}
		require.ElementsMatch(t, []string{"current_time", "convert_units"}, names)
		reqs := model.requests(q)
		require.Len(t, reqs, 2)
		var results []string
		for _, m := range reqs[1].Messages {
			if m.Role == "tool" {
				results = append(results, m.ToolName+": "+m.Content)
			}
		}
		require.Len(t, results, 2, "both results go back to the model, in call order")
		require.Contains(t, results[0], "Europe/Berlin")
		require.Contains(t, results[1], "6.2")
	})

	t.Run("a tool error and invalid arguments reach the model, the turn goes on", func(t *testing.T) {
		t.Parallel()
		key := newUser(t, c, admin, "toolerrors")
		const q = "What time is it on Mars?"
		model.on(q,
			llmtest.Script{ToolCalls: []llmtest.ToolCall{
				{Name: "current_time", Arguments: map[string]any{"timezone": "Mars/Olympus_Mons"}},
				{Name: "convert_units", Arguments: map[string]any{"value": "ten", "from": "km"}},
			}},
			llmtest.Script{Tokens: []string{"I cannot tell the time on Mars."}},
		)
		turnID, _ := askChat(t, c, key, q, nil)
		events := readEvents(t, base, key, turnID, 0, 0)
		require.Equal(t, "turn.completed", events[len(events)-1].Type)
		byName := map[string]agent.ToolFinishedEvent{}
		for _, e := range eventsOfType(events, "tool.finished") {
			f := decodeEvent[agent.ToolFinishedEvent](t, e)
			byName[f.Name] = f
		}
		require.Equal(t, "error", byName["current_time"].Status)
		require.Contains(t, byName["current_time"].Preview, "unknown time zone")
		require.Equal(t, "error", byName["convert_units"].Status)
		require.Contains(t, byName["convert_units"].Preview, "invalid arguments")

		tv := getChatTurn(t, c, key, turnID)
		require.Equal(t, "completed", tv.Status)
		require.Equal(t, "I cannot tell the time on Mars.", *tv.Answer)
		require.Len(t, tv.ToolCalls, 2)
		for _, tc := range tv.ToolCalls {
			require.Equal(t, "error", tc.Status, tc.Name)
			require.NotNil(t, tc.LatencyMS)
		}
		reqs := model.requests(q)
		require.Len(t, reqs, 2)
		var results []string
		for _, m := range reqs[1].Messages {
			if m.Role == "tool" {
				results = append(results, m.Content)
			}
		}
		require.Len(t, results, 2)
		require.True(t, strings.HasPrefix(results[0], "Error: unknown time zone"), results[0])
		require.True(t, strings.HasPrefix(results[1], "Error: invalid arguments for tool \"convert_units\""), results[1])
	})

	t.Run("the step cap forces an answer without tools", func(t *testing.T) {
		t.Parallel()
		key := newUser(t, c, admin, "stepcap")
		const q = "Keep checking the time"
		again := llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "current_time", Arguments: map[string]any{}}}}
		model.on(q, again, again, llmtest.Script{Tokens: []string{"It is now."}}, llmtest.Text("never asked"))
		turnID, _ := askChat(t, c, key, q, nil)
		events := readEvents(t, base, key, turnID, 0, 0)
		require.Len(t, eventsOfType(events, "tool.started"), 2, "YW_AGENT_MAX_STEPS=2 allows two tool steps")
		tv := getChatTurn(t, c, key, turnID)
		require.Equal(t, "completed", tv.Status)
		require.Equal(t, "It is now.\n\n"+agent.StepLimitNote, *tv.Answer, "the user is told why the answer may be incomplete")
		require.Equal(t, *tv.Answer, tokensOf(events))
		require.Len(t, tv.ToolCalls, 2)
		reqs := model.requests(q)
		require.Len(t, reqs, 3)
		require.NotEmpty(t, reqs[1].Tools)
		require.Empty(t, reqs[2].Tools, "the last call offers no tools")
		require.Equal(t, "system", reqs[2].Messages[len(reqs[2].Messages)-1].Role, "and says why")
	})

	t.Run("thinking is streamed apart from the answer", func(t *testing.T) {
		t.Parallel()
		key := newUser(t, c, admin, "thinker")
		const q = "Think first"
		model.on(q, llmtest.Script{Thinking: []string{"The user ", "wants thought."}, Tokens: []string{"Thought ", "through."}})
		turnID, _ := askChat(t, c, key, q, map[string]any{"tools": false})
		events := readEvents(t, base, key, turnID, 0, 0)
		var thinking strings.Builder
		for _, e := range eventsOfType(events, "thinking") {
			thinking.WriteString(decodeEvent[agent.TextEvent](t, e).Text)
		}
		require.Equal(t, "The user wants thought.", thinking.String())
		types := eventTypes(events)
		require.Less(t, strings.Index(strings.Join(types, ","), "thinking"), strings.Index(strings.Join(types, ","), "token"),
			"thinking comes before the answer: %v", types)
		tv := getChatTurn(t, c, key, turnID)
		require.Equal(t, "Thought through.", *tv.Answer, "thinking is not part of the answer")
		reqs := model.requests(q)
		require.Len(t, reqs, 1)
		require.Empty(t, reqs[0].Tools, "tools:false offers no tools")
	})

	t.Run("an allowed model the server lacks fails the turn with model_not_found", func(t *testing.T) {
		t.Parallel()
		key := newUser(t, c, admin, "nomodel")
		turnID, _ := askChat(t, c, key, "Use the big one", map[string]any{"model": "no-such-model:70b"})
		events := readEvents(t, base, key, turnID, 0, 0)
		last := events[len(events)-1]
		require.Equal(t, "turn.failed", last.Type)
		require.Equal(t, "model_not_found", decodeEvent[agent.TurnFailedEvent](t, last).Error.Code)
		require.Contains(t, decodeEvent[agent.TurnFailedEvent](t, last).Error.Message, "no-such-model:70b")
		tv := getChatTurn(t, c, key, turnID)
		require.Equal(t, "failed", tv.Status)
		require.Equal(t, "model_not_found", tv.Error.Code)
		require.Equal(t, "no-such-model:70b", tv.Model)
		require.NotNil(t, tv.FinishedAt)
	})

	t.Run("cancel stops a running turn within a second and keeps the partial answer", func(t *testing.T) {
		t.Parallel()
		key := newUser(t, c, admin, "canceller")
		eve := newUser(t, c, admin, "outsider")
		const q = "Write a very long story"
		model.on(q, llmtest.Script{Tokens: storyWords(500), TokenDelay: 20 * time.Millisecond})
		turnID, sessionID := askChat(t, c, key, q, nil)
		stream := followEvents(t, base, key, turnID)
		before := readUntil(t, stream, func(evs []sseEvent) bool { return len(eventsOfType(evs, "token")) >= 3 })

		// Nobody else can see or touch it; the session takes no second message meanwhile.
		c.Do("GET", "/v1/chat/sessions/"+sessionID, eve, nil, http.StatusNotFound, nil)
		c.Do("GET", "/v1/chat/turns/"+turnID, eve, nil, http.StatusNotFound, nil)
		c.Do("GET", "/v1/chat/turns/"+turnID+"/events", eve, nil, http.StatusNotFound, nil)
		c.Do("POST", "/v1/chat/turns/"+turnID+"/cancel", eve, nil, http.StatusNotFound, nil)
		c.Do("POST", "/v1/chat/sessions/"+sessionID+"/messages", key, map[string]any{"content": "and another"}, http.StatusConflict, nil)

		var cancelled chatTurn
		c.Do("POST", "/v1/chat/turns/"+turnID+"/cancel", key, nil, http.StatusAccepted, &cancelled)
		asked := time.Now()
		after := readUntil(t, stream, lastIs("turn.cancelled"))
		stopped := time.Since(asked)
		t.Logf("turn.cancelled arrived %s after the cancel response", stopped)
		require.Less(t, stopped, time.Second, "generation stops within a second")
		_, open := <-stream
		require.False(t, open, "the stream closes after turn.cancelled")

		all := append(before, after...)
		partial := tokensOf(all)
		require.NotEmpty(t, partial)
		require.Less(t, len(partial), len(strings.Join(storyWords(500), "")), "generation was cut short")
		require.Equal(t, partial, decodeEvent[agent.TurnCancelledEvent](t, all[len(all)-1]).Answer)
		tv := getChatTurn(t, c, key, turnID)
		require.Equal(t, "cancelled", tv.Status)
		require.Equal(t, partial, *tv.Answer, "what was generated is kept")
		var history struct {
			Messages []map[string]any `json:"messages"`
		}
		c.Do("GET", "/v1/chat/sessions/"+sessionID, key, nil, http.StatusOK, &history)
		require.Len(t, history.Messages, 2)
		require.Equal(t, "assistant", history.Messages[1]["role"])
		require.Equal(t, partial, history.Messages[1]["content"])

		// Cancelling an ended turn changes nothing; the session takes messages again.
		c.Do("POST", "/v1/chat/turns/"+turnID+"/cancel", key, nil, http.StatusAccepted, &cancelled)
		require.Equal(t, "cancelled", cancelled.Status)
		model.on("and now?", llmtest.Text("Fine."))
		c.Do("POST", "/v1/chat/sessions/"+sessionID+"/messages", key, map[string]any{"content": "and now?"}, http.StatusAccepted, nil)
	})

	t.Run("a user may have only so many turns running", func(t *testing.T) {
		t.Parallel()
		key := newUser(t, c, admin, "busy")
		var turns []string
		for i := range 4 {
			q := "busy " + strconv.Itoa(i)
			model.on(q, llmtest.Script{Tokens: []string{"working"}, Stall: true})
			id, _ := askChat(t, c, key, q, nil)
			turns = append(turns, id)
		}
		var sess map[string]any
		c.Do("POST", "/v1/chat/sessions", key, nil, http.StatusCreated, &sess)
		resp := c.Do("POST", "/v1/chat/sessions/"+sess["id"].(string)+"/messages", key, map[string]any{"content": "one more"}, http.StatusTooManyRequests, nil)
		require.Contains(t, resp.Body, `"code":"too_many_turns"`)
		for _, id := range turns {
			c.Do("POST", "/v1/chat/turns/"+id+"/cancel", key, nil, http.StatusAccepted, nil)
		}
		for _, id := range turns {
			events := readEvents(t, base, key, id, 0, 0)
			require.Equal(t, "turn.cancelled", events[len(events)-1].Type)
		}
		c.Do("POST", "/v1/chat/sessions/"+sess["id"].(string)+"/messages", key, map[string]any{"content": "one more"}, http.StatusAccepted, nil)
	})
}

// With the model server down, a turn is answered from the user's documents, saying
// the model is unavailable, instead of failing: the model degrades answers.
func TestChatWithOllamaDownAnswersFromTheDocuments(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-ollama-down-test"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error",
		"YW_OLLAMA_URL": llmtest.DeadURL(t), "YW_CHAT_MODEL": llmtest.ChatModel})
	c := apitest.NewClient(t, base)
	key := newUser(t, c, admin, "alice")
	asked := time.Now()
	turnID, _ := askChat(t, c, key, "Anyone there?", nil)
	events := readEvents(t, base, key, turnID, 0, 0)
	t.Logf("turn answered after %s", time.Since(asked))
	last := events[len(events)-1]
	require.Equal(t, "turn.completed", last.Type, "events: %v", eventTypes(events))
	tv := getChatTurn(t, c, key, turnID)
	require.Equal(t, "completed", tv.Status)
	require.NotNil(t, tv.Answer)
	require.Contains(t, *tv.Answer, "The language model is not available right now")
	require.NotContains(t, *tv.Answer, "127.0.0.1", "no internal address reaches the user")
}

// storyWords returns n distinct words, each with its trailing space.
func storyWords(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "w" + strconv.Itoa(i) + " "
	}
	return out
}
