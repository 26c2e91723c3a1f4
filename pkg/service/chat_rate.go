package service

import (
	"context"
	"time"

	"github.com/youworker/youworker/pkg/store"
)

// checkRate refuses a new turn when the user has started TurnsPerMinute turns,
// or spent TokensPerMinute model tokens, in the last minute. It runs under the
// user's turn lock, so a burst cannot slip past the count.
func (c *Chat) checkRate(ctx context.Context, st *store.Store, userID string) error {
	if c.cfg.TurnsPerMinute <= 0 && c.cfg.TokensPerMinute <= 0 {
		return nil
	}
	u, err := st.RecentTurnUsage(ctx, userID, time.Minute)
	if err != nil {
		return err
	}
	if c.cfg.TurnsPerMinute > 0 && u.Turns >= c.cfg.TurnsPerMinute {
		e := Errorf(CodeRateLimited, "you started %d turns in the last minute, the most allowed; retry after the time in Retry-After", u.Turns)
		e.RetryAfter = u.TurnsFreeIn
		return e
	}
	if c.cfg.TokensPerMinute > 0 && u.Tokens >= c.cfg.TokensPerMinute {
		e := Errorf(CodeRateLimited, "your turns used %d model tokens in the last minute, the most allowed; retry after the time in Retry-After", u.Tokens)
		e.RetryAfter = u.TokensFreeIn
		return e
	}
	return nil
}
