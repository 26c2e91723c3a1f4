package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is a person or program that holds API keys.
type User struct {
	ID        string
	Name      string
	IsAdmin   bool
	CreatedAt time.Time
	// QuotaBytes and QuotaDocuments are the user's own limits set by an admin
	// (0: unlimited); nil follows the configured default.
	QuotaBytes     *int64
	QuotaDocuments *int64
}

const userColumns = "id::text, name, is_admin, created_at, quota_bytes, quota_documents"

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Name, &u.IsAdmin, &u.CreatedAt, &u.QuotaBytes, &u.QuotaDocuments)
	return u, translate(err)
}

// CreateUser inserts a user; a taken name (case-insensitive) is ErrConflict.
func (s *Store) CreateUser(ctx context.Context, name string, isAdmin bool) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx,
		"INSERT INTO users (name, is_admin) VALUES ($1, $2) RETURNING "+userColumns, name, isAdmin))
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// GetUser returns the user with id.
func (s *Store) GetUser(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1", id))
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// GetUserByName returns the user named name (case-insensitive).
func (s *Store) GetUserByName(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE lower(name) = lower($1)", name))
	if err != nil {
		return User{}, fmt.Errorf("get user by name: %w", err)
	}
	return u, nil
}

// ListUsers pages through all users, newest first.
func (s *Store) ListUsers(ctx context.Context, limit int, after *Cursor) (Page[User], error) {
	q := "SELECT " + userColumns + " FROM users"
	args := []any{limit + 1}
	if after != nil {
		q += " WHERE (created_at, id) < ($2, $3)"
		args = append(args, after.At, after.ID)
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT $1"
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return Page[User]{}, fmt.Errorf("list users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return Page[User]{}, fmt.Errorf("list users: %w", err)
	}
	return pageOf(users, limit, func(u User) Cursor { return Cursor{At: u.CreatedAt, ID: u.ID} }), nil
}

// DeleteUser removes the user row; rows that reference it cascade.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	tag, err := s.db.Exec(ctx, "DELETE FROM users WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("delete user: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete user: %w", ErrNotFound)
	}
	return nil
}

// AdminExists reports whether any admin user exists.
func (s *Store) AdminExists(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM users WHERE is_admin)").Scan(&ok); err != nil {
		return false, fmt.Errorf("check admins: %w", err)
	}
	return ok, nil
}

// GroupIDsOf returns the ids of the groups user belongs to.
func (s *Store) GroupIDsOf(ctx context.Context, userID string) ([]string, error) {
	rows, err := s.db.Query(ctx, "SELECT group_id::text FROM memberships WHERE user_id = $1 ORDER BY group_id", userID)
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	return ids, nil
}

// CountOtherAdmins counts the admins other than userID.
func (s *Store) CountOtherAdmins(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM users WHERE is_admin AND id <> $1`, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}
