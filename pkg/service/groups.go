package service

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/outbox"
	"github.com/youworker/youworker/pkg/store"
)

// Limits of group fields, as the schema enforces them.
const (
	MaxGroupNameLen        = 100
	MaxGroupDescriptionLen = 2000
)

// Groups manages groups and memberships. Groups are visible to their members only:
// for anybody else a group does not exist (not_found), exactly like a missing one.
// Members who are not group admins see the group, so admin-only actions answer them
// forbidden rather than pretending the group is gone.
type Groups struct {
	store     *store.Store
	audit     *Auditor
	notify    func()
	directAdd bool
	logger    *slog.Logger
}

// GroupsConfig configures the group service.
type GroupsConfig struct {
	// Notify wakes the outbox relay after ACL sync jobs are written (group deletion).
	Notify func()
	// DirectAdd makes AddMember add the user at once instead of inviting them (the
	// operator's YW_GROUP_DIRECT_ADD).
	DirectAdd bool
}

// NewGroups returns the group service.
func NewGroups(st *store.Store, audit *Auditor, cfg GroupsConfig, logger *slog.Logger) *Groups {
	if cfg.Notify == nil {
		cfg.Notify = func() {}
	}
	return &Groups{store: st, audit: audit, notify: cfg.Notify, directAdd: cfg.DirectAdd, logger: logger.With("component", "groups")}
}

// GroupDetail is a group with its members, as GET /v1/groups/{id} shows it.
type GroupDetail struct {
	Group
	Members []Member `json:"members"`
}

// GroupChange is a partial update of a group; nil fields stay as they are.
type GroupChange struct {
	Name        *string
	Description *string
}

// MemberRequest names the user to add, by id or by name, and the role to give them
// ("" means member).
type MemberRequest struct {
	UserID *string
	Name   *string
	Role   string
}

// Create makes a group whose only member, and admin, is the caller.
func (g *Groups) Create(ctx context.Context, p access.Principal, name string, description *string) (Group, error) {
	var v validation
	name = checkGroupName(&v, name)
	desc := ""
	if description != nil {
		desc = checkGroupDescription(&v, *description)
	}
	if err := v.err(); err != nil {
		return Group{}, err
	}
	var group store.Group
	err := g.store.InTx(ctx, func(st *store.Store) error {
		if err := ensureNameFree(ctx, st, name, ""); err != nil {
			return err
		}
		id, err := st.InsertGroup(ctx, name, desc)
		if err != nil {
			return err
		}
		if _, err := st.AddMember(ctx, id, p.UserID, store.RoleAdmin); err != nil {
			return err
		}
		if group, err = st.GroupFor(ctx, id, p.UserID); err != nil {
			return err
		}
		g.audit.Record(ctx, st, p, "group.create", "group", id, OutcomeSuccess, map[string]any{"name": name})
		return nil
	})
	if err != nil {
		return Group{}, groupError("create group", name, err)
	}
	return groupFromRow(group), nil
}

