package service

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/store"
)

func newUsers(t *testing.T) (*Users, *store.Store) {
	t.Helper()
	st := store.NewTx(pgtest.Tx(t))
	return NewUsers(st, NewAuditor(st, logging.Discard()), nil, logging.Discard()), st
}

func admin(t *testing.T, u *Users) access.Principal {
	t.Helper()
	ctx := context.Background()
	_, key, err := u.Create(ctx, access.System, "root-"+t.Name()[len(t.Name())-4:], true)
	require.NoError(t, err)
	p, err := u.Authenticate(ctx, key.Secret)
	require.NoError(t, err)
	return p
}

func TestBootstrapCreatesAdminOnceWithExactKey(t *testing.T) {
	t.Parallel()
	u, st := newUsers(t)
	ctx := context.Background()
	key := "operator-chosen-bootstrap-key-0001"

	created, err := u.Bootstrap(ctx, key)
	require.NoError(t, err)
	require.True(t, created)
	p, err := u.Authenticate(ctx, key)
	require.NoError(t, err)
	require.Equal(t, BootstrapAdminName, p.Name)
	require.True(t, p.IsAdmin)

	created, err = u.Bootstrap(ctx, "another-bootstrap-key-000000002")
	require.NoError(t, err)
	require.False(t, created, "an admin exists: nothing new is created")
	_, err = u.Authenticate(ctx, "another-bootstrap-key-000000002")
	require.Equal(t, CodeUnauthenticated, ErrorCode(err))

	entries, err := st.ListAudit(ctx, store.AuditFilter{Action: "user.bootstrap", Limit: 10})
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

func TestBootstrapRejectsShortKeyAndNameClash(t *testing.T) {
	t.Parallel()
	u, _ := newUsers(t)
	ctx := context.Background()
	_, err := u.Bootstrap(ctx, "short")
	require.Equal(t, CodeInvalid, ErrorCode(err))
	_, _, err = u.Create(ctx, access.System, BootstrapAdminName, false)
	require.NoError(t, err)
	_, err = u.Bootstrap(ctx, "operator-chosen-bootstrap-key-0001")
	require.Equal(t, CodeConflict, ErrorCode(err))
}

func TestCreateUserValidatesAndRejectsDuplicates(t *testing.T) {
	t.Parallel()
	u, _ := newUsers(t)
	ctx := context.Background()
	for _, bad := range []string{"", "has space", "x/y", string(make([]byte, 65))} {
		_, _, err := u.Create(ctx, access.System, bad, false)
		var e *Error
		require.ErrorAs(t, err, &e, bad)
		require.Equal(t, CodeInvalid, e.Code)
		require.Equal(t, "name", e.Fields[0].Field)
	}
	_, key, err := u.Create(ctx, access.System, "alice.b-1", false)
	require.NoError(t, err)
	require.NotEmpty(t, key.Secret)
	_, _, err = u.Create(ctx, access.System, "ALICE.B-1", false)
	require.Equal(t, CodeConflict, ErrorCode(err), "names are unique regardless of case")
}

func TestOnlyAdminsManageUsers(t *testing.T) {
	t.Parallel()
	u, _ := newUsers(t)
	ctx := context.Background()
	root := admin(t, u)
	user, key, err := u.Create(ctx, root, "bob", false)
	require.NoError(t, err)
	bob, err := u.Authenticate(ctx, key.Secret)
	require.NoError(t, err)
	require.False(t, bob.IsAdmin)

	_, _, err = u.Create(ctx, bob, "eve", false)
	require.Equal(t, CodeNotFound, ErrorCode(err))
	_, err = u.List(ctx, bob, 10, "")
	require.Equal(t, CodeNotFound, ErrorCode(err))
	require.Equal(t, CodeNotFound, ErrorCode(u.Delete(ctx, bob, root.UserID, "")))
	require.Equal(t, CodeConflict, ErrorCode(u.Delete(ctx, root, root.UserID, "")))

	require.NoError(t, u.Delete(ctx, root, user.ID, ""))
	_, err = u.Authenticate(ctx, key.Secret)
	require.Equal(t, CodeUnauthenticated, ErrorCode(err), "a deleted user's keys stop working")
	require.Equal(t, CodeNotFound, ErrorCode(u.Delete(ctx, root, user.ID, "")))
}

func TestListUsersPages(t *testing.T) {
	t.Parallel()
	u, _ := newUsers(t)
	ctx := context.Background()
	root := admin(t, u)
	for _, n := range []string{"u1", "u2", "u3", "u4"} {
		_, _, err := u.Create(ctx, root, n, false)
		require.NoError(t, err)
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		page, err := u.List(ctx, root, 2, cursor)
		require.NoError(t, err)
		for _, usr := range page.Items {
			require.False(t, seen[usr.ID], "no user twice")
			seen[usr.ID] = true
		}
		if page.Next == nil {
			break
		}
		cursor = *page.Next
	}
	require.Len(t, seen, 5)
	_, err := u.List(ctx, root, 2, "garbage")
	require.Equal(t, CodeInvalid, ErrorCode(err))
}

func TestKeysCreateListRevokeRotate(t *testing.T) {
	t.Parallel()
	u, _ := newUsers(t)
	ctx := context.Background()
	_, first, err := u.Create(ctx, access.System, "carol", false)
	require.NoError(t, err)
	carol, err := u.Authenticate(ctx, first.Secret)
	require.NoError(t, err)

	second, err := u.CreateKey(ctx, carol, KeyRequest{})
	require.NoError(t, err)
	keys, err := u.Keys(ctx, carol)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	for _, k := range keys {
		if k.ID == first.ID {
			require.NotNil(t, k.LastUsedAt, "authentication records last use")
		}
	}

	require.NoError(t, u.RevokeKey(ctx, carol, first.ID))
	_, err = u.Authenticate(ctx, first.Secret)
	require.Equal(t, CodeUnauthenticated, ErrorCode(err), "revocation takes effect on the next request")
	_, err = u.Authenticate(ctx, second.Secret)
	require.NoError(t, err)

	_, other, err := u.Create(ctx, access.System, "dave", false)
	require.NoError(t, err)
	require.Equal(t, CodeNotFound, ErrorCode(u.RevokeKey(ctx, carol, other.ID)), "someone else's key is not found")

	rotated, err := u.RotateKeys(ctx, "carol")
	require.NoError(t, err)
	_, err = u.Authenticate(ctx, second.Secret)
	require.Equal(t, CodeUnauthenticated, ErrorCode(err))
	p, err := u.Authenticate(ctx, rotated.Secret)
	require.NoError(t, err)
	require.Equal(t, carol.UserID, p.UserID)
	_, err = u.RotateKeys(ctx, "nobody")
	require.Equal(t, CodeNotFound, ErrorCode(err))
}

func TestAuthenticateRejectsGarbageAndWrongSecret(t *testing.T) {
	t.Parallel()
	u, _ := newUsers(t)
	ctx := context.Background()
	_, key, err := u.Create(ctx, access.System, "erin", false)
	require.NoError(t, err)
	for _, k := range []string{"", "x", key.Secret[:len(key.Secret)-1] + "0", key.Secret[:20] + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		_, err := u.Authenticate(ctx, k)
		require.Equal(t, CodeUnauthenticated, ErrorCode(err), k)
	}
}

func TestMeListsGroups(t *testing.T) {
	t.Parallel()
	u, _ := newUsers(t)
	ctx := context.Background()
	_, key, err := u.Create(ctx, access.System, "frank", false)
	require.NoError(t, err)
	p, err := u.Authenticate(ctx, key.Secret)
	require.NoError(t, err)
	me, err := u.Me(ctx, p)
	require.NoError(t, err)
	require.Equal(t, "frank", me.Name)
	require.NotNil(t, me.Groups)
	require.Empty(t, me.Groups)
}

func TestDeletingAGroupsOnlyAdminPromotesTheNextMember(t *testing.T) {
	t.Parallel()
	u, st := newUsers(t)
	groups := NewGroups(st, NewAuditor(st, logging.Discard()), GroupsConfig{DirectAdd: true}, logging.Discard())
	ctx := context.Background()
	root := admin(t, u)
	principal := func(name string) access.Principal {
		_, key, err := u.Create(ctx, root, name, false)
		require.NoError(t, err)
		p, err := u.Authenticate(ctx, key.Secret)
		require.NoError(t, err)
		return p
	}
	owner, first, second := principal("gina"), principal("hank"), principal("ines")
	g, err := groups.Create(ctx, owner, "team-"+owner.UserID[:8], nil)
	require.NoError(t, err)
	for _, m := range []access.Principal{first, second} {
		id := m.UserID
		_, err := groups.AddMember(ctx, owner, g.ID, MemberRequest{UserID: &id})
		require.NoError(t, err)
	}

	require.NoError(t, u.Delete(ctx, root, owner.UserID, ""))

	first, err = u.Authenticate(ctx, mustKey(t, u, first.Name))
	require.NoError(t, err)
	detail, err := groups.Get(ctx, first, g.ID)
	require.NoError(t, err)
	roles := map[string]string{}
	for _, m := range detail.Members {
		roles[m.Name] = m.Role
	}
	require.Equal(t, map[string]string{"hank": "admin", "ines": "member"}, roles,
		"the longest-standing member takes over; the group is never left without an admin")
}

// mustKey issues a fresh key for the named user.
func mustKey(t *testing.T, u *Users, name string) string {
	t.Helper()
	key, err := u.RotateKeys(context.Background(), name)
	require.NoError(t, err)
	return key.Secret
}

func TestAdminsManageKeysOfOthersAsThemselves(t *testing.T) {
	t.Parallel()
	u, st := newUsers(t)
	ctx := context.Background()
	root := admin(t, u)
	bobUser, bobKey, err := u.Create(ctx, root, "bob", false)
	require.NoError(t, err)
	bob, err := u.Authenticate(ctx, bobKey.Secret)
	require.NoError(t, err)

	keys, err := u.ListKeysOf(ctx, root, bobUser.ID)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, bobKey.ID, keys[0].ID)

	// Everybody else is told there is nothing there, about anybody's keys.
	for _, p := range []access.Principal{bob, {}} {
		_, err = u.ListKeysOf(ctx, p, root.UserID)
		require.Equal(t, CodeNotFound, ErrorCode(err))
		require.Equal(t, CodeNotFound, ErrorCode(u.RevokeKeyOf(ctx, p, bobUser.ID, bobKey.ID)))
	}
	_, err = u.ListKeysOf(ctx, root, "not-a-uuid")
	require.Equal(t, CodeNotFound, ErrorCode(err))
	_, err = u.ListKeysOf(ctx, root, "00000000-0000-0000-0000-000000000001")
	require.Equal(t, CodeNotFound, ErrorCode(err))
	// A key is revoked only under its own user.
	require.Equal(t, CodeNotFound, ErrorCode(u.RevokeKeyOf(ctx, root, root.UserID, bobKey.ID)))
	require.Equal(t, CodeNotFound, ErrorCode(u.RevokeKeyOf(ctx, root, bobUser.ID, "not-a-uuid")))

	require.NoError(t, u.RevokeKeyOf(ctx, root, bobUser.ID, bobKey.ID))
	_, err = u.Authenticate(ctx, bobKey.Secret)
	require.Equal(t, CodeUnauthenticated, ErrorCode(err))
	entries, err := st.ListAudit(ctx, store.AuditFilter{Action: "admin.key.revoke", Limit: 10})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, root.Name, entries[0].ActorName, "the admin is recorded, not the key's owner")
	require.Equal(t, bobKey.ID, entries[0].TargetID)
}
