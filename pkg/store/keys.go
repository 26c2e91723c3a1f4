package store

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
)

// KeyLimits narrow what a key may do below what its user may. Nil slices and a nil
// expiry are no limit.
type KeyLimits struct {
	Name string
	// Scopes are access.Scope values; nil: every scope.
	Scopes []string
	// GroupIDs are the user's groups the key reaches; nil: all of them.
	GroupIDs []string
	// AllowedIPs are the client networks the key may be used from; nil: anywhere.
	AllowedIPs []netip.Prefix
	ExpiresAt  *time.Time
}

// Key is an API key's public record; the key itself is never stored.
type Key struct {
	ID     string
	UserID string
	Prefix string
	KeyLimits
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// KeyCandidate is a stored key with its hash and owner, for authentication.
type KeyCandidate struct {
	Key  Key
	Hash []byte
	User User
	// GroupIDs are the user's groups, read with the key so that a request's
	// authentication is one round trip.
	GroupIDs []string
}

const keyColumns = `k.id::text, k.user_id::text, k.prefix, k.name, k.scopes, k.group_ids::text[], k.allowed_ips,
	k.expires_at, k.created_at, k.last_used_at`

func keyScanTargets(k *Key) []any {
	return []any{&k.ID, &k.UserID, &k.Prefix, &k.Name, &k.Scopes, &k.GroupIDs, &k.AllowedIPs,
		&k.ExpiresAt, &k.CreatedAt, &k.LastUsedAt}
}

// InsertKey stores a key's prefix and hash for user, with its limits.
func (s *Store) InsertKey(ctx context.Context, userID, prefix string, hash []byte, l KeyLimits) (Key, error) {
	var k Key
	err := s.db.QueryRow(ctx,
		`WITH k AS (INSERT INTO api_keys (user_id, prefix, hash, name, scopes, group_ids, allowed_ips, expires_at)
		 VALUES ($1, $2, $3, $4, $5, $6::uuid[], $7, $8) RETURNING *)
		 SELECT `+keyColumns+` FROM k`,
		userID, prefix, hash, l.Name, l.Scopes, l.GroupIDs, l.AllowedIPs, l.ExpiresAt).Scan(keyScanTargets(&k)...)
	if err != nil {
		return Key{}, fmt.Errorf("insert key: %w", translate(err))
	}
	return k, nil
}

// ListKeys returns user's keys, oldest first.
func (s *Store) ListKeys(ctx context.Context, userID string) ([]Key, error) {
	rows, err := s.db.Query(ctx,
		`SELECT `+keyColumns+` FROM api_keys k WHERE k.user_id = $1 ORDER BY k.created_at, k.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Key, error) {
		var k Key
		err := r.Scan(keyScanTargets(&k)...)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return keys, nil
}

// GetKey returns one of user's keys; someone else's key is ErrNotFound.
func (s *Store) GetKey(ctx context.Context, userID, keyID string) (Key, error) {
	var k Key
	err := s.db.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.id = $1 AND k.user_id = $2`, keyID, userID).
		Scan(keyScanTargets(&k)...)
	if err != nil {
		return Key{}, fmt.Errorf("get key: %w", translate(err))
	}
	return k, nil
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

// DeleteKeysOf revokes every key of user, a legacy key not yet used included, and
// returns how many there were.
func (s *Store) DeleteKeysOf(ctx context.Context, userID string) (int64, error) {
	tag, err := s.db.Exec(ctx, "DELETE FROM api_keys WHERE user_id = $1", userID)
	if err != nil {
		return 0, fmt.Errorf("delete keys: %w", err)
	}
	legacy, err := s.DeleteLegacyCredentialsOf(ctx, userID)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected() + legacy, nil
}

// KeyCandidates returns every stored key with prefix that has not expired, with its
// owner. An expired key is left out here, so it fails exactly like a wrong one.
func (s *Store) KeyCandidates(ctx context.Context, prefix string) ([]KeyCandidate, error) {
	rows, err := s.db.Query(ctx,
		`SELECT `+keyColumns+`, k.hash, u.id::text, u.name, u.is_admin, u.created_at,
		 ARRAY(SELECT m.group_id::text FROM memberships m WHERE m.user_id = u.id ORDER BY m.group_id)
		 FROM api_keys k JOIN users u ON u.id = k.user_id
		 WHERE k.prefix = $1 AND (k.expires_at IS NULL OR k.expires_at > now())`, prefix)
	if err != nil {
		return nil, fmt.Errorf("find keys: %w", err)
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyCandidate, error) {
		var c KeyCandidate
		err := r.Scan(append(keyScanTargets(&c.Key), &c.Hash, &c.User.ID, &c.User.Name, &c.User.IsAdmin, &c.User.CreatedAt, &c.GroupIDs)...)
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
