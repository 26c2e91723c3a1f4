package service

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/store"
)

// groupsFixture is a group service on a rolled-back transaction, with the user
// service next to it so tests can see memberships the way authentication does.
type groupsFixture struct {
	groups   *Groups
	users    *Users
	store    *store.Store
	tx       pgx.Tx
	notified atomic.Int32
	keys     map[string]string
}

// newGroupsFixture adds members directly (YW_GROUP_DIRECT_ADD), as these tests are
// about memberships; newInvitingFixture has the default, invitations.
func newGroupsFixture(t *testing.T) *groupsFixture {
	return newGroupsFixtureWith(t, true)
}

func newInvitingFixture(t *testing.T) *groupsFixture {
	return newGroupsFixtureWith(t, false)
}

func newGroupsFixtureWith(t *testing.T, directAdd bool) *groupsFixture {
	t.Helper()
	tx := pgtest.Tx(t)
	st := store.NewTx(tx)
	audit := NewAuditor(st, logging.Discard())
	f := &groupsFixture{store: st, tx: tx, keys: map[string]string{}}
	f.groups = NewGroups(st, audit, GroupsConfig{Notify: func() { f.notified.Add(1) }, DirectAdd: directAdd}, logging.Discard())
	f.users = NewUsers(st, audit, nil, logging.Discard())
	return f
}

// user creates a user and returns their principal.
func (f *groupsFixture) user(t *testing.T, name string) access.Principal {
	t.Helper()
	_, key, err := f.users.Create(context.Background(), access.System, name, false)
	require.NoError(t, err)
	f.keys[name] = key.Secret
	return f.auth(t, name)
}

// auth authenticates a user again, as the next request would.
func (f *groupsFixture) auth(t *testing.T, name string) access.Principal {
	t.Helper()
	p, err := f.users.Authenticate(context.Background(), f.keys[name])
	require.NoError(t, err)
	return p
}

func (f *groupsFixture) auditActions(t *testing.T, action string) []store.AuditEntry {
	t.Helper()
	entries, err := f.store.ListAudit(context.Background(), store.AuditFilter{Action: action, Limit: 100})
	require.NoError(t, err)
	return entries
}

func ptr(s string) *string { return &s }

func requireField(t *testing.T, err error, code Code, field string) {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, code, e.Code, e.Message)
	require.NotEmpty(t, e.Fields)
	require.Equal(t, field, e.Fields[0].Field, e.Message)
}

func TestCreateGroupMakesCreatorItsAdmin(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := context.Background()
	ann := f.user(t, "ann")

	g, err := f.groups.Create(ctx, ann, "  Research  ", nil)
	require.NoError(t, err)
	require.Equal(t, "Research", g.Name, "surrounding spaces are trimmed")
	require.Equal(t, "", g.Description)
	require.Equal(t, 1, g.MemberCount)
	require.Equal(t, store.RoleAdmin, g.Role)
	require.False(t, g.CreatedAt.IsZero())

	withDesc, err := f.groups.Create(ctx, ann, "Ops", ptr("on call"))
	require.NoError(t, err)
	require.Equal(t, "on call", withDesc.Description)

	list, err := f.groups.List(ctx, ann)
	require.NoError(t, err)
	require.Equal(t, []string{"Ops", "Research"}, []string{list[0].Name, list[1].Name})
	require.ElementsMatch(t, []string{g.ID, withDesc.ID}, f.auth(t, "ann").GroupIDs, "the next request sees the new groups")

	detail, err := f.groups.Get(ctx, ann, g.ID)
	require.NoError(t, err)
	require.Equal(t, g, detail.Group)
	require.Len(t, detail.Members, 1)
	require.Equal(t, Member{UserID: ann.UserID, Name: "ann", Role: store.RoleAdmin, JoinedAt: detail.Members[0].JoinedAt}, detail.Members[0])

	entries := f.auditActions(t, "group.create")
	require.Len(t, entries, 2)
	require.Equal(t, ann.UserID, *entries[1].ActorID)
	require.Equal(t, g.ID, entries[1].TargetID)
	require.Equal(t, OutcomeSuccess, entries[1].Outcome)

	ben := f.user(t, "ben")
	none, err := f.groups.List(ctx, ben)
	require.NoError(t, err)
	require.NotNil(t, none, "an empty list, never null")
	require.Empty(t, none)
}