// List returns the caller's groups, by name.
func (g *Groups) List(ctx context.Context, p access.Principal) ([]Group, error) {
	rows, err := g.store.GroupsFor(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	groups := mapSlice(rows, groupFromRow)
	if groups == nil {
		groups = []Group{}
	}
	return groups, nil
}

// Get returns a group with its members; members only.
func (g *Groups) Get(ctx context.Context, p access.Principal, id string) (GroupDetail, error) {
	if !isUUID(id) {
		return GroupDetail{}, errGroupNotFound
	}
	group, err := g.store.GroupFor(ctx, id, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return GroupDetail{}, errGroupNotFound
	}
	if err != nil {
		return GroupDetail{}, err
	}
	members, err := g.store.Members(ctx, id)
	if err != nil {
		return GroupDetail{}, err
	}
	return GroupDetail{Group: groupFromRow(group), Members: mapSlice(members, memberFromRow)}, nil
}

// Update renames a group or changes its description; group admins only.
func (g *Groups) Update(ctx context.Context, p access.Principal, id string, change GroupChange) (Group, error) {
	var v validation
	if change.Name == nil && change.Description == nil {
		v.add("body", "give name or description")
	}
	if change.Name != nil {
		name := checkGroupName(&v, *change.Name)
		change.Name = &name
	}
	if change.Description != nil {
		desc := checkGroupDescription(&v, *change.Description)
		change.Description = &desc
	}
	if err := v.err(); err != nil {
		return Group{}, err
	}
	var group store.Group
	err := g.asGroupAdmin(ctx, p, id, "group.update", func(st *store.Store) error {
		if change.Name != nil {
			if err := ensureNameFree(ctx, st, *change.Name, id); err != nil {
				return err
			}
		}
		if err := st.UpdateGroup(ctx, id, change.Name, change.Description); err != nil {
			return err
		}
		var err error
		if group, err = st.GroupFor(ctx, id, p.UserID); err != nil {
			return err
		}
		details := map[string]any{}
		if change.Name != nil {
			details["name"] = *change.Name
		}
		if change.Description != nil {
			details["description_changed"] = true
		}
		g.audit.Record(ctx, st, p, "group.update", "group", id, OutcomeSuccess, details)
		return nil
	})
	if err != nil {
		name := ""
		if change.Name != nil {
			name = *change.Name
		}
		return Group{}, groupError("update group", name, err)
	}
	return groupFromRow(group), nil
}

// Delete removes a group; group admins only. Its documents go back to owner-only in
// the same transaction, each with a new ACL version and a payload sync job in the
// outbox, so the vector index follows and no document stays shared with a group
// that no longer exists.
func (g *Groups) Delete(ctx context.Context, p access.Principal, id string) error {
	var docs []store.DocumentACL
	err := g.asGroupAdmin(ctx, p, id, "group.delete", func(st *store.Store) error {
		var err error
		if docs, err = st.UnshareGroupDocuments(ctx, id); err != nil {
			return err
		}
		for _, d := range docs {
			if err := outbox.Enqueue(ctx, st, job.ACLJob{DocumentID: d.ID, Version: d.Version}); err != nil {
				return err
			}
		}
		if err := st.DeleteGroup(ctx, id); err != nil {
			return err
		}
		g.audit.Record(ctx, st, p, "group.delete", "group", id, OutcomeSuccess, map[string]any{"documents_unshared": len(docs)})
		return nil
	})
	if err != nil {
		return groupError("delete group", "", err)
	}
	if len(docs) > 0 {
		g.notify()
	}
	return nil
}

// AddMember asks a user, named by id or by name, into a group; group admins only.
// By default the user is invited and becomes a member only by accepting
// (AcceptInvitation); where adds are direct (needsInvitation) they join at once.
// Exactly one of the result's fields is set.
func (g *Groups) AddMember(ctx context.Context, p access.Principal, groupID string, req MemberRequest) (MemberAddition, error) {
	var v validation
	switch {
	case req.UserID == nil && req.Name == nil:
		v.add("user_id", "give user_id or name")
	case req.UserID != nil && req.Name != nil:
		v.add("user_id", "give user_id or name, not both")
	case req.UserID != nil && !isUUID(*req.UserID):
		v.add("user_id", "must be a user id (UUID)")
	}
	role := checkRole(&v, req.Role, true)
	if err := v.err(); err != nil {
		return MemberAddition{}, err
	}
	var out MemberAddition
	err := g.asGroupAdmin(ctx, p, groupID, "member.add", func(st *store.Store) error {
		var user store.User
		var err error
		if req.UserID != nil {
			user, err = st.GetUser(ctx, *req.UserID)
		} else {
			user, err = st.GetUserByName(ctx, *req.Name)
		}
		if errors.Is(err, store.ErrNotFound) {
			return Errorf(CodeNotFound, "user not found")
		}
		if err != nil {
			return err
		}
		invite, err := g.needsInvitation(ctx, st, groupID)
		if err != nil {
			return err
		}
		if !invite {
			m, err := g.join(ctx, st, p, groupID, user, role, nil)
			if err != nil {
				return err
			}
			member := memberFromRow(m)
			out.Member = &member
			return nil
		}
		inv, err := g.invite(ctx, st, p, groupID, user, role)
		if err != nil {
			return err
		}
		out.Invitation = &inv
		return nil
	})
	if err != nil {
		return MemberAddition{}, groupError("add member", "", err)
	}
	return out, nil
}

// join makes user a member of the group with role. It is the one way anybody comes
// into an existing group, by a direct add or by accepting an invitation, so both
// check and record the same things. The caller holds the group's lock. The vector
// index needs no change: payloads carry a document's group, not its members, and
// every request reads the caller's groups afresh, so search follows at once.
func (g *Groups) join(ctx context.Context, st *store.Store, actor access.Principal, groupID string, user store.User, role string, details map[string]any) (store.Member, error) {
	if _, err := st.GetMember(ctx, groupID, user.ID); err == nil {
		return store.Member{}, Errorf(CodeConflict, "%s is already a member of this group", user.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Member{}, err
	}
	member, err := st.AddMember(ctx, groupID, user.ID, role)
	if errors.Is(err, store.ErrConflict) {
		return store.Member{}, Errorf(CodeConflict, "the user is already a member of this group")
	}
	if err != nil {
		return store.Member{}, err
	}
	audit := map[string]any{"user_id": user.ID, "name": user.Name, "role": role}
	for k, v := range details {
		audit[k] = v
	}
	g.audit.Record(ctx, st, actor, "member.add", "group", groupID, OutcomeSuccess, audit)
	return member, nil
}

// SetRole changes a member's role; group admins only. The last admin cannot be
// demoted, so a group always has somebody who can manage it.
func (g *Groups) SetRole(ctx context.Context, p access.Principal, groupID, userID, role string) (Member, error) {
	var v validation
	role = checkRole(&v, role, false)
	if err := v.err(); err != nil {
		return Member{}, err
	}
	var member store.Member
	err := g.asGroupAdmin(ctx, p, groupID, "member.role", func(st *store.Store) error {
		current, err := targetMember(ctx, st, groupID, userID)
		if err != nil {
			return err
		}
		if current.Role == role {
			member = current
			return nil
		}
		if current.Role == store.RoleAdmin {
			if err := ensureAnotherAdmin(ctx, st, groupID, "demote"); err != nil {
				return err
			}
		}
		if member, err = st.SetMemberRole(ctx, groupID, userID, role); err != nil {
			return err
		}
		g.audit.Record(ctx, st, p, "member.role", "group", groupID, OutcomeSuccess,
			map[string]any{"user_id": userID, "from": current.Role, "to": role})
		return nil
	})
	if err != nil {
		return Member{}, groupError("set member role", "", err)
	}
	return memberFromRow(member), nil
}

// RemoveMember takes a member out of a group. Group admins may remove anybody; any
// member may remove themself (leave). The last admin can do neither: a group always
// keeps somebody who can manage it, and deleting it is the way to end it.
func (g *Groups) RemoveMember(ctx context.Context, p access.Principal, groupID, userID string) error {
	leave := userID == p.UserID
	action := "member.remove"
	if leave {
		action = "member.leave"
	}
	body := func(st *store.Store) error {
		current, err := targetMember(ctx, st, groupID, userID)
		if err != nil {
			return err
		}
		if current.Role == store.RoleAdmin {
			verb := "remove"
			if leave {
				verb = "leave as"
			}
			if err := ensureAnotherAdmin(ctx, st, groupID, verb); err != nil {
				return err
			}
		}
		if err := st.RemoveMember(ctx, groupID, userID); err != nil {
			return err
		}
		g.audit.Record(ctx, st, p, action, "group", groupID, OutcomeSuccess,
			map[string]any{"user_id": userID, "name": current.Name})
		return nil
	}
	allowed := func(role string) error { return access.CanRemoveMember(p, role, userID) }
	if err := g.authorized(ctx, p, groupID, action, allowed, body); err != nil {
		return groupError(strings.ReplaceAll(action, ".", " "), "", err)
	}
	return nil
}

// authorized runs fn in a transaction holding the group's lock, once allowed (an
// access rule given the caller's role in the group, "" for none) admits the caller.
// A hidden group is not_found, whether it exists or not. A member refused an
// action already knows the group exists, so they get forbidden, and the refusal is
// audited.
func (g *Groups) authorized(ctx context.Context, p access.Principal, groupID, action string, allowed func(role string) error, fn func(st *store.Store) error) error {
	if !isUUID(groupID) {
		return errGroupNotFound
	}
	err := g.store.InTx(ctx, func(st *store.Store) error {
		if err := st.LockGroup(ctx, groupID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errGroupNotFound
			}
			return err
		}
		role, err := roleIn(ctx, st, p, groupID)
		if err != nil {
			return err
		}
		if role != "" {
			// Members learn that the provider owns the group; others that it does not exist.
			if err := refuseManaged(ctx, st, groupID); err != nil {
				return err
			}
		}
		if err := allowed(role); err != nil {
			return denied(err, errGroupNotFound, errNotGroupAdmin)
		}
		return fn(st)
	})
	if errors.Is(err, errNotGroupAdmin) || ErrorCode(err) == CodeManaged {
		// The transaction rolled back; the denial is recorded on its own.
		g.audit.Record(ctx, nil, p, action, "group", groupID, OutcomeDenied, nil)
	}
	return err
}

// asGroupAdmin runs fn for the admins of the group (access.CanManageGroup).
func (g *Groups) asGroupAdmin(ctx context.Context, p access.Principal, groupID, action string, fn func(st *store.Store) error) error {
	allowed := func(role string) error { return access.CanManageGroup(p, role) }
	return g.authorized(ctx, p, groupID, action, allowed, fn)
}

// roleIn returns the caller's role in the group, "" when they are not a member or
// not a user at all.
func roleIn(ctx context.Context, st *store.Store, p access.Principal, groupID string) (string, error) {
	if !p.IsUser() {
		return "", nil
	}
	me, err := st.GetMember(ctx, groupID, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return me.Role, err
}

// targetMember loads the member an action is about; a malformed or unknown user id
// is not_found, like any member who is not in the group.
func targetMember(ctx context.Context, st *store.Store, groupID, userID string) (store.Member, error) {
	if !isUUID(userID) {
		return store.Member{}, errMemberNotFound
	}
	m, err := st.GetMember(ctx, groupID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Member{}, errMemberNotFound
	}
	return m, err
}

// ensureAnotherAdmin refuses a change that would leave the group without an admin.
// The group lock taken by asMember makes the count exact until commit, so two admins
// demoting each other at the same time cannot both succeed.
func ensureAnotherAdmin(ctx context.Context, st *store.Store, groupID, verb string) error {
	n, err := st.CountGroupAdmins(ctx, groupID)
	if err != nil {
		return err
	}
	if n <= 1 {
		return Errorf(CodeConflict, "cannot %s the last admin of the group; make another member admin first, or delete the group", verb)
	}
	return nil
}

func ensureNameFree(ctx context.Context, st *store.Store, name, exceptID string) error {
	taken, err := st.GroupNameTaken(ctx, name, exceptID)
	if err != nil {
		return err
	}
	if taken {
		return nameTaken(name)
	}
	return nil
}

var (
	errGroupNotFound  = Errorf(CodeNotFound, "group not found")
	errMemberNotFound = Errorf(CodeNotFound, "member not found")
	errNotGroupAdmin  = Errorf(CodeForbidden, "only an admin of the group may do this")
)

func nameTaken(name string) error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf("a group named %q already exists", name),
		Fields: []FieldError{{Field: "name", Message: "already taken"}}}
}

