package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Invitation is a pending invitation of a user into a group, with the names a
// reader needs: the invitee does not belong to the group yet and cannot look it up.
type Invitation struct {
	ID        string
	GroupID   string
	GroupName string
	UserID    string
	UserName  string
	Role      string
	// InvitedBy is nil when the inviting user has been deleted since.
	InvitedBy     *string
	InvitedByName *string
	CreatedAt     time.Time
}

// invitationSelect reads invitations from a relation aliased i (the table, or the
// rows a statement returned).
const invitationSelect = `SELECT i.id::text, i.group_id::text, g.name, i.user_id::text, u.name, i.role,
	i.invited_by::text, b.name, i.created_at
	FROM i JOIN groups g ON g.id = i.group_id JOIN users u ON u.id = i.user_id
	LEFT JOIN users b ON b.id = i.invited_by`

func scanInvitation(row pgx.Row) (Invitation, error) {
	var v Invitation
	err := row.Scan(&v.ID, &v.GroupID, &v.GroupName, &v.UserID, &v.UserName, &v.Role, &v.InvitedBy, &v.InvitedByName, &v.CreatedAt)
	return v, translate(err)
}

func collectInvitations(rows pgx.Rows, err error) ([]Invitation, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invitation, error) { return scanInvitation(r) })
}

// InsertInvitation records that invitedBy invites userID into the group with role. A
// pending invitation of the same user to the same group is ErrConflict; a user or
// group that vanished meanwhile is ErrNotFound.
func (s *Store) InsertInvitation(ctx context.Context, groupID, userID, role, invitedBy string) (Invitation, error) {
	v, err := scanInvitation(s.db.QueryRow(ctx, `WITH i AS (INSERT INTO group_invitations (group_id, user_id, role, invited_by)
		VALUES ($1, $2, $3, $4) RETURNING *) `+invitationSelect, groupID, userID, role, invitedBy))
	if err != nil {
		return Invitation{}, fmt.Errorf("insert invitation: %w", foreignKeyNotFound(err))
	}
	return v, nil
}

// PendingInvitation returns the pending invitation of userID into the group;
// ErrNotFound when there is none.
func (s *Store) PendingInvitation(ctx context.Context, groupID, userID string) (Invitation, error) {
	v, err := scanInvitation(s.db.QueryRow(ctx, `WITH i AS (SELECT * FROM group_invitations WHERE group_id = $1 AND user_id = $2) `+
		invitationSelect, groupID, userID))
	if err != nil {
		return Invitation{}, fmt.Errorf("get invitation: %w", err)
	}
	return v, nil
}

// InvitationFor returns invitation id when it invites userID; anybody else's
// invitation is ErrNotFound.
func (s *Store) InvitationFor(ctx context.Context, id, userID string) (Invitation, error) {
	v, err := scanInvitation(s.db.QueryRow(ctx, `WITH i AS (SELECT * FROM group_invitations WHERE id = $1 AND user_id = $2) `+
		invitationSelect, id, userID))
	if err != nil {
		return Invitation{}, fmt.Errorf("get invitation: %w", err)
	}
	return v, nil
}

// InvitationsFor lists the invitations waiting for userID, oldest first.
func (s *Store) InvitationsFor(ctx context.Context, userID string) ([]Invitation, error) {
	vs, err := collectInvitations(s.db.Query(ctx, `WITH i AS (SELECT * FROM group_invitations WHERE user_id = $1) `+
		invitationSelect+` ORDER BY i.created_at, i.id`, userID))
	if err != nil {
		return nil, fmt.Errorf("list invitations of user: %w", translate(err))
	}
	return vs, nil
}

// GroupInvitations lists the pending invitations into a group, oldest first.
func (s *Store) GroupInvitations(ctx context.Context, groupID string) ([]Invitation, error) {
	vs, err := collectInvitations(s.db.Query(ctx, `WITH i AS (SELECT * FROM group_invitations WHERE group_id = $1) `+
		invitationSelect+` ORDER BY i.created_at, i.id`, groupID))
	if err != nil {
		return nil, fmt.Errorf("list invitations of group: %w", translate(err))
	}
	return vs, nil
}

// TakeInvitation removes invitation id of the group and returns it; ErrNotFound
// when it is not (or no longer) pending there. Accepting, declining and withdrawing
// all take the invitation this way, so of two at once only one succeeds.
func (s *Store) TakeInvitation(ctx context.Context, groupID, id string) (Invitation, error) {
	v, err := scanInvitation(s.db.QueryRow(ctx, `WITH i AS (DELETE FROM group_invitations WHERE id = $1 AND group_id = $2 RETURNING *) `+
		invitationSelect, id, groupID))
	if err != nil {
		return Invitation{}, fmt.Errorf("take invitation: %w", err)
	}
	return v, nil
}
