package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/store"
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	return store.NewTx(pgtest.Tx(t))
}

func mustUser(t *testing.T, st *store.Store, name string) store.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), name, false)
	require.NoError(t, err)
	return u
}

func TestGroupsMembershipsAndRoles(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	ann, ben := mustUser(t, st, "ann"), mustUser(t, st, "ben")

	id, err := st.InsertGroup(ctx, "Research", "papers and notes")
	require.NoError(t, err)
	_, err = st.AddMember(ctx, id, ann.ID, store.RoleAdmin)
	require.NoError(t, err)
	m, err := st.AddMember(ctx, id, ben.ID, store.RoleMember)
	require.NoError(t, err)
	require.Equal(t, "ben", m.Name)
	require.Equal(t, store.RoleMember, m.Role)
	require.False(t, m.JoinedAt.IsZero())

	g, err := st.GroupFor(ctx, id, ben.ID)
	require.NoError(t, err)
	require.Equal(t, store.Group{ID: id, Name: "Research", Description: "papers and notes", MemberCount: 2,
		Role: store.RoleMember, CreatedAt: g.CreatedAt}, g)
	g, err = st.GroupFor(ctx, id, ann.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoleAdmin, g.Role, "the role is the viewer's own")

	outsider := mustUser(t, st, "cid")
	_, err = st.GroupFor(ctx, id, outsider.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "a non-member cannot tell the group exists")
	list, err := st.GroupsFor(ctx, outsider.ID)
	require.NoError(t, err)
	require.Empty(t, list)

	list, err = st.GroupsFor(ctx, ben.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	roles, err := st.GroupsOf(ctx, ben.ID)
	require.NoError(t, err)
	require.Equal(t, []store.GroupRole{{ID: id, Name: "Research", Role: store.RoleMember}}, roles)

	n, err := st.CountGroupAdmins(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	m, err = st.SetMemberRole(ctx, id, ben.ID, store.RoleAdmin)
	require.NoError(t, err)
	require.Equal(t, store.RoleAdmin, m.Role)
	n, err = st.CountGroupAdmins(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	members, err := st.Members(ctx, id)
	require.NoError(t, err)
	require.Len(t, members, 2)
	require.Equal(t, "ann", members[0].Name, "earliest member first")

	require.NoError(t, st.RemoveMember(ctx, id, ben.ID))
	require.ErrorIs(t, st.RemoveMember(ctx, id, ben.ID), store.ErrNotFound)
	_, err = st.GetMember(ctx, id, ben.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = st.SetMemberRole(ctx, id, ben.ID, store.RoleMember)
	require.ErrorIs(t, err, store.ErrNotFound)
	ids, err := st.GroupIDsOf(ctx, ben.ID)
	require.NoError(t, err)
	require.Empty(t, ids, "the principal's groups follow at once")
}

func TestGroupNamesAreUniqueIgnoringCase(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	id, err := st.InsertGroup(ctx, "Sales", "")
	require.NoError(t, err)
	other, err := st.InsertGroup(ctx, "Legal", "")
	require.NoError(t, err)

	taken, err := st.GroupNameTaken(ctx, "SALES", "")
	require.NoError(t, err)
	require.True(t, taken)
	taken, err = st.GroupNameTaken(ctx, "sales", id)
	require.NoError(t, err)
	require.False(t, taken, "a group does not clash with itself")
	taken, err = st.GroupNameTaken(ctx, "sales", other)
	require.NoError(t, err)
	require.True(t, taken)

	name, desc := "SALES", "renamed"
	require.NoError(t, st.UpdateGroup(ctx, id, &name, nil), "changing only the case of its own name is fine")
	require.NoError(t, st.UpdateGroup(ctx, id, nil, &desc))
	require.NoError(t, st.LockGroup(ctx, id))
	u := mustUser(t, st, "dee")
	_, err = st.AddMember(ctx, id, u.ID, store.RoleAdmin)
	require.NoError(t, err)
	g, err := st.GroupFor(ctx, id, u.ID)
	require.NoError(t, err)
	require.Equal(t, "SALES", g.Name)
	require.Equal(t, "renamed", g.Description)

	missing := uuid.NewString()
	require.ErrorIs(t, st.UpdateGroup(ctx, missing, &name, nil), store.ErrNotFound)
	require.ErrorIs(t, st.LockGroup(ctx, missing), store.ErrNotFound)
	require.ErrorIs(t, st.DeleteGroup(ctx, missing), store.ErrNotFound)

	// A failed statement aborts the transaction, so the clash comes last.
	_, err = st.InsertGroup(ctx, "legal", "")
	require.ErrorIs(t, err, store.ErrConflict)
}

func TestAddMemberTwiceIsConflict(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	u := mustUser(t, st, "eve")
	id, err := st.InsertGroup(ctx, "Ops", "")
	require.NoError(t, err)
	_, err = st.AddMember(ctx, id, u.ID, store.RoleMember)
	require.NoError(t, err)
	_, err = st.AddMember(ctx, id, u.ID, store.RoleAdmin)
	require.ErrorIs(t, err, store.ErrConflict)
}

func TestAddMemberOfVanishedUserIsNotFound(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	id, err := st.InsertGroup(ctx, "Ghosts", "")
	require.NoError(t, err)
	_, err = st.AddMember(ctx, id, uuid.NewString(), store.RoleMember)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestUnshareGroupDocumentsBumpsVersionsOfLiveDocuments(t *testing.T) {
	t.Parallel()
	tx := pgtest.Tx(t)
	st := store.NewTx(tx)
	ctx := context.Background()
	owner := mustUser(t, st, "fay")
	id, err := st.InsertGroup(ctx, "Docs", "")
	require.NoError(t, err)
	other, err := st.InsertGroup(ctx, "Elsewhere", "")
	require.NoError(t, err)

	var shared, private, gone, elsewhere string
	for i, row := range []struct {
		group            string
		private, deleted bool
		version          int64
		into             *string
	}{
		{id, false, false, 1, &shared}, {id, true, false, 4, &private}, {id, false, true, 2, &gone}, {other, false, false, 1, &elsewhere},
	} {
		err := tx.QueryRow(ctx, `INSERT INTO documents (owner_id, group_id, private, filename, mime, format, size_bytes, sha256,
			object_key, acl_version, deleted_at) VALUES ($1, $2, $3, 'a.txt', 'text/plain', 'txt', 1, repeat($4, 64), 'k', $5,
			CASE WHEN $6::boolean THEN now() END) RETURNING id::text`,
			owner.ID, row.group, row.private, string(rune('a'+i)), row.version, row.deleted).Scan(row.into)
		require.NoError(t, err)
	}

	docs, err := st.UnshareGroupDocuments(ctx, id)
	require.NoError(t, err)
	require.ElementsMatch(t, []store.DocumentACL{{ID: shared, Version: 2}, {ID: private, Version: 5}}, docs,
		"live documents of the group only, each one version up")
	d, err := st.GetDocument(ctx, private)
	require.NoError(t, err)
	require.Nil(t, d.GroupID)
	require.False(t, d.Private, "back to owner-only, not private within a group")
	d, err = st.GetDocument(ctx, elsewhere)
	require.NoError(t, err)
	require.Equal(t, other, *d.GroupID, "other groups' documents are untouched")

	require.NoError(t, st.DeleteGroup(ctx, id))
	var groupOfGone *string
	require.NoError(t, tx.QueryRow(ctx, "SELECT group_id::text FROM documents WHERE id = $1", gone).Scan(&groupOfGone))
	require.Nil(t, groupOfGone, "deleted documents lose the reference with the group")
	var memberships int
	require.NoError(t, tx.QueryRow(ctx, "SELECT count(*) FROM memberships WHERE group_id = $1", id).Scan(&memberships))
	require.Zero(t, memberships)
}