// groupError keeps service errors as they are, turns a unique violation that slipped
// past the pre-check (a concurrent create) into the name clash, and wraps the rest.
func groupError(op, name string, err error) error {
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, store.ErrConflict) && name != "" {
		return nameTaken(name)
	}
	if errors.Is(err, store.ErrNotFound) {
		return errGroupNotFound
	}
	return fmt.Errorf("%s: %w", op, err)
}

// checkGroupName trims the name and records what is wrong with it.
func checkGroupName(v *validation, name string) string {
	name = strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name):
		v.add("name", "must be valid UTF-8")
	case n == 0:
		v.add("name", "required: 1 to %d characters", MaxGroupNameLen)
	case n > MaxGroupNameLen:
		v.add("name", "must be at most %d characters", MaxGroupNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		v.add("name", "must not contain control characters")
	}
	return name
}

func checkGroupDescription(v *validation, desc string) string {
	if !utf8.ValidString(desc) {
		v.add("description", "must be valid UTF-8")
	} else if utf8.RuneCountInString(desc) > MaxGroupDescriptionLen {
		v.add("description", "must be at most %d characters", MaxGroupDescriptionLen)
	}
	return desc
}

// checkRole validates a role; "" means member when optional.
func checkRole(v *validation, role string, optional bool) string {
	if role == "" && optional {
		return store.RoleMember
	}
	if role != store.RoleAdmin && role != store.RoleMember {
		v.add("role", "must be admin or member")
	}
	return role
}