func TestGroupFieldsAreValidated(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := context.Background()
	ann := f.user(t, "ann")
	for _, bad := range []string{"", "   ", strings.Repeat("x", 101), "tab\there", "bad\xffutf8"} {
		_, err := f.groups.Create(ctx, ann, bad, nil)
		requireField(t, err, CodeInvalid, "name")
	}
	_, err := f.groups.Create(ctx, ann, "ok", ptr(strings.Repeat("d", 2001)))
	requireField(t, err, CodeInvalid, "description")
	_, err = f.groups.Create(ctx, ann, "ok", ptr("bad\xffutf8"))
	requireField(t, err, CodeInvalid, "description")

	g, err := f.groups.Create(ctx, ann, strings.Repeat("é", 100), ptr(strings.Repeat("ü", 2000)))
	require.NoError(t, err, "limits count characters, not bytes")

	_, err = f.groups.Update(ctx, ann, g.ID, GroupChange{})
	requireField(t, err, CodeInvalid, "body")
	_, err = f.groups.Update(ctx, ann, g.ID, GroupChange{Name: ptr("")})
	requireField(t, err, CodeInvalid, "name")
	_, err = f.groups.Update(ctx, ann, g.ID, GroupChange{Description: ptr(strings.Repeat("d", 2001))})
	requireField(t, err, CodeInvalid, "description")
	require.Empty(t, f.auditActions(t, "group.update"), "nothing changed, nothing audited")
}

func TestGroupNamesClashIgnoringCase(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := context.Background()
	ann := f.user(t, "ann")
	eng, err := f.groups.Create(ctx, ann, "Engineering", nil)
	require.NoError(t, err)
	_, err = f.groups.Create(ctx, ann, "ENGINEERING", nil)
	requireField(t, err, CodeConflict, "name")

	sales, err := f.groups.Create(ctx, ann, "Sales", nil)
	require.NoError(t, err)
	_, err = f.groups.Update(ctx, ann, sales.ID, GroupChange{Name: ptr("engineering")})
	requireField(t, err, CodeConflict, "name")

	renamed, err := f.groups.Update(ctx, ann, eng.ID, GroupChange{Name: ptr("ENGINEERING"), Description: ptr("builds things")})
	require.NoError(t, err, "a group may change the case of its own name")
	require.Equal(t, "ENGINEERING", renamed.Name)
	require.Equal(t, "builds things", renamed.Description)
	require.Equal(t, store.RoleAdmin, renamed.Role)
	require.Equal(t, 1, renamed.MemberCount)

	onlyDesc, err := f.groups.Update(ctx, ann, eng.ID, GroupChange{Description: ptr("")})
	require.NoError(t, err)
	require.Equal(t, "ENGINEERING", onlyDesc.Name, "an absent field stays as it is")
	require.Equal(t, "", onlyDesc.Description)

	updates := f.auditActions(t, "group.update")
	require.Len(t, updates, 2)
	require.Equal(t, map[string]any{"description_changed": true}, updates[0].Details)
}

