package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/store"
)

// queueTurns makes n turns for a new user, each in a session of its own.
func queueTurns(t *testing.T, st *store.Store, name string, n int) []string {
	t.Helper()
	ctx := context.Background()
	u, err := st.CreateUser(ctx, name, false)
	require.NoError(t, err)
	ids := make([]string, n)
	for i := range n {
		s, err := st.CreateSession(ctx, u.ID, fmt.Sprintf("%s %d", name, i))
		require.NoError(t, err)
		_, turn, err := st.CreateTurn(ctx, s.ID, u.ID, "question", "m", true, nil)
		require.NoError(t, err)
		require.NoError(t, st.EnqueueModelTurn(ctx, turn.ID, "m", u.ID))
		ids[i] = turn.ID
	}
	return ids
}

func TestModelQueueServesUsersRoundRobin(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	ctx := context.Background()
	lim := store.ModelLimits{Parallel: 2, Lease: time.Minute}

	heavy := queueTurns(t, st, "heavy", 6)
	q, err := st.RebalanceModelQueue(ctx, "m", lim)
	require.NoError(t, err)
	require.Equal(t, heavy[:2], q.Granted, "the first come take the free slots")
	require.Equal(t, heavy[2:], q.Waiting)

	// Two light users arrive after the heavy user's ten turns: each is served
	// next, before the heavy user's third turn.
	light := queueTurns(t, st, "light", 1)
	other := queueTurns(t, st, "other", 1)
	q, err = st.RebalanceModelQueue(ctx, "m", lim)
	require.NoError(t, err)
	require.Equal(t, heavy[:2], q.Granted)
	require.Equal(t, append([]string{light[0], other[0]}, heavy[2:]...), q.Waiting)
	require.Equal(t, 1, q.Position(light[0]))
	require.Equal(t, 0, q.Position(heavy[0]))
	require.Equal(t, -1, q.Position("00000000-0000-0000-0000-000000000000"))

	// A slot frees: the light user's turn takes it, the rest move up.
	require.NoError(t, st.LeaveModelQueue(ctx, heavy[0]))
	q, err = st.RebalanceModelQueue(ctx, "m", lim)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{heavy[1], light[0]}, q.Granted)
	require.Equal(t, 1, q.Position(other[0]))

	// The heavy user's other slot frees too: its next turn is again its user's
	// first in line, but the user served least recently goes first.
	require.NoError(t, st.LeaveModelQueue(ctx, heavy[1]))
	q, err = st.RebalanceModelQueue(ctx, "m", lim)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{light[0], other[0]}, q.Granted)
	require.Equal(t, heavy[2:], q.Waiting)
}

func TestModelQueueLeasesAndLimits(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	ctx := context.Background()

	turns := queueTurns(t, st, "user", 3)
	// A worker that dies keeps its slot only until the lease runs out.
	q, err := st.RebalanceModelQueue(ctx, "m", store.ModelLimits{Parallel: 1, Lease: 50 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, turns[:1], q.Granted)
	time.Sleep(100 * time.Millisecond)
	ok, err := st.RenewModelSlot(ctx, turns[1], time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "a waiting turn has no slot to renew")
	q, err = st.RebalanceModelQueue(ctx, "m", store.ModelLimits{Parallel: 1, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, q.Granted, 1, "the expired slot went to the next turn, not to both")
	ok, err = st.RenewModelSlot(ctx, q.Granted[0], time.Minute)
	require.NoError(t, err)
	require.True(t, ok)

	// Requests per minute: two slots granted this minute, a limit of two grants
	// nothing more even with free parallelism.
	require.NoError(t, st.LeaveModelQueue(ctx, q.Granted[0]))
	q, err = st.RebalanceModelQueue(ctx, "m", store.ModelLimits{Parallel: 5, RequestsPerMinute: 2, Lease: time.Minute})
	require.NoError(t, err)
	require.Empty(t, q.Granted)
	require.Len(t, q.Waiting, 2)
	q, err = st.RebalanceModelQueue(ctx, "m", store.ModelLimits{Parallel: 5, RequestsPerMinute: 3, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, q.Granted, 1)
}

func TestModelQueueGrantsNothingOnceTheMinutesTokensAreSpent(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	ctx := context.Background()
	turns := queueTurns(t, st, "ann", 3)
	// The first turn ran and spent 100 tokens a moment ago.
	_, _, err := st.ClaimTurn(ctx, turns[0])
	require.NoError(t, err)
	_, err = st.FinishTurn(ctx, turns[0], 1, store.TurnOutcome{Status: store.TurnCompleted, Answer: "a", SaveMessage: true,
		Usage: &store.Usage{PromptTokens: 60, CompletionTokens: 40}})
	require.NoError(t, err)
	require.NoError(t, st.LeaveModelQueue(ctx, turns[0]))

	q, err := st.RebalanceModelQueue(ctx, "m", store.ModelLimits{Parallel: 5, TokensPerMinute: 100, Lease: time.Minute})
	require.NoError(t, err)
	require.Empty(t, q.Granted, "the minute's tokens are spent")
	require.Equal(t, turns[1:], q.Waiting)
	require.False(t, q.At.IsZero())

	q, err = st.RebalanceModelQueue(ctx, "m", store.ModelLimits{Parallel: 5, TokensPerMinute: 101, Lease: time.Minute})
	require.NoError(t, err)
	require.Equal(t, turns[1:], q.Granted, "a token left opens every free slot")
	require.Empty(t, q.Waiting)
}

func TestChangeModelQueueJoinsInOrderAndLeavesInTheSameRoundTrip(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	ctx := context.Background()
	lim := store.ModelLimits{Parallel: 1, Lease: time.Minute}
	u, err := st.CreateUser(ctx, "ann", false)
	require.NoError(t, err)
	var join []store.QueuedTurn
	var ids []string
	for i := range 4 {
		s, err := st.CreateSession(ctx, u.ID, fmt.Sprintf("s%d", i))
		require.NoError(t, err)
		_, turn, err := st.CreateTurn(ctx, s.ID, u.ID, "question", "m", true, nil)
		require.NoError(t, err)
		join = append(join, store.QueuedTurn{TurnID: turn.ID, UserID: u.ID})
		ids = append(ids, turn.ID)
	}
	q, err := st.ChangeModelQueue(ctx, "m", lim, store.QueueChanges{Join: join})
	require.NoError(t, err)
	require.Equal(t, ids[:1], q.Granted, "the first to join gets the slot")
	require.Equal(t, ids[1:], q.Waiting, "the others wait in the order they joined")

	q, err = st.ChangeModelQueue(ctx, "m", lim, store.QueueChanges{Join: join[:1], Leave: ids[:2]})
	require.NoError(t, err)
	require.Equal(t, ids[2:3], q.Granted, "leaving frees the slot for the next; joining again changes nothing")
	require.Equal(t, ids[3:], q.Waiting)
}
