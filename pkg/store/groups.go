package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/youworker/youworker/pkg/access"
)

// Group roles; the access rules decide what each may do.
const (
	RoleAdmin  = access.GroupAdmin
	RoleMember = access.GroupMember
)

// GroupRole is a group the user belongs to, with the user's role in it.
type GroupRole struct {
	ID   string
	Name string
	Role string
}

// Group is a group as one of its members sees it: Role is that member's role.
type Group struct {
	ID          string
	Name        string
	Description string
	MemberCount int
	Role        string
	CreatedAt   time.Time
	// Managed is true for a group the identity provider's group sync owns.
	Managed bool
}

// Member is one membership of a group, with the member's name.
type Member struct {
	UserID   string
	Name     string
	Role     string
	JoinedAt time.Time
}

// DocumentACL is a document's id with its ACL version after a sharing change; the
// pair names the payload sync job that mirrors the change into the vector index.
type DocumentACL struct {
	ID      string
	Version int64
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

// groupForMember selects groups joined with the membership of the user bound to $1,
// so a group the user is not in simply has no row: callers cannot tell it from a
// missing group, which is what the 404 rule needs.
const groupForMember = `SELECT g.id::text, g.name, g.description,
	(SELECT count(*) FROM memberships c WHERE c.group_id = g.id), m.role, g.created_at, g.managed_by IS NOT NULL
	FROM groups g JOIN memberships m ON m.group_id = g.id AND m.user_id = $1`

func scanGroup(row pgx.Row) (Group, error) {
	var g Group
	err := row.Scan(&g.ID, &g.Name, &g.Description, &g.MemberCount, &g.Role, &g.CreatedAt, &g.Managed)
	return g, translate(err)
}

// InsertGroup creates a group with no members and returns its id; a taken name
// (case-insensitive) is ErrConflict.
func (s *Store) InsertGroup(ctx context.Context, name, description string) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, "INSERT INTO groups (name, description) VALUES ($1, $2) RETURNING id::text",
		name, description).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("insert group: %w", translate(err))
	}
	return id, nil
}

// GroupFor returns group id as member userID sees it; ErrNotFound when the group is
// missing or userID is not a member.
func (s *Store) GroupFor(ctx context.Context, id, userID string) (Group, error) {
	g, err := scanGroup(s.db.QueryRow(ctx, groupForMember+" WHERE g.id = $2", userID, id))
	if err != nil {
		return Group{}, fmt.Errorf("get group: %w", err)
	}
	return g, nil
}

// GroupsFor lists the groups userID belongs to, by name.
func (s *Store) GroupsFor(ctx context.Context, userID string) ([]Group, error) {
	rows, err := s.db.Query(ctx, groupForMember+" ORDER BY lower(g.name), g.id", userID)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	groups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Group, error) { return scanGroup(r) })
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return groups, nil
}

// GroupNameTaken reports whether another group than exceptID (may be "") already
// has name, ignoring case. Checking first lets callers report a clash without a
// failed statement, which would abort the surrounding transaction; the unique index
// still decides under concurrency.
func (s *Store) GroupNameTaken(ctx context.Context, name, exceptID string) (bool, error) {
	var taken bool
	err := s.db.QueryRow(ctx,
		"SELECT EXISTS (SELECT 1 FROM groups WHERE lower(name) = lower($1) AND ($2 = '' OR id::text <> $2))",
		name, exceptID).Scan(&taken)
	if err != nil {
		return false, fmt.Errorf("check group name: %w", err)
	}
	return taken, nil
}

// LockGroup locks the group row until the transaction ends; ErrNotFound when it does
// not exist. Every membership change takes this lock first, so changes to one group
// run one after another and a "last admin" check sees every committed change. The
// lock is FOR UPDATE because it must also hold off rows that reference the group
// (documents being shared into it) while the group is deleted.
func (s *Store) LockGroup(ctx context.Context, id string) error {
	var got string
	if err := s.db.QueryRow(ctx, "SELECT id::text FROM groups WHERE id = $1 FOR UPDATE", id).Scan(&got); err != nil {
		return fmt.Errorf("lock group: %w", translate(err))
	}
	return nil
}

// UpdateGroup changes the name and/or description of a group; nil leaves a field
// as it is. A taken name is ErrConflict.
func (s *Store) UpdateGroup(ctx context.Context, id string, name, description *string) error {
	tag, err := s.db.Exec(ctx,
		`UPDATE groups SET name = coalesce($2, name), description = coalesce($3, description), updated_at = now()
		 WHERE id = $1`, id, name, description)
	if err != nil {
		return fmt.Errorf("update group: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("update group: %w", ErrNotFound)
	}
	return nil
}

// UnshareGroupDocuments returns every live document of the group to owner-only and
// bumps its ACL version, returning the new versions so the caller can enqueue the
// payload syncs in the same transaction.
func (s *Store) UnshareGroupDocuments(ctx context.Context, groupID string) ([]DocumentACL, error) {
	rows, err := s.db.Query(ctx,
		`UPDATE documents SET group_id = NULL, private = false, acl_version = acl_version + 1, updated_at = now()
		 WHERE group_id = $1 AND deleted_at IS NULL RETURNING id::text, acl_version`, groupID)
	if err != nil {
		return nil, fmt.Errorf("unshare group documents: %w", err)
	}
	docs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DocumentACL])
	if err != nil {
		return nil, fmt.Errorf("unshare group documents: %w", translate(err))
	}
	return docs, nil
}