func TestNonMembersGetNotFoundAndMembersForbidden(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := context.Background()
	ann, ben, cid := f.user(t, "ann"), f.user(t, "ben"), f.user(t, "cid")
	g, err := f.groups.Create(ctx, ann, "Private club", nil)
	require.NoError(t, err)
	_, err = f.groups.AddMember(ctx, ann, g.ID, MemberRequest{UserID: &ben.UserID})
	require.NoError(t, err)

	// For an outsider the group is indistinguishable from one that does not exist,
	// and a malformed id is just another missing group.
	for _, id := range []string{g.ID, uuid.NewString(), "not-a-uuid", strings.ToUpper(g.ID) + "x"} {
		_, err := f.groups.Get(ctx, cid, id)
		require.Equal(t, CodeNotFound, ErrorCode(err), id)
		_, err = f.groups.Update(ctx, cid, id, GroupChange{Name: ptr("mine")})
		require.Equal(t, CodeNotFound, ErrorCode(err), id)
		require.Equal(t, CodeNotFound, ErrorCode(f.groups.Delete(ctx, cid, id)), id)
		_, err = f.groups.AddMember(ctx, cid, id, MemberRequest{UserID: &cid.UserID})
		require.Equal(t, CodeNotFound, ErrorCode(err), id)
		_, err = f.groups.SetRole(ctx, cid, id, ben.UserID, store.RoleAdmin)
		require.Equal(t, CodeNotFound, ErrorCode(err), id)
		require.Equal(t, CodeNotFound, ErrorCode(f.groups.RemoveMember(ctx, cid, id, ben.UserID)), id)
		require.Equal(t, CodeNotFound, ErrorCode(f.groups.RemoveMember(ctx, cid, id, cid.UserID)), id)
	}

	// A member sees the group, so admin actions are forbidden rather than hidden.
	detail, err := f.groups.Get(ctx, ben, g.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoleMember, detail.Role)
	require.Equal(t, 2, detail.MemberCount)
	_, err = f.groups.Update(ctx, ben, g.ID, GroupChange{Name: ptr("ours")})
	require.Equal(t, CodeForbidden, ErrorCode(err))
	require.Equal(t, CodeForbidden, ErrorCode(f.groups.Delete(ctx, ben, g.ID)))
	_, err = f.groups.AddMember(ctx, ben, g.ID, MemberRequest{UserID: &cid.UserID})
	require.Equal(t, CodeForbidden, ErrorCode(err))
	_, err = f.groups.SetRole(ctx, ben, g.ID, ben.UserID, store.RoleAdmin)
	require.Equal(t, CodeForbidden, ErrorCode(err), "no promoting oneself")
	require.Equal(t, CodeForbidden, ErrorCode(f.groups.RemoveMember(ctx, ben, g.ID, ann.UserID)))

	denied, err := f.store.ListAudit(ctx, store.AuditFilter{ActorID: ben.UserID, Limit: 100})
	require.NoError(t, err)
	require.Len(t, denied, 5, "every refused admin action is audited")
	for _, e := range denied {
		require.Equal(t, OutcomeDenied, e.Outcome)
		require.Equal(t, g.ID, e.TargetID)
	}
	after, err := f.groups.Get(ctx, ann, g.ID)
	require.NoError(t, err)
	require.Equal(t, "Private club", after.Name)
	require.Len(t, after.Members, 2)
}

