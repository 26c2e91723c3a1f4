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

// DocumentPredicate returns the SQL condition under which the principal may see the
// document row aliased as alias, with the principal's user id bound to placeholder
// $n. Group membership is read from Postgres in the same statement, so a change of
// membership takes effect on the very next query. Deleted documents are never visible.
func DocumentPredicate(alias string, n int) string {
	return fmt.Sprintf(`(%[1]s.deleted_at IS NULL AND (%[1]s.owner_id = $%[2]d OR (%[1]s.group_id IS NOT NULL AND NOT %[1]s.private
	AND %[1]s.group_id IN (SELECT m.group_id FROM memberships m WHERE m.user_id = $%[2]d))))`, alias, n)
}

// VectorFilter returns the vector-store filter for the chunks the principal may see.
// It is a pre-filter only: every hit is re-checked against Postgres before anyone
// sees it, so a stale payload can never leak. pending are documents the principal
// may see whose payloads may not mirror a recent sharing change yet: their points
// are admitted whatever their payloads say, so a grant holds at once.
func VectorFilter(p Principal, pending ...string) *qdrant.Filter {
	should := []*qdrant.Condition{qdrant.NewMatchKeyword(FieldOwner, p.UserID)}
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

// CanSee applies the rule to one document's access fields, for code that already
// holds them (for example, events of a turn that cite a document).
func CanSee(p Principal, ownerID string, groupID *string, private bool) bool {
	if ownerID == p.UserID {
		return true
	}
	return groupID != nil && !private && p.InGroup(*groupID)
}
