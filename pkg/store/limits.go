package store

import (
	"context"
	"fmt"
)

// LockUserTurns serialises, until the end of the current transaction, every
// transaction that counts and creates turns of user, so a cap checked inside it
// holds however many requests arrive at once. It must run inside InTx. It takes a
// transaction-scoped advisory lock rather than a row lock on the user, so it never
// waits on (or blocks) writes to the user's row or rows that reference it.
func (s *Store) LockUserTurns(ctx context.Context, userID string) error {
	if _, err := s.db.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('yw.turns'), hashtext($1))`, userID); err != nil {
		return fmt.Errorf("lock user turns: %w", translate(err))
	}
	return nil
}
