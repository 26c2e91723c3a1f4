package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/store"
)

// What becomes of a deleted user's documents shared with a group.
const (
	// SharedDelete deletes them with the rest of the user's documents.
	SharedDelete = "delete"
	// SharedTransfer hands each to an admin of its group, so the group keeps it.
	SharedTransfer = "transfer"
)

// DeleteSelf deletes the caller's own account: keys, chats, private documents
// and sessions go; documents shared with a group are deleted or handed to an
// admin of the group, as shared says. The platform's last admin cannot leave it
// without one.
func (u *Users) DeleteSelf(ctx context.Context, p access.Principal, shared string) error {
	if !p.IsUser() {
		return errAdminOnly
	}
	if shared != SharedDelete && shared != SharedTransfer {
		var v validation
		v.add("shared_documents", "must be %q or %q", SharedDelete, SharedTransfer)
		return v.err()
	}
	if p.IsAdmin {
		others, err := u.store.CountOtherAdmins(ctx, p.UserID)
		if err != nil {
			return err
		}
		if others == 0 {
			return Errorf(CodeConflict, "you are the only administrator; make someone else an administrator first")
		}
	}
	return u.deleteAccount(ctx, p, p.UserID, shared, "user.delete_self")
}

// deleteAccount removes user id in one transaction: shared documents first
// transferred when asked (after the groups the user administered got a successor),
// every other document hidden at once and queued for the purge of its vectors and
// bytes, then the user with their keys, chats and web sessions.
func (u *Users) deleteAccount(ctx context.Context, actor access.Principal, id, shared, action string) error {
	switch shared {
	case "":
		shared = SharedDelete
	case SharedDelete, SharedTransfer:
	default:
		var v validation
		v.add("shared_documents", "must be %q or %q", SharedDelete, SharedTransfer)
		return v.err()
	}
	err := u.store.InTx(ctx, func(st *store.Store) error {
		if _, err := st.GetUser(ctx, id); err != nil {
			return err
		}
		promoted, err := st.PromoteSuccessors(ctx, id)
		if err != nil {
			return err
		}
		transferred := 0
		if u.purger != nil {
			if shared == SharedTransfer {
				if transferred, err = u.purger.TransferSharedDocuments(ctx, st, id); err != nil {
					return fmt.Errorf("transfer shared documents: %w", err)
				}
			}
			if err := u.purger.PurgeUserData(ctx, st, id); err != nil {
				return fmt.Errorf("purge user data: %w", err)
			}
		}
		if err := st.DeleteUser(ctx, id); err != nil {
			return err
		}
		u.audit.Record(ctx, st, actor, action, "user", id, OutcomeSuccess,
			map[string]any{"shared_documents": shared, "transferred": transferred, "admins_promoted": promoted})
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return Errorf(CodeNotFound, "user not found")
	}
	return err
}