func TestMembersAreAddedChangedAndRemoved(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := context.Background()
	ann, ben, cid := f.user(t, "ann"), f.user(t, "ben"), f.user(t, "cid")
	g, err := f.groups.Create(ctx, ann, "Team", nil)
	require.NoError(t, err)

	added, err := f.groups.AddMember(ctx, ann, g.ID, MemberRequest{Name: ptr("BEN")})
	require.NoError(t, err, "names are matched ignoring case")
	require.Nil(t, added.Invitation, "direct adds invite nobody")
	m := *added.Member
	require.Equal(t, Member{UserID: ben.UserID, Name: "ben", Role: store.RoleMember, JoinedAt: m.JoinedAt}, m)
	require.Contains(t, f.auth(t, "ben").GroupIDs, g.ID, "the new member's next request carries the group")
	added, err = f.groups.AddMember(ctx, ann, g.ID, MemberRequest{UserID: &cid.UserID, Role: store.RoleAdmin})
	require.NoError(t, err)
	require.Equal(t, store.RoleAdmin, added.Member.Role)

	_, err = f.groups.AddMember(ctx, ann, g.ID, MemberRequest{UserID: &ben.UserID})
	require.Equal(t, CodeConflict, ErrorCode(err), "already a member")
	_, err = f.groups.AddMember(ctx, ann, g.ID, MemberRequest{Name: ptr("nobody")})
	require.Equal(t, CodeNotFound, ErrorCode(err))
	_, err = f.groups.AddMember(ctx, ann, g.ID, MemberRequest{UserID: ptr(uuid.NewString())})
	require.Equal(t, CodeNotFound, ErrorCode(err))
	_, err = f.groups.AddMember(ctx, ann, g.ID, MemberRequest{})
	requireField(t, err, CodeInvalid, "user_id")
	_, err = f.groups.AddMember(ctx, ann, g.ID, MemberRequest{UserID: &ben.UserID, Name: ptr("ben")})
	requireField(t, err, CodeInvalid, "user_id")
	_, err = f.groups.AddMember(ctx, ann, g.ID, MemberRequest{UserID: ptr("ben")})
	requireField(t, err, CodeInvalid, "user_id")
	_, err = f.groups.AddMember(ctx, ann, g.ID, MemberRequest{Name: ptr("ben"), Role: "owner"})
	requireField(t, err, CodeInvalid, "role")

	m, err = f.groups.SetRole(ctx, ann, g.ID, ben.UserID, store.RoleAdmin)
	require.NoError(t, err)
	require.Equal(t, store.RoleAdmin, m.Role)
	m, err = f.groups.SetRole(ctx, ann, g.ID, ben.UserID, store.RoleAdmin)
	require.NoError(t, err, "setting the current role again is a no-op")
	require.Equal(t, store.RoleAdmin, m.Role)
	_, err = f.groups.SetRole(ctx, ann, g.ID, ben.UserID, "")
	requireField(t, err, CodeInvalid, "role")
	_, err = f.groups.SetRole(ctx, ann, g.ID, uuid.NewString(), store.RoleMember)
	require.Equal(t, CodeNotFound, ErrorCode(err), "not a member")
	_, err = f.groups.SetRole(ctx, ann, g.ID, "garbage", store.RoleMember)
	require.Equal(t, CodeNotFound, ErrorCode(err))

	// A new admin may act at once.
	ben = f.auth(t, "ben")
	_, err = f.groups.Update(ctx, ben, g.ID, GroupChange{Description: ptr("ben was here")})
	require.NoError(t, err)

	require.NoError(t, f.groups.RemoveMember(ctx, ben, g.ID, cid.UserID), "an admin removes another admin")
	require.NotContains(t, f.auth(t, "cid").GroupIDs, g.ID, "removal takes effect on the next request")
	_, err = f.groups.Get(ctx, f.auth(t, "cid"), g.ID)
	require.Equal(t, CodeNotFound, ErrorCode(err))
	require.Equal(t, CodeNotFound, ErrorCode(f.groups.RemoveMember(ctx, ann, g.ID, cid.UserID)), "already gone")

	_, err = f.groups.SetRole(ctx, ann, g.ID, ben.UserID, store.RoleMember)
	require.NoError(t, err)
	require.NoError(t, f.groups.RemoveMember(ctx, f.auth(t, "ben"), g.ID, ben.UserID), "a member may leave")
	require.Empty(t, f.auth(t, "ben").GroupIDs)

	for action, n := range map[string]int{"member.add": 2, "member.role": 2, "member.remove": 1, "member.leave": 1} {
		entries := f.auditActions(t, action)
		require.Len(t, entries, n, action)
		require.Equal(t, g.ID, entries[0].TargetID)
	}
	roles := f.auditActions(t, "member.role")
	require.Equal(t, map[string]any{"user_id": ben.UserID, "from": "admin", "to": "member"}, roles[0].Details)
}

func TestLastAdminCannotLeaveOrBeDemotedOrRemoved(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := context.Background()
	ann, ben := f.user(t, "ann"), f.user(t, "ben")
	g, err := f.groups.Create(ctx, ann, "Solo", nil)
	require.NoError(t, err)

	require.Equal(t, CodeConflict, ErrorCode(f.groups.RemoveMember(ctx, ann, g.ID, ann.UserID)), "the last admin cannot leave")
	_, err = f.groups.SetRole(ctx, ann, g.ID, ann.UserID, store.RoleMember)
	require.Equal(t, CodeConflict, ErrorCode(err), "the last admin cannot step down")

	_, err = f.groups.AddMember(ctx, ann, g.ID, MemberRequest{UserID: &ben.UserID, Role: store.RoleAdmin})
	require.NoError(t, err)
	_, err = f.groups.SetRole(ctx, ben, g.ID, ann.UserID, store.RoleMember)
	require.NoError(t, err, "with two admins one may demote the other")
	_, err = f.groups.SetRole(ctx, ben, g.ID, ben.UserID, store.RoleMember)
	require.Equal(t, CodeConflict, ErrorCode(err))
	require.Equal(t, CodeConflict, ErrorCode(f.groups.RemoveMember(ctx, ben, g.ID, ben.UserID)))

	_, err = f.groups.SetRole(ctx, ben, g.ID, ann.UserID, store.RoleAdmin)
	require.NoError(t, err)
	require.NoError(t, f.groups.RemoveMember(ctx, ann, g.ID, ben.UserID), "an admin who is not the last may be removed")
	require.Equal(t, CodeConflict, ErrorCode(f.groups.RemoveMember(ctx, ann, g.ID, ann.UserID)))

	detail, err := f.groups.Get(ctx, ann, g.ID)
	require.NoError(t, err)
	require.Len(t, detail.Members, 1)
	require.Equal(t, store.RoleAdmin, detail.Members[0].Role)
}

