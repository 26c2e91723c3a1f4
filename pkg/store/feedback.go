package store

import (
	"context"
	"fmt"
	"time"
)

// Feedback is what the asker said of an answer.
type Feedback struct {
	Rating    string
	Comment   *string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SetFeedback records userID's rating of their own ended turn, replacing any
// earlier one. Somebody else's turn, none, or one still queued or running is
// ErrNotFound.
func (s *Store) SetFeedback(ctx context.Context, userID, turnID, rating string, comment *string) (Feedback, error) {
	var f Feedback
	err := s.db.QueryRow(ctx, `INSERT INTO turn_feedback (turn_id, user_id, rating, comment)
		SELECT t.id, t.user_id, $3, $4 FROM turns t WHERE t.id = $1 AND t.user_id = $2 AND t.status NOT IN ('queued', 'running')
		ON CONFLICT (turn_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment, updated_at = now()
		RETURNING rating, comment, created_at, updated_at`, turnID, userID, rating, comment).
		Scan(&f.Rating, &f.Comment, &f.CreatedAt, &f.UpdatedAt)
	if err != nil {
		return Feedback{}, fmt.Errorf("set feedback: %w", translate(err))
	}
	return f, nil
}
