package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/youworker/youworker/pkg/access"
)

// scopeDoc is an access.DocumentScope as the scope jsonb columns of chat_sessions
// and turns hold it; NULL (a nil *scopeDoc) is no scope. It is its own type so
// that the stored format stays fixed whatever happens to the Go names.
type scopeDoc struct {
	DocumentIDs []string `json:"document_ids"`
	GroupIDs    []string `json:"group_ids"`
}

// scopeDocOf is what a scope is stored as: nil (NULL) for the zero scope.
func scopeDocOf(s access.DocumentScope) *scopeDoc {
	if s.IsZero() {
		return nil
	}
	d := &scopeDoc{DocumentIDs: s.DocumentIDs, GroupIDs: s.GroupIDs}
	if d.DocumentIDs == nil {
		d.DocumentIDs = []string{}
	}
	if d.GroupIDs == nil {
		d.GroupIDs = []string{}
	}
	return d
}

func (d *scopeDoc) documentScope() access.DocumentScope {
	if d == nil {
		return access.DocumentScope{}
	}
	return access.DocumentScope{DocumentIDs: d.DocumentIDs, GroupIDs: d.GroupIDs}
}

// SetSessionScope sets the default scope of user's session (the zero scope clears
// it); anyone else's session is ErrNotFound.
func (s *Store) SetSessionScope(ctx context.Context, userID, id string, scope access.DocumentScope) (ChatSession, error) {
	cs, err := scanSession(s.db.QueryRow(ctx, `UPDATE chat_sessions s SET scope = $3, updated_at = now()
		WHERE s.id = $1 AND s.user_id = $2 RETURNING `+sessionColumns, id, userID, scopeDocOf(scope)))
	if err != nil {
		return ChatSession{}, fmt.Errorf("set session scope: %w", err)
	}
	return cs, nil
}

// SetTurnScope records what turn id's searches are narrowed to, in the transaction
// that creates it, so the worker reads it with the turn (as it reads regenerate_of).
func (s *Store) SetTurnScope(ctx context.Context, id string, scope access.DocumentScope) error {
	if _, err := s.db.Exec(ctx, `UPDATE turns SET scope = $2 WHERE id = $1`, id, scopeDocOf(scope)); err != nil {
		return fmt.Errorf("set turn scope: %w", translate(err))
	}
	return nil
}

// VisibleDocumentIDs returns those of ids that name documents p may see now
// (access.DocumentPredicate), whatever their processing status. Ids that are not
// UUIDs are simply not returned.
func (s *Store) VisibleDocumentIDs(ctx context.Context, p access.Principal, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	var valid []string
	for _, id := range ids {
		if _, err := uuid.Parse(id); err == nil && len(id) == 36 {
			valid = append(valid, id)
		}
	}
	if len(valid) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT d.id::text FROM documents d WHERE d.id = ANY($1::uuid[]) AND `+access.DocumentPredicate("d", 2),
		append([]any{valid}, access.DocumentArgs(p)...)...)
	if err != nil {
		return nil, fmt.Errorf("visible documents: %w", translate(err))
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("visible documents: %w", translate(err))
	}
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}