func TestDeleteGroupUnsharesDocumentsAndQueuesACLSyncs(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := logging.WithCorrelationID(context.Background(), "delete-group-corr-1")
	ann, ben := f.user(t, "ann"), f.user(t, "ben")
	g, err := f.groups.Create(ctx, ann, "Shared", nil)
	require.NoError(t, err)
	keep, err := f.groups.Create(ctx, ann, "Kept", nil)
	require.NoError(t, err)
	_, err = f.groups.AddMember(ctx, ann, g.ID, MemberRequest{UserID: &ben.UserID})
	require.NoError(t, err)

	insert := func(owner, group string, private bool, version int64, sha string) string {
		var id string
		require.NoError(t, f.tx.QueryRow(ctx, `INSERT INTO documents (owner_id, group_id, private, filename, mime, format,
			size_bytes, sha256, object_key, acl_version) VALUES ($1, $2, $3, 'notes.txt', 'text/plain', 'txt', 5,
			repeat($4, 64), 'objects/x', $5) RETURNING id::text`, owner, group, private, sha, version).Scan(&id))
		return id
	}
	shared := insert(ben.UserID, g.ID, false, 1, "a")
	private := insert(ann.UserID, g.ID, true, 3, "b")
	elsewhere := insert(ann.UserID, keep.ID, false, 1, "c")

	var visible bool
	require.NoError(t, f.tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM documents d WHERE d.id = $1 AND "+
		access.DocumentPredicate("d", 2)+")", append([]any{shared}, access.DocumentArgs(ann)...)...).Scan(&visible))
	require.True(t, visible, "before: ben's document is visible to the group")

	require.NoError(t, f.groups.Delete(ctx, ann, g.ID))
	require.EqualValues(t, 1, f.notified.Load(), "the relay is woken once")

	for id, want := range map[string]int64{shared: 2, private: 4} {
		var group *string
		var priv bool
		var version int64
		require.NoError(t, f.tx.QueryRow(ctx, "SELECT group_id::text, private, acl_version FROM documents WHERE id = $1", id).
			Scan(&group, &priv, &version))
		require.Nil(t, group)
		require.False(t, priv)
		require.Equal(t, want, version)
	}
	require.NoError(t, f.tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM documents d WHERE d.id = $1 AND "+
		access.DocumentPredicate("d", 2)+")", append([]any{shared}, access.DocumentArgs(ann)...)...).Scan(&visible))
	require.False(t, visible, "after: only its owner sees it")

	rows, err := f.tx.Query(ctx, "SELECT subject, msg_id, payload, correlation_id FROM outbox ORDER BY id")
	require.NoError(t, err)
	type outboxRow struct {
		Subject, MsgID string
		Payload        []byte
		Corr           string
	}
	msgs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[outboxRow])
	require.NoError(t, err)
	got := map[string]job.ACLJob{}
	for _, m := range msgs {
		require.Equal(t, job.SubjectACL, m.Subject)
		require.Equal(t, "delete-group-corr-1", m.Corr)
		var j job.ACLJob
		require.NoError(t, job.Decode(m.Payload, &j))
		require.Equal(t, job.ACLJob{DocumentID: j.DocumentID, Version: j.Version}.MsgID(), m.MsgID)
		got[j.DocumentID] = j
	}
	require.Equal(t, map[string]job.ACLJob{shared: {DocumentID: shared, Version: 2}, private: {DocumentID: private, Version: 4}}, got,
		"one sync per unshared document, at its new version; other groups' documents are untouched")
	var elsewhereGroup string
	require.NoError(t, f.tx.QueryRow(ctx, "SELECT group_id::text FROM documents WHERE id = $1", elsewhere).Scan(&elsewhereGroup))
	require.Equal(t, keep.ID, elsewhereGroup)

	_, err = f.groups.Get(ctx, ann, g.ID)
	require.Equal(t, CodeNotFound, ErrorCode(err))
	require.Empty(t, f.auth(t, "ben").GroupIDs, "former members lose the group on their next request")
	require.Equal(t, []string{keep.ID}, f.auth(t, "ann").GroupIDs)
	deletes := f.auditActions(t, "group.delete")
	require.Len(t, deletes, 1)
	require.EqualValues(t, 2, deletes[0].Details["documents_unshared"])

	require.NoError(t, f.groups.Delete(ctx, ann, keep.ID))
	require.EqualValues(t, 2, f.notified.Load(), "a group with documents wakes the relay again")
	empty, err := f.groups.Create(ctx, ann, "Empty", nil)
	require.NoError(t, err)
	require.NoError(t, f.groups.Delete(ctx, ann, empty.ID))
	require.EqualValues(t, 2, f.notified.Load(), "no jobs, no wake-up")
}

