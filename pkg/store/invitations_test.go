package store_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/apikey"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/store"
)

func TestInvitationsArePendingUntilTaken(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	ann, ben := mustUser(t, st, "ann"), mustUser(t, st, "ben")
	g, err := st.InsertGroup(ctx, "Research", "")
	require.NoError(t, err)

	v, err := st.InsertInvitation(ctx, g, ben.ID, store.RoleMember, ann.ID)
	require.NoError(t, err)
	require.Equal(t, "Research", v.GroupName)
	require.Equal(t, "ben", v.UserName)
	require.Equal(t, ann.ID, *v.InvitedBy)
	require.Equal(t, "ann", *v.InvitedByName)

	got, err := st.PendingInvitation(ctx, g, ben.ID)
	require.NoError(t, err)
	require.Equal(t, v, got)
	_, err = st.InvitationFor(ctx, v.ID, ann.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "only the invitee finds their invitation by id")
	mine, err := st.InvitationsFor(ctx, ben.ID)
	require.NoError(t, err)
	require.Equal(t, []store.Invitation{v}, mine)
	all, err := st.GroupInvitations(ctx, g)
	require.NoError(t, err)
	require.Equal(t, []store.Invitation{v}, all)

	_, err = st.TakeInvitation(ctx, uuid.NewString(), v.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "taken through its own group only")
	taken, err := st.TakeInvitation(ctx, g, v.ID)
	require.NoError(t, err)
	require.Equal(t, v, taken)
	_, err = st.TakeInvitation(ctx, g, v.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "taken once")
	mine, err = st.InvitationsFor(ctx, ben.ID)
	require.NoError(t, err)
	require.Empty(t, mine)

	// The inviter's deletion keeps the invitation, without an inviter.
	v, err = st.InsertInvitation(ctx, g, ben.ID, store.RoleAdmin, ann.ID)
	require.NoError(t, err)
	require.NoError(t, st.DeleteUser(ctx, ann.ID))
	got, err = st.PendingInvitation(ctx, g, ben.ID)
	require.NoError(t, err)
	require.Nil(t, got.InvitedBy)
	require.Nil(t, got.InvitedByName)
	require.NoError(t, st.DeleteGroup(ctx, g))
	_, err = st.PendingInvitation(ctx, g, ben.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "the group's deletion takes its invitations")
}

// Each refusal aborts its transaction, so these run on a database of their own.
func TestInvitationInsertRefusals(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	ctx := context.Background()
	ann, ben := mustUser(t, st, "ann"), mustUser(t, st, "ben")
	g, err := st.InsertGroup(ctx, "Research", "")
	require.NoError(t, err)
	_, err = st.InsertInvitation(ctx, g, ben.ID, store.RoleMember, ann.ID)
	require.NoError(t, err)
	_, err = st.InsertInvitation(ctx, g, ben.ID, store.RoleAdmin, ann.ID)
	require.ErrorIs(t, err, store.ErrConflict, "one pending invitation per user and group")
	_, err = st.InsertInvitation(ctx, uuid.NewString(), ben.ID, store.RoleMember, ann.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "no such group")
	_, err = st.InsertInvitation(ctx, g, uuid.NewString(), store.RoleMember, ann.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "no such user")
	secret := apikey.Generate()
	prefix, _ := apikey.Prefix(secret)
	_, err = st.InsertKey(ctx, ann.ID, prefix, apikey.Hash(secret), store.KeyLimits{Scopes: []string{"everything"}})
	require.Error(t, err, "the schema accepts only known scopes")
}

func TestKeyLimitsRoundTrip(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	ann := mustUser(t, st, "ann")
	g, err := st.InsertGroup(ctx, "Research", "")
	require.NoError(t, err)
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	limits := store.KeyLimits{Name: "ci", Scopes: []string{"documents:read"}, GroupIDs: []string{g},
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::1/128")}, ExpiresAt: &expires}
	secret := apikey.Generate()
	prefix, _ := apikey.Prefix(secret)
	k, err := st.InsertKey(ctx, ann.ID, prefix, apikey.Hash(secret), limits)
	require.NoError(t, err)
	require.Equal(t, limits.Scopes, k.Scopes)
	require.Equal(t, limits.GroupIDs, k.GroupIDs)
	require.Equal(t, limits.AllowedIPs, k.AllowedIPs)
	require.True(t, expires.Equal(*k.ExpiresAt))
	got, err := st.GetKey(ctx, ann.ID, k.ID)
	require.NoError(t, err)
	require.Equal(t, k.KeyLimits.Scopes, got.Scopes)
	require.Equal(t, k.KeyLimits.AllowedIPs, got.AllowedIPs)

	plain, err := st.InsertKey(ctx, ann.ID, prefix, apikey.Hash(apikey.Generate()), store.KeyLimits{})
	require.NoError(t, err)
	require.Nil(t, plain.Scopes, "no limit is NULL, never an empty list")
	require.Nil(t, plain.GroupIDs)
	require.Nil(t, plain.AllowedIPs)
	require.Nil(t, plain.ExpiresAt)

}

func TestTurnGroupLimit(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	ann := mustUser(t, st, "ann")
	s, err := st.CreateSession(ctx, ann.ID, "t")
	require.NoError(t, err)
	_, turn, err := st.CreateTurn(ctx, s.ID, ann.ID, "hello", "m", true, nil)
	require.NoError(t, err)
	limit, err := st.TurnGroupLimit(ctx, turn.ID)
	require.NoError(t, err)
	require.Nil(t, limit, "a turn asked with an unlimited key has no limit")
	require.NoError(t, st.LimitTurnGroups(ctx, turn.ID, nil))
	limit, err = st.TurnGroupLimit(ctx, turn.ID)
	require.NoError(t, err)
	require.NotNil(t, limit, "limited to no group is still a limit")
	require.Empty(t, limit)
	g := uuid.NewString()
	require.NoError(t, st.LimitTurnGroups(ctx, turn.ID, []string{g}))
	limit, err = st.TurnGroupLimit(ctx, turn.ID)
	require.NoError(t, err)
	require.Equal(t, []string{g}, limit)
}