// DeleteGroup removes a group; memberships cascade, and documents that still point
// at it (only deleted ones, after UnshareGroupDocuments) lose the reference.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	tag, err := s.db.Exec(ctx, "DELETE FROM groups WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("delete group: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete group: %w", ErrNotFound)
	}
	return nil
}

const memberColumns = "m.user_id::text, u.name, m.role, m.joined_at"

func scanMember(row pgx.Row) (Member, error) {
	var m Member
	err := row.Scan(&m.UserID, &m.Name, &m.Role, &m.JoinedAt)
	return m, translate(err)
}

// Members lists the members of a group, earliest first.
func (s *Store) Members(ctx context.Context, groupID string) ([]Member, error) {
	rows, err := s.db.Query(ctx, "SELECT "+memberColumns+
		" FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 ORDER BY m.joined_at, lower(u.name)", groupID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	members, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) { return scanMember(r) })
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return members, nil
}

// GetMember returns one membership; ErrNotFound when userID is not in the group.
func (s *Store) GetMember(ctx context.Context, groupID, userID string) (Member, error) {
	m, err := scanMember(s.db.QueryRow(ctx, "SELECT "+memberColumns+
		" FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 AND m.user_id = $2", groupID, userID))
	if err != nil {
		return Member{}, fmt.Errorf("get member: %w", err)
	}
	return m, nil
}

// AddMember puts userID into the group with role. An existing membership is
// ErrConflict; a user or group that vanished meanwhile is ErrNotFound.
func (s *Store) AddMember(ctx context.Context, groupID, userID, role string) (Member, error) {
	m, err := scanMember(s.db.QueryRow(ctx,
		`WITH m AS (INSERT INTO memberships (group_id, user_id, role) VALUES ($1, $2, $3) RETURNING *)
		 SELECT `+memberColumns+` FROM m JOIN users u ON u.id = m.user_id`, groupID, userID, role))
	if err != nil {
		return Member{}, fmt.Errorf("add member: %w", foreignKeyNotFound(err))
	}
	return m, nil
}

// SetMemberRole changes the role of a member; ErrNotFound when userID is not in the group.
func (s *Store) SetMemberRole(ctx context.Context, groupID, userID, role string) (Member, error) {
	m, err := scanMember(s.db.QueryRow(ctx,
		`WITH m AS (UPDATE memberships SET role = $3 WHERE group_id = $1 AND user_id = $2 RETURNING *)
		 SELECT `+memberColumns+` FROM m JOIN users u ON u.id = m.user_id`, groupID, userID, role))
	if err != nil {
		return Member{}, fmt.Errorf("set member role: %w", err)
	}
	return m, nil
}

// RemoveMember takes userID out of the group; ErrNotFound when not a member.
func (s *Store) RemoveMember(ctx context.Context, groupID, userID string) error {
	tag, err := s.db.Exec(ctx, "DELETE FROM memberships WHERE group_id = $1 AND user_id = $2", groupID, userID)
	if err != nil {
		return fmt.Errorf("remove member: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("remove member: %w", ErrNotFound)
	}
	return nil
}

// CountGroupAdmins counts the admins of a group. Call it after LockGroup so the
// answer cannot change before the transaction ends.
func (s *Store) CountGroupAdmins(ctx context.Context, groupID string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, "SELECT count(*) FROM memberships WHERE group_id = $1 AND role = 'admin'", groupID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count group admins: %w", err)
	}
	return n, nil
}

// foreignKeyNotFound maps a foreign key violation (the referenced row is gone) to
// ErrNotFound and everything else through translate.
func foreignKeyNotFound(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return fmt.Errorf("%w: %s", ErrNotFound, pgErr.ConstraintName)
	}
	return translate(err)
}

// PromoteSuccessors makes, in every group where userID is the only admin, the
// longest-standing other member an admin, so removing the user (deleting their
// account) never leaves a group nobody can manage. It returns how many were promoted.
func (s *Store) PromoteSuccessors(ctx context.Context, userID string) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE memberships m SET role = 'admin'
		FROM (
			SELECT DISTINCT ON (o.group_id) o.group_id, o.user_id
			FROM memberships o
			WHERE o.user_id <> $1
			  AND o.group_id IN (SELECT group_id FROM memberships WHERE user_id = $1 AND role = 'admin')
			  AND NOT EXISTS (SELECT 1 FROM memberships a
			                  WHERE a.group_id = o.group_id AND a.role = 'admin' AND a.user_id <> $1)
			ORDER BY o.group_id, o.joined_at, o.user_id
		) next
		WHERE m.group_id = next.group_id AND m.user_id = next.user_id`, userID)
	if err != nil {
		return 0, fmt.Errorf("promote successors: %w", err)
	}
	return tag.RowsAffected(), nil
}
