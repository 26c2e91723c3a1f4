package main

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

// TestModelQueueIsFairAcrossWorkers runs three agent workers against a model
// that serves two turns at a time. One user posts six turns at once; another
// user's single turn, posted just after, is told its place in line and gets
// the model ahead of the heavy user's backlog.
func TestModelQueueIsFairAcrossWorkers(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	lite, _ := vectortest.StartLite(t, t.TempDir())
	model := newScriptedModel(t)
	admin := "bootstrap-admin-key-for-fair-queue-e2e-test"
	env := map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": t.TempDir(),
		"YW_NATS_URL": nats.URL, "YW_QDRANT_URL": "http://" + lite.Addr(),
		"YW_OLLAMA_URL": model.llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel,
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error",
		"YW_MODEL_PARALLEL": "2", "YW_MAX_TURNS_PER_USER": "10",
	}
	base := startAPIInstance(t, env)
	for range 3 {
		startAgentWorker(t, env)
	}
	c := apitest.NewClient(t, base)
	heavyKey, lightKey := newUser(t, c, admin, "heavy"), newUser(t, c, admin, "light")

	// Each answer holds the model for 400ms before its first token.
	answer := llmtest.Script{Tokens: []string{"An ", "answer."}, FirstTokenDelay: 400 * time.Millisecond}
	// Every stream is followed from the moment its turn is posted, so the
	// events' arrival times are live.
	streams := map[string][]sseEvent{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	follow := func(key, id string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			events := readEvents(t, base, key, id, 0, 0)
			mu.Lock()
			streams[id] = events
			mu.Unlock()
		}()
	}
	var heavy []string
	for i := range 6 {
		q := fmt.Sprintf("Heavy question %d", i)
		model.on(q, answer)
		id, _ := askChat(t, c, heavyKey, q, nil)
		follow(heavyKey, id)
		heavy = append(heavy, id)
	}
	// The heavy user holds both of the model's slots before the light user asks.
	require.Eventually(t, func() bool { return model.llm.Count("/api/chat") >= 2 }, 10*time.Second, 5*time.Millisecond)
	model.on("Light question", answer)
	light, _ := askChat(t, c, lightKey, "Light question", nil)
	follow(lightKey, light)
	wg.Wait()

	firstToken := func(id string) time.Time {
		for _, e := range streams[id] {
			if e.Type == "token" {
				return e.At
			}
		}
		t.Fatalf("turn %s streamed no token: %v", id, eventTypes(streams[id]))
		return time.Time{}
	}
	for id, events := range streams {
		require.Equal(t, "turn.completed", events[len(events)-1].Type, "turn %s: %v", id, eventTypes(events))
	}
	// The light turn waited in line, told it was next, then started.
	types := eventTypes(streams[light])
	require.Equal(t, []string{"turn.queued", "turn.started"}, types[:2], "light turn: %v", types)
	require.Equal(t, 1, decodeEvent[agent.TurnQueuedEvent](t, streams[light][0]).Position)
	// It reached the model before at least three of the heavy user's six turns:
	// it waited for the turns already holding the model, not for the backlog.
	lightFirst := firstToken(light)
	after := 0
	for _, id := range heavy {
		if firstToken(id).After(lightFirst) {
			after++
		}
	}
	require.GreaterOrEqual(t, after, 3, "heavy turns answered after the light one")
	// Never more than two turns held the model at once.
	require.LessOrEqual(t, model.llm.MaxConcurrent("/api/chat"), 2)
}
