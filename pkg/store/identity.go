package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// GroupRef names a group and who manages it: "" for a group made by hand, else the
// sign-in ("oidc", "proxy") whose group sync created it.
type GroupRef struct {
	ID        string
	Name      string
	ManagedBy string
}

// IdentityUser returns the user linked to the provider's (issuer, subject) and locks
// the link until the transaction ends, so two sign-ins of one person run one after
// the other. ErrNotFound when the subject has never signed in.
func (s *Store) IdentityUser(ctx context.Context, issuer, subject string) (string, error) {
	var userID string
	err := s.db.QueryRow(ctx, `SELECT user_id::text FROM identities WHERE issuer = $1 AND subject = $2 FOR UPDATE`,
		issuer, subject).Scan(&userID)
	if err != nil {
		return "", fmt.Errorf("find identity: %w", translate(err))
	}
	return userID, nil
}

// LockProvisioning holds, until the transaction ends, the lock every sign-in takes
// before it creates a user or a managed group, so two first sign-ins never race for
// one name: the second waits, then finds what the first made. People and groups are
// new rarely, so this costs nothing the rest of the time.
func (s *Store) LockProvisioning(ctx context.Context) error {
	if _, err := s.db.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('yw.provision'))`); err != nil {
		return fmt.Errorf("lock provisioning: %w", translate(err))
	}
	return nil
}

// LinkIdentity links (issuer, subject) to userID; an existing link is ErrConflict.
func (s *Store) LinkIdentity(ctx context.Context, issuer, subject, userID, email string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO identities (issuer, subject, user_id, email) VALUES ($1, $2, $3, NULLIF($4, ''))`,
		issuer, subject, userID, email)
	if err != nil {
		return fmt.Errorf("link identity: %w", translate(err))
	}
	return nil
}

// TouchIdentity records a sign-in of the linked subject and the e-mail address the
// provider gave this time.
func (s *Store) TouchIdentity(ctx context.Context, issuer, subject, email string) error {
	_, err := s.db.Exec(ctx, `UPDATE identities SET last_sign_in_at = now(), email = NULLIF($3, '')
		WHERE issuer = $1 AND subject = $2`, issuer, subject, email)
	if err != nil {
		return fmt.Errorf("touch identity: %w", translate(err))
	}
	return nil
}

// UserNameTaken reports whether a user already has name, ignoring case; checking
// first keeps a clash from aborting the surrounding transaction.
func (s *Store) UserNameTaken(ctx context.Context, name string) (bool, error) {
	var taken bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(name) = lower($1))`, name).Scan(&taken); err != nil {
		return false, fmt.Errorf("check user name: %w", err)
	}
	return taken, nil
}

// GroupByName returns the group named name, ignoring case.
func (s *Store) GroupByName(ctx context.Context, name string) (GroupRef, error) {
	var g GroupRef
	err := s.db.QueryRow(ctx, `SELECT id::text, name, coalesce(managed_by, '') FROM groups WHERE lower(name) = lower($1)`,
		name).Scan(&g.ID, &g.Name, &g.ManagedBy)
	if err != nil {
		return GroupRef{}, fmt.Errorf("find group by name: %w", translate(err))
	}
	return g, nil
}

// GroupManagedBy returns who manages group id: "" when it was made by hand.
func (s *Store) GroupManagedBy(ctx context.Context, id string) (string, error) {
	var by string
	if err := s.db.QueryRow(ctx, `SELECT coalesce(managed_by, '') FROM groups WHERE id = $1`, id).Scan(&by); err != nil {
		return "", fmt.Errorf("group managed by: %w", translate(err))
	}
	return by, nil
}

// InsertManagedGroup creates a group that the sign-in source manages and returns its
// id; a taken name is ErrConflict.
func (s *Store) InsertManagedGroup(ctx context.Context, name, description, source string) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO groups (name, description, managed_by) VALUES ($1, $2, $3) RETURNING id::text`,
		name, description, source).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("insert managed group: %w", translate(err))
	}
	return id, nil
}

// ManagedMembershipsOf lists the groups userID belongs to through the group sync of
// source.
func (s *Store) ManagedMembershipsOf(ctx context.Context, userID, source string) ([]GroupRef, error) {
	rows, err := s.db.Query(ctx, `SELECT g.id::text, g.name, coalesce(g.managed_by, '')
		FROM memberships m JOIN groups g ON g.id = m.group_id
		WHERE m.user_id = $1 AND m.managed_by = $2 ORDER BY g.id`, userID, source)
	if err != nil {
		return nil, fmt.Errorf("list managed memberships: %w", err)
	}
	refs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[GroupRef])
	if err != nil {
		return nil, fmt.Errorf("list managed memberships: %w", err)
	}
	return refs, nil
}

// AddManagedMember makes userID a member of the group on behalf of the sign-in
// source and reports whether a membership was created. A membership the user
// already has is left as it is. Take LockGroup first.
func (s *Store) AddManagedMember(ctx context.Context, groupID, userID, source string) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO memberships (group_id, user_id, role, managed_by) VALUES ($1, $2, 'member', $3)
		ON CONFLICT (group_id, user_id) DO NOTHING`, groupID, userID, source)
	if err != nil {
		return false, fmt.Errorf("add managed member: %w", foreignKeyNotFound(err))
	}
	return tag.RowsAffected() == 1, nil
}

// RemoveManagedMember ends userID's membership of the group if source's group sync
// made it, and reports whether it did. Take LockGroup first.
func (s *Store) RemoveManagedMember(ctx context.Context, groupID, userID, source string) (bool, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM memberships WHERE group_id = $1 AND user_id = $2 AND managed_by = $3`,
		groupID, userID, source)
	if err != nil {
		return false, fmt.Errorf("remove managed member: %w", translate(err))
	}
	return tag.RowsAffected() == 1, nil
}

// WebSessionUser returns the user of web session id when the session belongs to
// userID and has not ended; ErrNotFound otherwise (a malformed id included).
func (s *Store) WebSessionUser(ctx context.Context, id, userID string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = (
		SELECT user_id FROM web_sessions WHERE id = $1 AND user_id = $2 AND expires_at > now())`, id, userID))
	if errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("web session: %w", ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("web session: %w", err)
	}
	return u, nil
}
