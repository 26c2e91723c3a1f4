package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/vector/vectortest"
	"github.com/youworker/youworker/pkg/worker"
)

// startAPIInstance runs the real program without -dev (HTTP and the outbox relay
// only) against external NATS, vector store and Postgres, and returns its base URL.
func startAPIInstance(t *testing.T, env map[string]string) string {
	t.Helper()
	return startProgram(t, `listening on (http://\S+)`, func(ctx context.Context, stdout, stderr *lineWriter) int {
		return run(ctx, nil, getenv(env), stdout, stderr)
	})
}

// startAgentWorker runs the agent worker program as cmd/agent-worker does: the
// shared worker main with the chat consumer.
func startAgentWorker(t *testing.T, env map[string]string) {
	t.Helper()
	startProgram(t, `probes on (http://\S+)`, func(ctx context.Context, stdout, stderr *lineWriter) int {
		return worker.Main(ctx, app.AgentWorkerOptions, getenv(env), stdout, stderr)
	})
}

func startProgram(t *testing.T, ready string, main func(ctx context.Context, stdout, stderr *lineWriter) int) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := newLineWriter(ready), newLineWriter(`(never)`)
	done := make(chan int, 1)
	go func() { done <- main(ctx, stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			require.Equal(t, 0, code, "exit code; stderr:\n%s", stderr.String())
		case <-time.After(15 * time.Second):
			t.Error("program did not stop within 15s of its context ending")
		}
	})
	select {
	case url := <-stdout.found:
		return url
	case code := <-done:
		t.Fatalf("program exited with %d before it was ready; stderr:\n%s", code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("program not ready within 30s; stderr:\n%s", stderr.String())
	}
	return ""
}

func TestChatResumesOnAnotherAPIInstance(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	lite, _ := vectortest.StartLite(t, t.TempDir())
	model := newScriptedModel(t)
	admin := "bootstrap-admin-key-for-resume-e2e-test"
	env := map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": t.TempDir(),
		"YW_NATS_URL": nats.URL, "YW_QDRANT_URL": "http://" + lite.Addr(),
		"YW_OLLAMA_URL": model.llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel,
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error",
	}
	baseA := startAPIInstance(t, env)
	baseB := startAPIInstance(t, env)
	require.NotEqual(t, baseA, baseB)
	a, b := apitest.NewClient(t, baseA), apitest.NewClient(t, baseB)
	key := newUser(t, a, admin, "alice")

	// No agent worker runs yet: a turn stays queued, and cancelling it ends it at once,
	// seen from either instance.
	queuedID, _ := askChat(t, a, key, "Never mind", nil)
	var cancelled chatTurn
	a.Do("POST", "/v1/chat/turns/"+queuedID+"/cancel", key, nil, http.StatusAccepted, &cancelled)
	require.Equal(t, "cancelled", cancelled.Status)
	events := readEvents(t, baseB, key, queuedID, 0, 0)
	require.Equal(t, []string{"turn.cancelled"}, eventTypes(events))
	require.Empty(t, decodeEvent[agent.TurnCancelledEvent](t, events[0]).Answer)
	require.Equal(t, "cancelled", getChatTurn(t, b, key, queuedID).Status)

	startAgentWorker(t, env)
	require.Zero(t, model.llm.Count("/api/chat"), "the cancelled turn never reached the model")

	const q = "Tell me a story"
	story := storyWords(80)
	model.on(q, llmtest.Script{Tokens: story, TokenDelay: 5 * time.Millisecond, FirstTokenDelay: 50 * time.Millisecond})
	turnID, _ := askChat(t, a, key, q, nil)

	// Read a few events from A, drop the connection, resume on B.
	first := readEvents(t, baseA, key, turnID, 0, 6)
	require.Len(t, first, 6)
	require.Equal(t, "turn.started", first[0].Type)
	rest := readEvents(t, baseB, key, turnID, first[len(first)-1].ID, 0)
	require.NotEmpty(t, rest)
	require.Greater(t, rest[0].ID, first[len(first)-1].ID, "B starts after the last event A delivered")

	all := append(append([]sseEvent(nil), first...), rest...)
	require.Equal(t, "turn.completed", all[len(all)-1].Type)
	seen := map[uint64]bool{}
	for i, e := range all {
		require.False(t, seen[e.ID], "event %d delivered twice", e.ID)
		seen[e.ID] = true
		if i > 0 {
			require.Greater(t, e.ID, all[i-1].ID, "in order")
		}
	}
	want := strings.Join(story, "")
	tv := getChatTurn(t, b, key, turnID)
	require.Equal(t, "completed", tv.Status)
	require.Equal(t, want, *tv.Answer)
	require.Equal(t, want, tokensOf(all), "the tokens of A and then B are the answer, nothing lost or doubled")

	// A full replay from either instance is the same events.
	for _, base := range []string{baseA, baseB} {
		replay := readEvents(t, base, key, turnID, 0, 0)
		require.Len(t, replay, len(all))
		for i := range replay {
			require.Equal(t, all[i].ID, replay[i].ID)
			require.Equal(t, all[i].Data, replay[i].Data)
		}
	}
}
