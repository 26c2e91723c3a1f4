package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// GroupRole is a group the user belongs to, with the user's role in it.
type GroupRole struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// GroupsOf lists the groups user belongs to with their role, by name.
func (s *Store) GroupsOf(ctx context.Context, userID string) ([]GroupRole, error) {
	rows, err := s.db.Query(ctx,
		`SELECT g.id::text, g.name, m.role FROM memberships m JOIN groups g ON g.id = m.group_id
		 WHERE m.user_id = $1 ORDER BY lower(g.name)`, userID)
	if err != nil {
		return nil, fmt.Errorf("list groups of user: %w", err)
	}
	groups, err := pgx.CollectRows(rows, pgx.RowToStructByPos[GroupRole])
	if err != nil {
		return nil, fmt.Errorf("list groups of user: %w", err)
	}
	return groups, nil
}
