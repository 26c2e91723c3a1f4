package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Key is an API key's public record; the key itself is never stored.
type Key struct {
	ID         string
	UserID     string
	Prefix     string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// KeyCandidate is a stored key with its hash and owner, for authentication.
type KeyCandidate struct {
	Key  Key
	Hash []byte
	User User
}

// InsertKey stores a key's prefix and hash for user.
func (s *Store) InsertKey(ctx context.Context, userID, prefix string, hash []byte) (Key, error) {
	var k Key
	err := s.db.QueryRow(ctx,
		`INSERT INTO api_keys (user_id, prefix, hash) VALUES ($1, $2, $3)
		 RETURNING id::text, user_id::text, prefix, created_at, last_used_at`,
		userID, prefix, hash).Scan(&k.ID, &k.UserID, &k.Prefix, &k.CreatedAt, &k.LastUsedAt)
	if err != nil {
		return Key{}, fmt.Errorf("insert key: %w", translate(err))
	}
	return k, nil
}

// ListKeys returns user's keys, oldest first.
func (s *Store) ListKeys(ctx context.Context, userID string) ([]Key, error) {
	rows, err := s.db.Query(ctx,
		`SELECT id::text, user_id::text, prefix, created_at, last_used_at FROM api_keys
		 WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Key, error) {
		var k Key
		err := r.Scan(&k.ID, &k.UserID, &k.Prefix, &k.CreatedAt, &k.LastUsedAt)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return keys, nil
}

// DeleteKey revokes one of user's keys; someone else's key is ErrNotFound.
func (s *Store) DeleteKey(ctx context.Context, userID, keyID string) error {
	tag, err := s.db.Exec(ctx, "DELETE FROM api_keys WHERE id = $1 AND user_id = $2", keyID, userID)
	if err != nil {
		return fmt.Errorf("delete key: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete key: %w", ErrNotFound)
	}
	return nil
}

// DeleteKeysOf revokes every key of user and returns how many there were.
func (s *Store) DeleteKeysOf(ctx context.Context, userID string) (int64, error) {
	tag, err := s.db.Exec(ctx, "DELETE FROM api_keys WHERE user_id = $1", userID)
	if err != nil {
		return 0, fmt.Errorf("delete keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// KeyCandidates returns every stored key with prefix, with its owner.
func (s *Store) KeyCandidates(ctx context.Context, prefix string) ([]KeyCandidate, error) {
	rows, err := s.db.Query(ctx,
		`SELECT k.id::text, k.user_id::text, k.prefix, k.created_at, k.last_used_at, k.hash,
		        u.id::text, u.name, u.is_admin, u.created_at
		 FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = $1`, prefix)
	if err != nil {
		return nil, fmt.Errorf("find keys: %w", err)
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyCandidate, error) {
		var c KeyCandidate
		err := r.Scan(&c.Key.ID, &c.Key.UserID, &c.Key.Prefix, &c.Key.CreatedAt, &c.Key.LastUsedAt, &c.Hash,
			&c.User.ID, &c.User.Name, &c.User.IsAdmin, &c.User.CreatedAt)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("find keys: %w", err)
	}
	return cands, nil
}

// TouchKey records that a key was used, at most once a minute so authentication does
// not turn every request into a write.
func (s *Store) TouchKey(ctx context.Context, keyID string) error {
	_, err := s.db.Exec(ctx,
		`UPDATE api_keys SET last_used_at = now()
		 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, keyID)
	if err != nil {
		return fmt.Errorf("touch key: %w", err)
	}
	return nil
}