func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// AuditQuery selects audit entries; the zero value is the newest page of everything.
type AuditQuery struct {
	// ActorID is a user id; "" means any actor.
	ActorID string
	Action  string
	// Since is an RFC 3339 time; "" means no lower bound.
	Since  string
	Limit  int
	Cursor string
}

// AuditPage is a page of audit entries, newest first, with the cursor of the next
// page (nil at the end).
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	Next    *string      `json:"next_cursor"`
}

// List pages through the audit log, newest first; admins only (everybody else gets
// not_found, like every admin route).
func (a *Auditor) List(ctx context.Context, actor access.Principal, q AuditQuery) (AuditPage, error) {
	if err := access.RequireAdmin(actor); err != nil {
		return AuditPage{}, denied(err, errAdminOnly, nil)
	}
	f := store.AuditFilter{ActorID: q.ActorID, Action: q.Action, Limit: clampLimit(q.Limit) + 1}
	var v validation
	if q.ActorID != "" && !isUUID(q.ActorID) {
		v.add("actor", "must be a user id (UUID)")
	}
	if q.Since != "" {
		t, err := time.Parse(time.RFC3339, q.Since)
		if err != nil {
			v.add("since", "must be an RFC 3339 time like 2025-01-31T12:00:00Z")
		}
		f.Since = &t
	}
	if q.Cursor != "" {
		id, ok := decodeAuditCursor(q.Cursor)
		if !ok {
			v.add("cursor", "not a cursor this API returned")
		}
		f.BeforeID = id
	}
	if err := v.err(); err != nil {
		return AuditPage{}, err
	}
	entries, err := a.store.ListAudit(ctx, f)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Entries: mapSlice(entries, auditEntryFromRow)}
	if limit := f.Limit - 1; len(entries) > limit {
		page.Entries = page.Entries[:limit]
		next := encodeAuditCursor(page.Entries[limit-1].ID)
		page.Next = &next
	}
	if page.Entries == nil {
		page.Entries = []AuditEntry{}
	}
	return page, nil
}

// auditCursorPrefix tells an audit cursor from other lists' cursors, so passing one
// list's cursor to another fails clearly.
const auditCursorPrefix = "audit:"

func encodeAuditCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(auditCursorPrefix + strconv.FormatInt(id, 10)))
}

func decodeAuditCursor(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(b), auditCursorPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}
