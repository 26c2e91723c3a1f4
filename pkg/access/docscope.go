package access

import (
	"slices"

	"github.com/qdrant/go-client/qdrant"
)

// DocumentScope is what a user chose to ground a chat in: some documents and some
// groups. It narrows a search and never widens it: a passage is found only when the
// access rule admits it (VectorFilter, then DocumentPredicate on every hit) and,
// besides, the scope does. The zero DocumentScope narrows nothing.
//
// A scope holds ids as they were chosen, checked against what the user could see
// then; a document deleted or unshared since stays in the scope and is simply never
// found again. So the scope's own checks below never decide visibility: they only
// drop what the user did not choose.
type DocumentScope struct {
	DocumentIDs []string
	GroupIDs    []string
}

// IsZero reports whether the scope narrows nothing.
func (s DocumentScope) IsZero() bool { return len(s.DocumentIDs) == 0 && len(s.GroupIDs) == 0 }

// VectorCondition is the scope as a vector-store condition, to be added as a Must
// beside the access filter (never in place of it): a point of a chosen document, or
// of a document in a chosen group. pending are documents whose payloads may not
// mirror a recent sharing change yet (store.PendingACLDocuments): with groups in the
// scope they are admitted whatever group their payloads name, and Admits decides on
// the group Postgres has. nil when the scope narrows nothing.
func (s DocumentScope) VectorCondition(pending ...string) *qdrant.Condition {
	if s.IsZero() {
		return nil
	}
	var should []*qdrant.Condition
	if len(s.DocumentIDs) > 0 {
		should = append(should, qdrant.NewMatchKeywords(FieldDocument, s.DocumentIDs...))
	}
	if len(s.GroupIDs) > 0 {
		should = append(should, qdrant.NewMatchKeywords(FieldGroup, s.GroupIDs...))
		if len(pending) > 0 {
			should = append(should, qdrant.NewMatchKeywords(FieldDocument, pending...))
		}
	}
	return qdrant.NewFilterAsCondition(&qdrant.Filter{Should: should})
}

// Admits reports whether a hit the access rule already admitted is within the
// scope: its document was chosen, or it is in a chosen group (groupID as Postgres
// has it now, nil for a document in no group). The zero scope admits everything.
func (s DocumentScope) Admits(documentID string, groupID *string) bool {
	if s.IsZero() {
		return true
	}
	return slices.Contains(s.DocumentIDs, documentID) || groupID != nil && slices.Contains(s.GroupIDs, *groupID)
}
