package service

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/store"
)

// By default adding a member invites them: nothing is granted until they accept,
// and accepting grants exactly the invited role on the next request.
func TestAddingAMemberInvitesThemUntilTheyAccept(t *testing.T) {
	t.Parallel()
	f := newInvitingFixture(t)
	ctx := context.Background()
	ann, ben := f.user(t, "ann"), f.user(t, "ben")
	g, err := f.groups.Create(ctx, ann, "Team", nil)
	require.NoError(t, err)

	added, err := f.groups.AddMember(ctx, ann, g.ID, MemberRequest{Name: ptr("ben"), Role: store.RoleAdmin})
	require.NoError(t, err)
	require.Nil(t, added.Member, "an invitation grants nothing")
	inv := added.Invitation
	require.NotNil(t, inv)
	require.Equal(t, g.ID, inv.GroupID)
	require.Equal(t, "Team", inv.GroupName)
	require.Equal(t, ben.UserID, inv.UserID)
	require.Equal(t, store.RoleAdmin, inv.Role)
	require.Equal(t, ann.UserID, *inv.InvitedBy)
	require.Equal(t, "ann", *inv.InvitedByName)
	require.NotContains(t, f.auth(t, "ben").GroupIDs, g.ID, "not a member before accepting")
	_, err = f.groups.Get(ctx, ben, g.ID)
	require.Equal(t, CodeNotFound, ErrorCode(err), "the group stays hidden until accepted")

	mine, err := f.groups.MyInvitations(ctx, ben)
	require.NoError(t, err)
	require.Equal(t, []Invitation{*inv}, mine)
	pending, err := f.groups.GroupInvitations(ctx, ann, g.ID)
	require.NoError(t, err)
	require.Equal(t, []Invitation{*inv}, pending)
	none, err := f.groups.MyInvitations(ctx, ann)
	require.NoError(t, err)
	require.NotNil(t, none)
	require.Empty(t, none)

	// Nobody but the invitee answers it: for anybody else it does not exist.
	_, err = f.groups.AcceptInvitation(ctx, ann, inv.ID)
	require.Equal(t, CodeNotFound, ErrorCode(err))
	require.Equal(t, CodeNotFound, ErrorCode(f.groups.DeclineInvitation(ctx, ann, inv.ID)))

	m, err := f.groups.AcceptInvitation(ctx, ben, inv.ID)
	require.NoError(t, err)
	require.Equal(t, ben.UserID, m.UserID)
	require.Equal(t, store.RoleAdmin, m.Role, "the invited role is granted")
	require.Contains(t, f.auth(t, "ben").GroupIDs, g.ID, "the member's next request carries the group")
	_, err = f.groups.AcceptInvitation(ctx, ben, inv.ID)
	require.Equal(t, CodeNotFound, ErrorCode(err), "an answered invitation is gone")
	mine, err = f.groups.MyInvitations(ctx, ben)
	require.NoError(t, err)
	require.Empty(t, mine)

	actions := auditActions(t, f, g.ID)
	require.Equal(t, []string{"group.create", "invitation.create", "member.add", "invitation.accept"}, actions)
}

