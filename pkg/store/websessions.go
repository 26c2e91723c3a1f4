package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// MaxWebSessionsPerUser bounds the live web sessions one user keeps: signing in
// again beyond it ends the oldest, so a script that signs in in a loop cannot grow
// the table without end.
const MaxWebSessionsPerUser = 32

// CreateWebSession records a web UI sign-in of user that ends at expires and returns
// its id. The user's expired sessions, and the oldest beyond MaxWebSessionsPerUser,
// are removed in the same transaction.
func (s *Store) CreateWebSession(ctx context.Context, userID string, expires time.Time) (string, error) {
	var id string
	err := s.InTx(ctx, func(st *Store) error {
		if _, err := st.db.Exec(ctx, `DELETE FROM web_sessions WHERE user_id = $1 AND expires_at <= now()`, userID); err != nil {
			return fmt.Errorf("prune web sessions: %w", translate(err))
		}
		err := st.db.QueryRow(ctx, `INSERT INTO web_sessions (user_id, expires_at) VALUES ($1, $2) RETURNING id::text`,
			userID, expires).Scan(&id)
		if err != nil {
			return fmt.Errorf("create web session: %w", translate(err))
		}
		_, err = st.db.Exec(ctx, `DELETE FROM web_sessions WHERE id IN (
			SELECT id FROM web_sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC OFFSET $2)`,
			userID, MaxWebSessionsPerUser)
		if err != nil {
			return fmt.Errorf("prune web sessions: %w", translate(err))
		}
		return nil
	})
	return id, err
}

// WebSessionActive reports whether the web session id of user exists and has not
// expired. A malformed id is simply not active.
func (s *Store) WebSessionActive(ctx context.Context, id, userID string) (bool, error) {
	var one int
	err := s.db.QueryRow(ctx, `SELECT 1 FROM web_sessions WHERE id = $1 AND user_id = $2 AND expires_at > now()`,
		id, userID).Scan(&one)
	err = translate(err)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check web session: %w", err)
	}
	return true, nil
}

// EndWebSession removes a web session (signing out). Ending one that is already
// gone is not an error.
func (s *Store) EndWebSession(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM web_sessions WHERE id = $1`, id)
	if err = translate(err); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("end web session: %w", err)
	}
	return nil
}
