package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/store"
)

func TestStartTurnClaimsTheTurnAndReadsWhatTheWorkerNeeds(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	ann := mustUser(t, st, "ann")
	g, err := st.InsertGroup(ctx, "sales", "")
	require.NoError(t, err)
	_, err = st.AddMember(ctx, g, ann.ID, "member")
	require.NoError(t, err)
	s, err := st.CreateSession(ctx, ann.ID, "t")
	require.NoError(t, err)
	_, first, err := st.CreateTurn(ctx, s.ID, ann.ID, "first question", "m", true, nil)
	require.NoError(t, err)
	_, _, err = st.ClaimTurn(ctx, first.ID)
	require.NoError(t, err)
	_, err = st.FinishTurn(ctx, first.ID, 1, store.TurnOutcome{Status: store.TurnCompleted, Answer: "first answer", SaveMessage: true})
	require.NoError(t, err)
	_, turn, err := st.CreateTurn(ctx, s.ID, ann.ID, "second question", "m", false, nil)
	require.NoError(t, err)
	require.NoError(t, st.LimitTurnGroups(ctx, turn.ID, []string{g}))

	start, ok, err := st.StartTurn(ctx, turn.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "running", start.Turn.Status)
	require.Equal(t, 1, start.Turn.Attempt)
	require.NotNil(t, start.Turn.StartedAt)
	require.Equal(t, ann.ID, start.User.ID)
	require.Equal(t, []string{g}, start.GroupIDs)
	require.Equal(t, []string{g}, start.GroupLimit)
	var contents []string
	for _, m := range start.Messages {
		contents = append(contents, m.Content)
	}
	require.Equal(t, []string{"first question", "first answer", "second question"}, contents)

	again, ok, err := st.StartTurn(ctx, turn.ID)
	require.NoError(t, err)
	require.True(t, ok, "a running turn is claimed again by the next attempt")
	require.Equal(t, 2, again.Turn.Attempt)
}

func TestStartTurnOfAFinishedTurnIsNotOK(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	ann := mustUser(t, st, "ann")
	s, err := st.CreateSession(ctx, ann.ID, "t")
	require.NoError(t, err)
	_, turn, err := st.CreateTurn(ctx, s.ID, ann.ID, "question", "m", true, nil)
	require.NoError(t, err)
	_, _, err = st.ClaimTurn(ctx, turn.ID)
	require.NoError(t, err)
	_, err = st.FinishTurn(ctx, turn.ID, 1, store.TurnOutcome{Status: store.TurnCancelled})
	require.NoError(t, err)
	_, ok, err := st.StartTurn(ctx, turn.ID)
	require.NoError(t, err)
	require.False(t, ok)
	limitFree, ok, err := st.StartTurn(ctx, "00000000-0000-0000-0000-000000000000")
	require.NoError(t, err)
	require.False(t, ok, "a turn that does not exist is not started")
	require.Empty(t, limitFree.Messages)
}