func TestInvitationsAreDeclinedWithdrawnAndRefused(t *testing.T) {
	t.Parallel()
	f := newInvitingFixture(t)
	ctx := context.Background()
	ann, ben, cid, dan := f.user(t, "ann"), f.user(t, "ben"), f.user(t, "cid"), f.user(t, "dan")
	g, err := f.groups.Create(ctx, ann, "Team", nil)
	require.NoError(t, err)
	invite := func(by string, name string) (*Invitation, error) {
		added, err := f.groups.AddMember(ctx, f.auth(t, by), g.ID, MemberRequest{Name: ptr(name)})
		return added.Invitation, err
	}

	// Declining grants nothing and frees the invitee to be invited again.
	inv, err := invite("ann", "ben")
	require.NoError(t, err)
	require.NoError(t, f.groups.DeclineInvitation(ctx, ben, inv.ID))
	require.NotContains(t, f.auth(t, "ben").GroupIDs, g.ID)
	require.Equal(t, CodeNotFound, ErrorCode(f.groups.DeclineInvitation(ctx, ben, inv.ID)))

	// Inviting twice, or inviting a member, is a conflict.
	inv, err = invite("ann", "ben")
	require.NoError(t, err)
	_, err = invite("ann", "ben")
	require.Equal(t, CodeConflict, ErrorCode(err), "already invited")
	_, err = invite("ann", "ann")
	require.Equal(t, CodeConflict, ErrorCode(err), "already a member")
	_, err = invite("ann", "nobody")
	require.Equal(t, CodeNotFound, ErrorCode(err))

	// Withdrawing takes the invitation back before it is answered.
	require.Equal(t, CodeNotFound, ErrorCode(f.groups.WithdrawInvitation(ctx, ann, g.ID, uuid.NewString())))
	require.Equal(t, CodeNotFound, ErrorCode(f.groups.WithdrawInvitation(ctx, ann, g.ID, "garbage")))
	require.NoError(t, f.groups.WithdrawInvitation(ctx, ann, g.ID, inv.ID))
	_, err = f.groups.AcceptInvitation(ctx, ben, inv.ID)
	require.Equal(t, CodeNotFound, ErrorCode(err), "a withdrawn invitation cannot be accepted")

	// Somebody who may not see the group cannot invite into it, list or withdraw its
	// invitations: for them it does not exist. A member who is not its admin knows
	// the group, so they are refused outright.
	inv, err = invite("ann", "ben")
	require.NoError(t, err)
	_, err = invite("cid", "dan")
	require.Equal(t, CodeNotFound, ErrorCode(err))
	_, err = f.groups.GroupInvitations(ctx, cid, g.ID)
	require.Equal(t, CodeNotFound, ErrorCode(err))
	require.Equal(t, CodeNotFound, ErrorCode(f.groups.WithdrawInvitation(ctx, cid, g.ID, inv.ID)))
	cidInv, err := invite("ann", "cid")
	require.NoError(t, err)
	_, err = f.groups.AcceptInvitation(ctx, cid, cidInv.ID)
	require.NoError(t, err)
	cid = f.auth(t, "cid")
	_, err = invite("cid", "dan")
	require.Equal(t, CodeForbidden, ErrorCode(err))
	_, err = f.groups.GroupInvitations(ctx, cid, g.ID)
	require.Equal(t, CodeForbidden, ErrorCode(err))
	require.Equal(t, CodeForbidden, ErrorCode(f.groups.WithdrawInvitation(ctx, cid, g.ID, inv.ID)))

	// Deleting the group takes its invitations with it.
	require.NoError(t, f.groups.Delete(ctx, ann, g.ID))
	mine, err := f.groups.MyInvitations(ctx, ben)
	require.NoError(t, err)
	require.Empty(t, mine)
	_, err = f.groups.AcceptInvitation(ctx, ben, inv.ID)
	require.Equal(t, CodeNotFound, ErrorCode(err))
	_ = dan

	require.Equal(t, []string{"group.create", "invitation.create", "invitation.decline", "invitation.create",
		"invitation.withdraw", "invitation.create", "invitation.create", "member.add", "invitation.accept",
		"group.delete"}, auditActions(t, f, g.ID), "every invitation, answer and withdrawal is audited")
}

// A member added by somebody else in the meantime (a direct add) cannot accept an
// older invitation into a second membership.
func TestAcceptingAsAMemberIsAConflict(t *testing.T) {
	t.Parallel()
	f := newInvitingFixture(t)
	ctx := context.Background()
	ann, ben := f.user(t, "ann"), f.user(t, "ben")
	g, err := f.groups.Create(ctx, ann, "Team", nil)
	require.NoError(t, err)
	added, err := f.groups.AddMember(ctx, ann, g.ID, MemberRequest{UserID: &ben.UserID})
	require.NoError(t, err)
	_, err = f.store.AddMember(ctx, g.ID, ben.UserID, store.RoleMember)
	require.NoError(t, err)
	_, err = f.groups.AcceptInvitation(ctx, ben, added.Invitation.ID)
	require.Equal(t, CodeConflict, ErrorCode(err))
}

// auditActions lists the successful actions recorded on a group, oldest first.
func auditActions(t *testing.T, f *groupsFixture, groupID string) []string {
	t.Helper()
	entries, err := f.store.ListAudit(context.Background(), store.AuditFilter{Limit: 200})
	require.NoError(t, err)
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; e.TargetID == groupID && e.Outcome == OutcomeSuccess {
			out = append(out, e.Action)
		}
	}
	return out
}
