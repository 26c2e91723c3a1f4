package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
)

// nextEvent receives one event or fails the test.
func nextEvent(t *testing.T, ch <-chan queue.Event) queue.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		require.True(t, ok, "event channel closed early")
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return queue.Event{}
	}
}

func TestTurnEventsReplayThenFollow(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	turns := queue.NewTurns(srv.JS, nil, nil)

	// Events of another turn are interleaved and must never show up.
	var seqs []uint64
	for i := range 4 {
		seq, err := turns.PublishEvent(ctx, "turn-a", "token", fmt.Appendf(nil, `{"text":"a%d"}`, i))
		require.NoError(t, err)
		seqs = append(seqs, seq)
		_, err = turns.PublishEvent(ctx, "turn-b", "token", []byte(`{"text":"b"}`))
		require.NoError(t, err)
	}
	require.IsIncreasing(t, seqs)

	// A client that saw the second event reconnects with Last-Event-ID.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := turns.Events(sctx, "turn-a", seqs[1])
	require.NoError(t, err)
	for _, i := range []int{2, 3} {
		ev := nextEvent(t, ch)
		require.Equal(t, seqs[i], ev.Seq)
		require.Equal(t, "token", ev.Type)
		require.JSONEq(t, fmt.Sprintf(`{"text":"a%d"}`, i), string(ev.Data))
	}

	// Then it follows live events, in order, once each.
	var live, acked []uint64
	var waits []func(context.Context) (uint64, error)
	for i := range 3 {
		wait, err := turns.PublishEventAsync(ctx, "turn-a", "token", fmt.Appendf(nil, `{"text":"live%d"}`, i))
		require.NoError(t, err)
		waits = append(waits, wait)
	}
	require.NoError(t, turns.Flush(ctx))
	for _, wait := range waits {
		seq, err := wait(ctx)
		require.NoError(t, err)
		acked = append(acked, seq)
	}
	final, err := turns.PublishEvent(ctx, "turn-a", "turn.completed", []byte(`{}`))
	require.NoError(t, err)
	for {
		ev := nextEvent(t, ch)
		live = append(live, ev.Seq)
		if ev.Type == "turn.completed" {
			require.Equal(t, final, ev.Seq)
			break
		}
		require.Equal(t, "token", ev.Type)
	}
	require.Len(t, live, 4, "three live tokens and the terminal event, no duplicates")
	require.Equal(t, live[:3], acked, "acknowledged sequences are the stored ones, in order")
	require.IsIncreasing(t, live)
	require.Greater(t, live[0], seqs[3])

	// Ending ctx closes the channel.
	cancel()
	require.Eventually(t, func() bool {
		select {
		case _, ok := <-ch:
			return !ok
		default:
			return false
		}
	}, 5*time.Second, 10*time.Millisecond)

	// From zero, a new reader replays the whole turn.
	all, err := turns.Events(ctx, "turn-a", 0)
	require.NoError(t, err)
	var types []string
	for range 8 {
		types = append(types, nextEvent(t, all).Type)
	}
	require.Equal(t, []string{"token", "token", "token", "token", "token", "token", "token", "turn.completed"}, types)
}

func TestTurnEventsRejectBadIDs(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	turns := queue.NewTurns(srv.JS, nil, nil)
	for _, id := range []string{"", "a.b", "*", ">", "a b"} {
		_, err := turns.PublishEvent(ctx, id, "token", nil)
		require.Error(t, err, id)
		_, err = turns.Events(ctx, id, 0)
		require.Error(t, err, id)
	}
	_, err := turns.PublishEvent(ctx, "t1", "", nil)
	require.Error(t, err)
}
