package access

import (
	"fmt"

	"github.com/qdrant/go-client/qdrant"
)

// Vector payload fields that mirror the access fields of a document.
const (
	FieldOwner    = "owner_id"
	FieldGroup    = "group_id"
	FieldPrivate  = "private"
	FieldDocument = "document_id"
)

// RequireAdmin admits administrators and System. Everybody else is refused with
// ErrHidden: admin routes and the data behind them do not exist for other users.
func RequireAdmin(p Principal) error {
	if p.system || (p.IsUser() && p.IsAdmin) {
		return nil
	}
	return ErrHidden
}

// DocumentPredicate returns the SQL condition under which the principal may see the
// document row aliased as alias, with the principal's user id bound to placeholder
// $n. Group membership is read from Postgres in the same statement, so a change of
// membership takes effect on the very next query. Deleted documents are never visible.
//
// Visibility has no Go form on purpose: every reader asks Postgres (or the vector
// store, through VectorFilter, and then Postgres again), so there is no third copy
// of the rule to drift.
func DocumentPredicate(alias string, n int) string {
	return fmt.Sprintf(`(%[1]s.deleted_at IS NULL AND (%[1]s.owner_id = $%[2]d OR (%[1]s.group_id IS NOT NULL AND NOT %[1]s.private
	AND %[1]s.group_id IN (SELECT m.group_id FROM memberships m WHERE m.user_id = $%[2]d))))`, alias, n)
}

// VectorFilter returns the vector-store filter for the chunks the principal may see.
// It is a pre-filter only: every hit is re-checked against Postgres before anyone
// sees it, so a stale payload can never leak. pending are documents the principal
// may see whose payloads may not mirror a recent sharing change yet: their points
// are admitted whatever their payloads say, so a grant holds at once. Somebody who
// is not a user (System, the zero Principal) is admitted nothing.
func VectorFilter(p Principal, pending ...string) *qdrant.Filter {
	should := []*qdrant.Condition{qdrant.NewMatchKeyword(FieldOwner, p.UserID)}
	if !p.IsUser() {
		return &qdrant.Filter{Should: should}
	}
	if len(pending) > 0 {
		should = append(should, qdrant.NewMatchKeywords(FieldDocument, pending...))
	}
	if len(p.GroupIDs) > 0 {
		should = append(should, qdrant.NewFilterAsCondition(&qdrant.Filter{
			Must: []*qdrant.Condition{
				qdrant.NewMatchKeywords(FieldGroup, p.GroupIDs...),
				qdrant.NewMatchBool(FieldPrivate, false),
			},
		}))
	}
	return &qdrant.Filter{Should: should}
}

// CanModifyDocument admits the owner of a document, and only them, to change it:
// share, unshare, delete, retry. Anybody else is refused with ErrHidden, even a
// group member who can see the document, so that "may I change it?" reveals
// nothing "may I see it?" did not.
func CanModifyDocument(p Principal, ownerID string) error {
	if p.IsUser() && ownerID == p.UserID {
		return nil
	}
	return ErrHidden
}

// ModifyDocumentPredicate is CanModifyDocument as an SQL condition on the document
// row aliased as alias, with the principal's user id bound to placeholder $n. A
// statement that changes a document carries it, so a document that changed hands
// or was deleted after the Go check is not changed.
func ModifyDocumentPredicate(alias string, n int) string {
	return fmt.Sprintf(`(%[1]s.deleted_at IS NULL AND %[1]s.owner_id = $%[2]d)`, alias, n)
}

// CanShareWithGroup admits members of a group to put a document into it. For
// everybody else the group does not exist (ErrHidden).
func CanShareWithGroup(p Principal, groupID string) error {
	if p.IsUser() && p.InGroup(groupID) {
		return nil
	}
	return ErrHidden
}

// Group roles, as memberships record them.
const (
	GroupAdmin  = "admin"
	GroupMember = "member"
)

// CanSeeGroup admits the members of a group; role is the principal's role in it,
// "" when they are not a member. For everybody else the group does not exist.
func CanSeeGroup(p Principal, role string) error {
	if p.IsUser() && (role == GroupAdmin || role == GroupMember) {
		return nil
	}
	return ErrHidden
}

// CanManageGroup admits the group's admins to rename or delete it and to add
// members and change their roles; role is the principal's role in the group, ""
// when they are not a member. A member who is not an admin already knows the
// group, so they get ErrForbidden; everybody else gets ErrHidden. Being a platform
// admin grants nothing here.
func CanManageGroup(p Principal, role string) error {
	if err := CanSeeGroup(p, role); err != nil {
		return err
	}
	if role != GroupAdmin {
		return ErrForbidden
	}
	return nil
}

// CanRemoveMember admits a group admin to remove any member, and any member to
// remove themself (leave). role is the principal's role in the group, "" when they
// are not a member; memberID is the user to be removed.
func CanRemoveMember(p Principal, role, memberID string) error {
	if err := CanSeeGroup(p, role); err != nil {
		return err
	}
	if memberID == p.UserID {
		return nil
	}
	return CanManageGroup(p, role)
}
