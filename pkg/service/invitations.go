package service

import (
	"context"
	"errors"
	"time"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/store"
)

// Invitation is a pending invitation into a group, as the invitee and the group's
// admins see it.
type Invitation struct {
	ID        string `json:"id"`
	GroupID   string `json:"group_id"`
	GroupName string `json:"group_name"`
	UserID    string `json:"user_id"`
	UserName  string `json:"user_name"`
	Role      string `json:"role"`
	// InvitedBy is null once the inviting user has been deleted.
	InvitedBy     *string   `json:"invited_by"`
	InvitedByName *string   `json:"invited_by_name"`
	CreatedAt     time.Time `json:"created_at"`
}

func invitationFromRow(v store.Invitation) Invitation {
	return Invitation{ID: v.ID, GroupID: v.GroupID, GroupName: v.GroupName, UserID: v.UserID, UserName: v.UserName,
		Role: v.Role, InvitedBy: v.InvitedBy, InvitedByName: v.InvitedByName, CreatedAt: v.CreatedAt}
}

// MemberAddition is what adding a member did: the membership, when adds are direct,
// or the invitation the user must accept first.
type MemberAddition struct {
	Member     *Member
	Invitation *Invitation
}

var errInvitationNotFound = Errorf(CodeNotFound, "invitation not found")

// needsInvitation decides whether adding a user to the group asks them first: the
// one place that decides it. Adds are invitations unless the operator made them
// direct (YW_GROUP_DIRECT_ADD); a group whose members an identity provider manages
// will be direct whatever the setting, decided here from the group.
func (g *Groups) needsInvitation(_ context.Context, _ *store.Store, _ string) (bool, error) {
	return !g.directAdd, nil
}

// invite records the invitation of user into the group with role; the caller holds
// the group's lock and has checked that actor may manage the group. A member, or a
// user already invited, is a conflict.
func (g *Groups) invite(ctx context.Context, st *store.Store, actor access.Principal, groupID string, user store.User, role string) (Invitation, error) {
	if _, err := st.GetMember(ctx, groupID, user.ID); err == nil {
		return Invitation{}, Errorf(CodeConflict, "%s is already a member of this group", user.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return Invitation{}, err
	}
	if _, err := st.PendingInvitation(ctx, groupID, user.ID); err == nil {
		return Invitation{}, Errorf(CodeConflict, "%s has already been invited to this group; withdraw that invitation to invite them again", user.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return Invitation{}, err
	}
	v, err := st.InsertInvitation(ctx, groupID, user.ID, role, actor.UserID)
	if errors.Is(err, store.ErrConflict) {
		return Invitation{}, Errorf(CodeConflict, "%s has already been invited to this group", user.Name)
	}
	if err != nil {
		return Invitation{}, err
	}
	g.audit.Record(ctx, st, actor, "invitation.create", "group", groupID, OutcomeSuccess,
		map[string]any{"invitation_id": v.ID, "user_id": user.ID, "name": user.Name, "role": role})
	return invitationFromRow(v), nil
}

// MyInvitations lists the invitations waiting for the caller, oldest first.
func (g *Groups) MyInvitations(ctx context.Context, p access.Principal) ([]Invitation, error) {
	if !p.IsUser() {
		return []Invitation{}, nil
	}
	rows, err := g.store.InvitationsFor(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	out := mapSlice(rows, invitationFromRow)
	if out == nil {
		out = []Invitation{}
	}
	return out, nil
}

// AcceptInvitation makes the caller a member of the group they were invited to, with
// the role of the invitation. Only the invitee may: for anybody else the invitation
// does not exist.
func (g *Groups) AcceptInvitation(ctx context.Context, p access.Principal, id string) (Member, error) {
	var member store.Member
	err := g.answer(ctx, p, id, func(st *store.Store, v store.Invitation) error {
		user, err := st.GetUser(ctx, p.UserID)
		if err != nil {
			return err
		}
		if member, err = g.join(ctx, st, p, v.GroupID, user, v.Role, map[string]any{"invitation_id": v.ID}); err != nil {
			return err
		}
		g.audit.Record(ctx, st, p, "invitation.accept", "group", v.GroupID, OutcomeSuccess,
			map[string]any{"invitation_id": v.ID, "role": v.Role, "invited_by": v.InvitedBy})
		return nil
	})
	if err != nil {
		return Member{}, err
	}
	return memberFromRow(member), nil
}

// DeclineInvitation drops an invitation of the caller; nothing is granted.
func (g *Groups) DeclineInvitation(ctx context.Context, p access.Principal, id string) error {
	return g.answer(ctx, p, id, func(st *store.Store, v store.Invitation) error {
		g.audit.Record(ctx, st, p, "invitation.decline", "group", v.GroupID, OutcomeSuccess,
			map[string]any{"invitation_id": v.ID, "role": v.Role, "invited_by": v.InvitedBy})
		return nil
	})
}

// answer takes the caller's invitation id under its group's lock, so it cannot be
// answered twice or withdrawn meanwhile, and runs fn in the same transaction.
func (g *Groups) answer(ctx context.Context, p access.Principal, id string, fn func(st *store.Store, v store.Invitation) error) error {
	if !p.IsUser() || !isUUID(id) {
		return errInvitationNotFound
	}
	err := g.store.InTx(ctx, func(st *store.Store) error {
		v, err := st.InvitationFor(ctx, id, p.UserID)
		if err != nil {
			return err
		}
		if err := st.LockGroup(ctx, v.GroupID); err != nil {
			return err
		}
		if v, err = st.TakeInvitation(ctx, v.GroupID, id); err != nil {
			return err
		}
		return fn(st, v)
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return errInvitationNotFound
	}
	return groupError("answer invitation", "", err)
}

// GroupInvitations lists the pending invitations of a group; group admins only.
func (g *Groups) GroupInvitations(ctx context.Context, p access.Principal, groupID string) ([]Invitation, error) {
	var out []Invitation
	err := g.asGroupAdmin(ctx, p, groupID, "invitation.list", func(st *store.Store) error {
		rows, err := st.GroupInvitations(ctx, groupID)
		out = mapSlice(rows, invitationFromRow)
		return err
	})
	if err != nil {
		return nil, groupError("list invitations", "", err)
	}
	if out == nil {
		out = []Invitation{}
	}
	return out, nil
}

// WithdrawInvitation drops a pending invitation of the group; group admins only.
func (g *Groups) WithdrawInvitation(ctx context.Context, p access.Principal, groupID, id string) error {
	err := g.asGroupAdmin(ctx, p, groupID, "invitation.withdraw", func(st *store.Store) error {
		if !isUUID(id) {
			return errInvitationNotFound
		}
		v, err := st.TakeInvitation(ctx, groupID, id)
		if errors.Is(err, store.ErrNotFound) {
			return errInvitationNotFound
		}
		if err != nil {
			return err
		}
		g.audit.Record(ctx, st, p, "invitation.withdraw", "group", groupID, OutcomeSuccess,
			map[string]any{"invitation_id": v.ID, "user_id": v.UserID, "name": v.UserName})
		return nil
	})
	if err != nil {
		return groupError("withdraw invitation", "", err)
	}
	return nil
}