// TestConcurrentStepDownsLeaveAnAdmin has both admins of a group give up their role at
// the same moment, one by stepping down and one by leaving: the group lock must
// serialise them so exactly one succeeds and the group keeps an admin.
func TestConcurrentStepDownsLeaveAnAdmin(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	audit := NewAuditor(st, logging.Discard())
	users := NewUsers(st, audit, nil, logging.Discard())
	groups := NewGroups(st, audit, GroupsConfig{DirectAdd: true}, logging.Discard())
	ctx := context.Background()
	principals := make([]access.Principal, 2)
	for i, name := range []string{"ann", "ben"} {
		_, key, err := users.Create(ctx, access.System, name, false)
		require.NoError(t, err)
		principals[i], err = users.Authenticate(ctx, key.Secret)
		require.NoError(t, err)
	}
	ann, ben := principals[0], principals[1]
	g, err := groups.Create(ctx, ann, "Duo", nil)
	require.NoError(t, err)
	_, err = groups.AddMember(ctx, ann, g.ID, MemberRequest{UserID: &ben.UserID, Role: store.RoleAdmin})
	require.NoError(t, err)

	// Hold the group's lock so both demotions queue up behind it, then let them race.
	holder, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = holder.Exec(ctx, "SELECT 1 FROM groups WHERE id = $1 FOR UPDATE", g.ID)
	require.NoError(t, err)

	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { _, errs[0] = groups.SetRole(ctx, ann, g.ID, ann.UserID, store.RoleMember) })
	wg.Go(func() { errs[1] = groups.RemoveMember(ctx, ben, g.ID, ben.UserID) })
	require.Eventually(t, func() bool {
		var waiting int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&waiting)
		return err == nil && waiting == 2
	}, 10*time.Second, 10*time.Millisecond, "both changes wait for the group lock")
	require.NoError(t, holder.Rollback(ctx))
	wg.Wait()

	codes := []Code{ErrorCode(errs[0]), ErrorCode(errs[1])}
	require.ElementsMatch(t, []Code{"", CodeConflict}, codes, "exactly one wins: %v", errs)
	n, err := st.CountGroupAdmins(ctx, g.ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestAuditListFiltersAndPages(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := context.Background()
	_, key, err := f.users.Create(ctx, access.System, "root", true)
	require.NoError(t, err)
	root, err := f.users.Authenticate(ctx, key.Secret)
	require.NoError(t, err)
	ann := f.user(t, "ann")
	for _, name := range []string{"g1", "g2", "g3"} {
		_, err := f.groups.Create(ctx, ann, name, nil)
		require.NoError(t, err)
	}
	audit := f.groups.audit

	_, err = audit.List(ctx, ann, AuditQuery{})
	require.Equal(t, CodeNotFound, ErrorCode(err), "the audit log is hidden from non-admins")

	page, err := audit.List(ctx, root, AuditQuery{ActorID: ann.UserID, Action: "group.create", Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Entries, 2)
	require.NotNil(t, page.Next)
	require.Greater(t, page.Entries[0].ID, page.Entries[1].ID, "newest first")
	require.Equal(t, map[string]any{"name": "g3"}, page.Entries[0].Details)
	rest, err := audit.List(ctx, root, AuditQuery{ActorID: ann.UserID, Action: "group.create", Limit: 2, Cursor: *page.Next})
	require.NoError(t, err)
	require.Len(t, rest.Entries, 1)
	require.Nil(t, rest.Next)
	require.Equal(t, map[string]any{"name": "g1"}, rest.Entries[0].Details)

	all, err := audit.List(ctx, root, AuditQuery{Since: time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)})
	require.NoError(t, err)
	require.Len(t, all.Entries, 5, "two user creations and three group creations")
	future, err := audit.List(ctx, root, AuditQuery{Since: time.Now().Add(time.Hour).Format(time.RFC3339)})
	require.NoError(t, err)
	require.NotNil(t, future.Entries)
	require.Empty(t, future.Entries)
	none, err := audit.List(ctx, root, AuditQuery{ActorID: root.UserID})
	require.NoError(t, err)
	require.Empty(t, none.Entries)

	_, err = audit.List(ctx, root, AuditQuery{Since: "yesterday"})
	requireField(t, err, CodeInvalid, "since")
	_, err = audit.List(ctx, root, AuditQuery{ActorID: "ann"})
	requireField(t, err, CodeInvalid, "actor")
	for _, c := range []string{"garbage!", encodeAuditCursor(0), store.Cursor{At: time.Now(), ID: uuid.NewString()}.Encode()} {
		_, err = audit.List(ctx, root, AuditQuery{Cursor: c})
		requireField(t, err, CodeInvalid, "cursor")
	}
}

// TestConcurrentCreatesWithOneNameClash creates a group while another transaction
// holds the same name uncommitted: the pre-check cannot see it, so the unique index
// decides, and the loser still gets a clean name conflict.
func TestConcurrentCreatesWithOneNameClash(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	audit := NewAuditor(st, logging.Discard())
	users := NewUsers(st, audit, nil, logging.Discard())
	groups := NewGroups(st, audit, GroupsConfig{DirectAdd: true}, logging.Discard())
	ctx := context.Background()
	_, key, err := users.Create(ctx, access.System, "ann", false)
	require.NoError(t, err)
	ann, err := users.Authenticate(ctx, key.Secret)
	require.NoError(t, err)

	holder, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = store.NewTx(holder).InsertGroup(ctx, "Race", "")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := groups.Create(ctx, ann, "RACE", nil)
		done <- err
	}()
	require.Eventually(t, func() bool {
		var waiting int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&waiting)
		return err == nil && waiting == 1
	}, 10*time.Second, 10*time.Millisecond, "the create waits on the unique index")
	require.NoError(t, holder.Commit(ctx))
	requireField(t, <-done, CodeConflict, "name")
	list, err := groups.List(ctx, ann)
	require.NoError(t, err)
	require.Empty(t, list, "the losing create left nothing behind")
}

