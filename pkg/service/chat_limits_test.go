package service

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/store"
)

// TestChatActiveTurnCapHoldsUnderConcurrentSubmits posts many messages by one user
// at the same instant, each to its own session: exactly the cap is accepted and the
// rest are refused with too_many_turns, because the count and the insert happen
// under one per-user lock.
func TestChatActiveTurnCapHoldsUnderConcurrentSubmits(t *testing.T) {
	t.Parallel()
	const limit, attempts = 4, 12
	f := newChatFixture(t, ChatConfig{MaxActiveTurns: limit})
	ctx := context.Background()
	alice, bob := f.user(t, "alice"), f.user(t, "bob")
	sessions := make([]string, attempts)
	for i := range sessions {
		sessions[i] = f.session(t, alice)
	}
	var running []string
	for round := 0; round < 3; round++ {
		// Free every slot, then race again.
		for _, id := range running {
			_, err := f.chat.Cancel(ctx, alice, id)
			require.NoError(t, err)
		}
		running = nil
		start := make(chan struct{})
		errs := make([]error, attempts)
		turnIDs := make([]string, attempts)
		var wg sync.WaitGroup
		for i := range attempts {
			wg.Go(func() {
				<-start
				_, turn, err := f.chat.Submit(ctx, alice, sessions[i], SubmitRequest{Content: "at once"})
				turnIDs[i], errs[i] = turn.ID, err
			})
		}
		close(start)
		wg.Wait()
		var refused []error
		for i, err := range errs {
			if err == nil {
				running = append(running, turnIDs[i])
			} else {
				refused = append(refused, err)
			}
		}
		require.Len(t, running, limit, "round %d: exactly the cap is accepted", round)
		for _, err := range refused {
			requireChatCode(t, err, CodeTooManyTurns)
		}
		active, err := f.store.CountActiveTurns(ctx, alice.UserID)
		require.NoError(t, err)
		require.Equal(t, limit, active)
	}
	// Another user has slots of their own.
	f.submit(t, bob, f.session(t, bob), "bob's")
}

// TestChatPerMinuteLimits refuses the turn beyond a user's turns per minute, and
// the turn after a minute's tokens are spent, each with when to retry; another
// user is not held back.
func TestChatPerMinuteLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	f := newChatFixture(t, ChatConfig{MaxActiveTurns: 10, TurnsPerMinute: 2})
	alice, bob := f.user(t, "alice"), f.user(t, "bob")
	for range 2 {
		_, _, err := f.chat.Submit(ctx, alice, f.session(t, alice), SubmitRequest{Content: "within the limit"})
		require.NoError(t, err)
	}
	_, _, err := f.chat.Submit(ctx, alice, f.session(t, alice), SubmitRequest{Content: "one too many"})
	requireChatCode(t, err, CodeRateLimited)
	var se *Error
	require.ErrorAs(t, err, &se)
	require.Greater(t, se.RetryAfter, 50*time.Second, "the oldest turn counted leaves the window in about a minute")
	require.LessOrEqual(t, se.RetryAfter, time.Minute)
	_, _, err = f.chat.Submit(ctx, bob, f.session(t, bob), SubmitRequest{Content: "another user"})
	require.NoError(t, err)

	g := newChatFixture(t, ChatConfig{MaxActiveTurns: 10, TokensPerMinute: 100})
	carol := g.user(t, "carol")
	_, turn, err := g.chat.Submit(ctx, carol, g.session(t, carol), SubmitRequest{Content: "a long answer"})
	require.NoError(t, err)
	claimed, ok, err := g.store.ClaimTurn(ctx, turn.ID)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = g.store.FinishTurn(ctx, turn.ID, claimed.Attempt, store.TurnOutcome{Status: store.TurnCompleted, Answer: "...",
		Usage: &store.Usage{PromptTokens: 80, CompletionTokens: 30}, SaveMessage: true})
	require.NoError(t, err)
	_, _, err = g.chat.Submit(ctx, carol, g.session(t, carol), SubmitRequest{Content: "and another"})
	requireChatCode(t, err, CodeRateLimited)
}
