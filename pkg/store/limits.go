package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// LockUserTurns serialises, until the end of the current transaction, every
// transaction that counts and creates turns of user, so a cap checked inside it
// holds however many requests arrive at once. It must run inside InTx. It takes a
// transaction-scoped advisory lock rather than a row lock on the user, so it never
// waits on (or blocks) writes to the user's row or rows that reference it.
func (s *Store) LockUserTurns(ctx context.Context, userID string) error {
	if _, err := s.db.Exec(ctx, lockUserTurns, userID); err != nil {
		return fmt.Errorf("lock user turns: %w", translate(err))
	}
	return nil
}

const lockUserTurns = `SELECT pg_advisory_xact_lock(hashtext('yw.turns'), hashtext($1))`

// LockUserTurnsAndCount is LockUserTurns then CountActiveTurns, sent together:
// the count still runs once the lock is held (its snapshot sees every turn
// committed before), and the submit holds the lock one round trip less.
func (s *Store) LockUserTurnsAndCount(ctx context.Context, userID string) (int, error) {
	b := &pgx.Batch{}
	b.Queue(lockUserTurns, userID)
	b.Queue(countActiveTurns, userID)
	br := s.db.SendBatch(ctx, b)
	var n int
	_, err := br.Exec()
	if err != nil {
		err = fmt.Errorf("lock user turns: %w", translate(err))
	} else if err = br.QueryRow().Scan(&n); err != nil {
		err = fmt.Errorf("count active turns: %w", err)
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("lock user turns: %w", cerr)
	}
	return n, err
}