// TestDatabaseFailuresAreNotClientErrors makes sure a failing database surfaces as an
// internal error (no service code), never as a 404 or 409 that would mislead a client.
func TestDatabaseFailuresAreNotClientErrors(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ann := f.user(t, "ann")
	g, err := f.groups.Create(context.Background(), ann, "Team", nil)
	require.NoError(t, err)
	root := access.Principal{UserID: ann.UserID, IsAdmin: true}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	calls := map[string]func() error{
		"create": func() error { _, err := f.groups.Create(ctx, ann, "Other", nil); return err },
		"list":   func() error { _, err := f.groups.List(ctx, ann); return err },
		"get":    func() error { _, err := f.groups.Get(ctx, ann, g.ID); return err },
		"update": func() error { _, err := f.groups.Update(ctx, ann, g.ID, GroupChange{Name: ptr("x")}); return err },
		"delete": func() error { return f.groups.Delete(ctx, ann, g.ID) },
		"add": func() error {
			_, err := f.groups.AddMember(ctx, ann, g.ID, MemberRequest{Name: ptr("ann")})
			return err
		},
		"role":  func() error { _, err := f.groups.SetRole(ctx, ann, g.ID, ann.UserID, store.RoleMember); return err },
		"leave": func() error { return f.groups.RemoveMember(ctx, ann, g.ID, ann.UserID) },
		"audit": func() error { _, err := f.groups.audit.List(ctx, root, AuditQuery{}); return err },
	}
	for name, call := range calls {
		err := call()
		require.Error(t, err, name)
		require.Equal(t, Code(""), ErrorCode(err), "%s: %v", name, err)
	}
}
