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
// document row aliased as alias, with DocumentArgs(p) bound to placeholders $n and
// $n+1 (the user id, and the groups a limited principal reaches). Group membership is
// read from Postgres in the same statement, so a change of membership takes effect
// on the very next query. Deleted documents are never visible. A principal limited
// to some groups (Limit) sees only documents in those groups, its own included.
//
// Visibility has no Go form on purpose: every reader asks Postgres (or the vector
// store, through VectorFilter, and then Postgres again), so there is no third copy
// of the rule to drift.
func DocumentPredicate(alias string, n int) string {
	return fmt.Sprintf(`(%[1]s.deleted_at IS NULL AND (%[1]s.owner_id = $%[2]d OR (%[1]s.group_id IS NOT NULL AND NOT %[1]s.private
	AND %[1]s.group_id IN (SELECT m.group_id FROM memberships m WHERE m.user_id = $%[2]d)))
	AND ($%[3]d::uuid[] IS NULL OR %[1]s.group_id = ANY($%[3]d::uuid[])))`, alias, n, n+1)
}

// DocumentArgs are the values DocumentPredicate and ModifyDocumentPredicate bind, in
// order: the user id, and the groups of a principal limited to some (NULL when it
// is not).
func DocumentArgs(p Principal) []any {
	var groups []string
	if p.limits.groupLimited {
		groups = append([]string{}, p.GroupIDs...) // never nil: limited to no group hides everything
	}
	return []any{p.UserID, groups}
}

// VectorFilter returns the vector-store filter for the chunks the principal may see.
// It is a pre-filter only: every hit is re-checked against Postgres before anyone
// sees it, so a stale payload can never leak. pending are documents the principal
// may see whose payloads may not mirror a recent sharing change yet: their points
// are admitted whatever their payloads say, so a grant holds at once (they come from
// Postgres through DocumentPredicate, so a limited principal's limit already holds
// for them). Somebody who is not a user (System, the zero Principal) is admitted
// nothing, and so is a principal limited to no group with nothing pending.
func VectorFilter(p Principal, pending ...string) *qdrant.Filter {
	mine := qdrant.NewMatchKeyword(FieldOwner, p.UserID)
	nothing := &qdrant.Filter{Should: []*qdrant.Condition{qdrant.NewMatchKeyword(FieldOwner, "")}} // no point has an empty owner
	if !p.IsUser() {
		return nothing
	}
	var should []*qdrant.Condition
	switch {
	case !p.limits.groupLimited:
		should = append(should, mine)
	case len(p.GroupIDs) > 0:
		should = append(should, qdrant.NewFilterAsCondition(&qdrant.Filter{
			Must: []*qdrant.Condition{mine, qdrant.NewMatchKeywords(FieldGroup, p.GroupIDs...)},
		}))
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
	if len(should) == 0 {
		return nothing
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
// row aliased as alias, with DocumentArgs(p) bound to placeholders $n and $n+1. A
// statement that changes a document carries it, so a document that changed hands
// or was deleted after the Go check is not changed; a principal limited to some
// groups changes only documents in them, as it sees only those.
func ModifyDocumentPredicate(alias string, n int) string {
	return fmt.Sprintf(`(%[1]s.deleted_at IS NULL AND %[1]s.owner_id = $%[2]d
	AND ($%[3]d::uuid[] IS NULL OR %[1]s.group_id = ANY($%[3]d::uuid[])))`, alias, n, n+1)
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
