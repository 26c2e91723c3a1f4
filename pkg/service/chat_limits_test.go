package service

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
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
