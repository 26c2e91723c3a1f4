package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/turnevent"
)

// Tokens joined while a publish is in flight must reach a client as the exact
// text the model wrote, and a client resuming after any event it received must
// get every later event once: the joining may change how text is cut into
// events, never the text or the sequence.
func TestCoalescedTokensKeepTheTextAndResumeExactlyOnce(t *testing.T) {
	t.Parallel()
	qs := queuetest.Start(t)
	turns := queue.NewTurns(qs.JS, nil, nil)
	ctx := ctxTimeout(t)

	// Two turns stream at once, as fast as they can, so their events
	// interleave in the log and most tokens arrive while a publish is in flight.
	const tokens = 400
	ids := []string{"turn-a", "turn-b"}
	want := map[string]string{}
	published := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := agent.NewEventWriter(ctx, turns, id, nil)
			var text strings.Builder
			for i := range tokens {
				tok := fmt.Sprintf("%s-%d \"<&>\" ", id, i)
				text.WriteString(tok)
				if err := w.Token(tok); err != nil {
					t.Error(err)
					return
				}
			}
			if err := w.TurnCompleted("msg", text.String(), nil, llm.Usage{}); err != nil {
				t.Error(err)
			}
			if err := w.Close(ctx); err != nil {
				t.Error(err)
			}
			mu.Lock()
			want[id], published[id] = text.String(), w.Published()
			mu.Unlock()
		}()
	}
	wg.Wait()

	for _, id := range ids {
		all := replay(t, turns, id, 0)
		require.Len(t, all, published[id], "%s: every event the writer published is in the log", id)
		require.Less(t, len(all), tokens, "%s: tokens were joined while a publish was in flight", id)
		require.Equal(t, want[id], tokenText(t, all), "%s: the joined tokens are the text written", id)
		require.Equal(t, turnevent.Completed, all[len(all)-1].Type)
		for i := 1; i < len(all); i++ {
			require.Greater(t, all[i].Seq, all[i-1].Seq, "%s: events in order", id)
		}
		// A client that received event i and reconnects gets the rest, once.
		for _, i := range []int{0, 1, len(all) / 2, len(all) - 2} {
			rest := replay(t, turns, id, all[i].Seq)
			require.Equal(t, all[i+1:], rest, "%s: resumed after event %d", id, i)
		}
	}
}

// replay reads a turn's events after afterSeq up to its terminal event.
func replay(t *testing.T, turns *queue.Turns, turnID string, afterSeq uint64) []queue.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(ctxTimeout(t))
	defer cancel()
	events, err := turns.Events(ctx, turnID, afterSeq)
	require.NoError(t, err)
	var out []queue.Event
	for ev := range events {
		ev.Time = ev.Time.UTC()
		out = append(out, ev)
		if turnevent.IsTerminal(ev.Type) {
			return out
		}
	}
	t.Fatalf("events of %s after %d ended before the terminal event", turnID, afterSeq)
	return nil
}

func tokenText(t *testing.T, events []queue.Event) string {
	t.Helper()
	var text strings.Builder
	for _, ev := range events {
		if ev.Type != turnevent.Token {
			continue
		}
		var te agent.TextEvent
		require.NoError(t, json.Unmarshal(ev.Data, &te))
		text.WriteString(te.Text)
	}
	return text.String()
}
