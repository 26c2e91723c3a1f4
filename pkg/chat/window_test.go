package chat_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/turnevent"
)

// pastTurns gives the turn's session n answered questions before it.
func (r *rig) pastTurns(t *testing.T, turn store.Turn, n int) store.Turn {
	t.Helper()
	ctx := context.Background()
	// The turn under test must be the newest: answer n earlier ones, then ask again.
	claimed, _, err := r.st.ClaimTurn(ctx, turn.ID)
	require.NoError(t, err)
	_, err = r.st.FinishTurn(ctx, turn.ID, claimed.Attempt, store.TurnOutcome{Status: store.TurnCompleted,
		Answer: "an answer " + strings.Repeat("with many words ", 30), SaveMessage: true})
	require.NoError(t, err)
	for i := 1; i < n; i++ {
		_, past, err := r.st.CreateTurn(ctx, turn.SessionID, turn.UserID, "an earlier question "+strings.Repeat("lorem ipsum ", 30), llmtest.ChatModel, false, nil)
		require.NoError(t, err)
		claimed, _, err := r.st.ClaimTurn(ctx, past.ID)
		require.NoError(t, err)
		_, err = r.st.FinishTurn(ctx, past.ID, claimed.Attempt, store.TurnOutcome{Status: store.TurnCompleted,
			Answer: "an answer " + strings.Repeat("with many words ", 30), SaveMessage: true})
		require.NoError(t, err)
	}
	_, next, err := r.st.CreateTurn(ctx, turn.SessionID, turn.UserID, "and now?", llmtest.ChatModel, false, nil)
	require.NoError(t, err)
	return next
}

func TestLongChatIsFittedToTheModelsWindowAndSaysSo(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.llm.SetContextLength(llmtest.ChatModel, 2048)
	r.llm.Reply(llmtest.Text("Fine."))
	turn := r.pastTurns(t, r.newTurn(t, "the first question "+strings.Repeat("lorem ipsum ", 30), false), 40)
	log := r.follow(t, turn.ID)
	r.consume(t, r.worker(r.runner(t), time.Second))
	r.enqueue(t, turn.ID)

	evs := log.waitFor(t, "turn.completed", hasType(turnevent.Completed))
	require.Equal(t, []string{turnevent.Started, turnevent.ContextTrimmed, turnevent.Token, turnevent.Completed}, types(evs))
	var trimmed agent.ContextTrimmedEvent
	require.NoError(t, json.Unmarshal(evs[1].Data, &trimmed))
	require.Equal(t, 2048, trimmed.ContextWindow)
	require.Positive(t, trimmed.DroppedTurns)
	require.Less(t, trimmed.DroppedTurns, 40, "the newest turns are kept")
	require.JSONEq(t, `{"dropped_turns":`+itoa(trimmed.DroppedTurns)+`,"dropped_passages":0,"context_window":2048}`, string(evs[1].Data))
	req := r.llm.ChatRequests()[0]
	require.EqualValues(t, 2048, req.Options["num_ctx"])
	require.Len(t, req.Messages, 1+2*(40-trimmed.DroppedTurns)+1)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestQuestionLongerThanTheWindowFailsSayingSo(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.llm.SetContextLength(llmtest.ChatModel, 2048)
	turn := r.newTurn(t, strings.Repeat("a very long question ", 800), false)
	log := r.follow(t, turn.ID)
	r.consume(t, r.worker(r.runner(t), time.Second))
	r.enqueue(t, turn.ID)

	evs := log.waitFor(t, "turn.failed", hasType(turnevent.Failed))
	var failed agent.TurnFailedEvent
	require.NoError(t, json.Unmarshal(evs[len(evs)-1].Data, &failed))
	require.Equal(t, "context_exceeded", failed.Error.Code)
	require.Contains(t, failed.Error.Message, "context window of 2048 tokens")
	stored, err := r.st.GetTurn(context.Background(), turn.ID)
	require.NoError(t, err)
	require.Equal(t, store.TurnFailed, stored.Status)
	require.Equal(t, 1, stored.Attempt, "failed once, not retried")
	require.Zero(t, r.llm.Count("/api/chat"))
}

// inputRunner records the input of every run and answers at once.
type inputRunner struct {
	mu     sync.Mutex
	inputs []agent.Input
}

func (f *inputRunner) Run(_ context.Context, in agent.Input, _ agent.Sink) (agent.Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	return agent.Output{Answer: "ok"}, nil
}

func TestTheTurnsScopeReachesTheAgent(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	turn := r.newTurn(t, "what do the notes say?", true)
	scope := access.DocumentScope{DocumentIDs: []string{"8d6c3c44-5a4b-4d36-9b57-2f5ec0d1b2a1"}, GroupIDs: []string{}}
	require.NoError(t, r.st.SetTurnScope(context.Background(), turn.ID, scope))
	run := &inputRunner{}
	log := r.follow(t, turn.ID)
	r.consume(t, r.worker(run, time.Second))
	r.enqueue(t, turn.ID)
	log.waitFor(t, "turn.completed", func(evs []queue.Event) bool { return hasType(turnevent.Completed)(evs) })
	run.mu.Lock()
	defer run.mu.Unlock()
	require.Len(t, run.inputs, 1)
	require.Equal(t, scope, run.inputs[0].Scope)
	require.False(t, run.inputs[0].Principal.GroupLimited(), "a scope is not a key's limit: it does not change the principal")
}
