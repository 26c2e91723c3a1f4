package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// StorageUsage is what a user's live documents take: deleted documents count no more
// from the moment they are deleted, even before their bytes are purged.
type StorageUsage struct {
	Bytes     int64
	Documents int64
}

// LockUser returns the user and locks their row until the transaction ends, so
// uploads of one user commit one after the other and each counts the documents
// of the one before. The lock does not block rows that merely reference the user.
func (s *Store) LockUser(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1 FOR NO KEY UPDATE", id))
	if err != nil {
		return User{}, fmt.Errorf("lock user: %w", err)
	}
	return u, nil
}

// UsageOf returns the size and number of the user's live documents.
func (s *Store) UsageOf(ctx context.Context, userID string) (StorageUsage, error) {
	var u StorageUsage
	err := s.db.QueryRow(ctx, `SELECT coalesce(sum(size_bytes), 0)::bigint, count(*) FROM documents
		WHERE owner_id = $1 AND deleted_at IS NULL`, userID).Scan(&u.Bytes, &u.Documents)
	if err != nil {
		return StorageUsage{}, fmt.Errorf("storage usage: %w", translate(err))
	}
	return u, nil
}

// UsagesOf returns the usage of each of the users; users without documents are absent.
func (s *Store) UsagesOf(ctx context.Context, userIDs []string) (map[string]StorageUsage, error) {
	rows, err := s.db.Query(ctx, `SELECT owner_id::text, coalesce(sum(size_bytes), 0)::bigint, count(*) FROM documents
		WHERE owner_id = ANY($1::uuid[]) AND deleted_at IS NULL GROUP BY owner_id`, userIDs)
	if err != nil {
		return nil, fmt.Errorf("storage usage: %w", translate(err))
	}
	out := map[string]StorageUsage{}
	var id string
	var u StorageUsage
	_, err = pgx.ForEachRow(rows, []any{&id, &u.Bytes, &u.Documents}, func() error {
		out[id] = u
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage usage: %w", err)
	}
	return out, nil
}

// QuotaSetting changes one quota limit of a user: Set false leaves it as it is;
// with Set, Value nil returns it to the configured default and a number is the
// user's own limit (0: unlimited).
type QuotaSetting struct {
	Set   bool
	Value *int64
}

// UserChange is an admin's change to a user; unset fields stay as they are.
type UserChange struct {
	IsAdmin        *bool
	QuotaBytes     QuotaSetting
	QuotaDocuments QuotaSetting
}

// UpdateUser applies ch to the user and returns the result.
func (s *Store) UpdateUser(ctx context.Context, id string, ch UserChange) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `UPDATE users SET
		is_admin = coalesce($2::boolean, is_admin),
		quota_bytes = CASE WHEN $3 THEN $4::bigint ELSE quota_bytes END,
		quota_documents = CASE WHEN $5 THEN $6::bigint ELSE quota_documents END
		WHERE id = $1 RETURNING `+userColumns,
		id, ch.IsAdmin, ch.QuotaBytes.Set, ch.QuotaBytes.Value, ch.QuotaDocuments.Set, ch.QuotaDocuments.Value))
	if err != nil {
		return User{}, fmt.Errorf("update user: %w", err)
	}
	return u, nil
}
