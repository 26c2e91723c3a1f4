// Package access holds every authorization rule of YouWorker, each once, under its
// own name: who is an administrator (RequireAdmin), who sees a document
// (DocumentPredicate for SQL, VectorFilter for the vector store), who may change
// one (CanModifyDocument, ModifyDocumentPredicate), who may share one into a group
// (CanShareWithGroup), and who may see and manage a group (CanSeeGroup,
// CanManageGroup, CanRemoveMember). A user sees a document iff they own it, or it
// is in one of their groups and is not private. Being an admin grants no access to
// other people's documents.
//
// A principal may be narrowed below its user by the credential it signed in with (a
// scoped API key, Principal.Limit): RequireScope decides what the credential may do,
// and a group limit narrows GroupIDs, which DocumentPredicate, VectorFilter and
// CanShareWithGroup then apply like every other part of the rule.
//
// A rule that refuses says how the refusal must look to the caller: ErrHidden (as if
// the thing did not exist) or ErrForbidden (the caller knows it exists). Services
// map these to their own errors, so the HTTP status of every refusal stays put.
package access

import (
	"errors"
	"slices"
)

// Principal is an authenticated user, or the platform itself (System), as the
// rules see them. The zero Principal is nobody: every rule refuses it.
type Principal struct {
	UserID  string
	Name    string
	IsAdmin bool
	// GroupIDs are the groups the user belongs to, read from Postgres on every request
	// so that membership changes take effect at once. For a principal narrowed by
	// Limit to some groups, only those of them the user still belongs to.
	GroupIDs []string
	// KeyID is the API key the request was signed in with; "" for anything else.
	KeyID string

	// limits narrow the principal below what the user may do (a scoped API key);
	// unexported so that only Limit can set them, and the zero value limits nothing.
	limits limits

	// system is unexported so that only System can carry it: no request, decoded
	// value or zero value can claim the platform's rights.
	system bool
}

// System is the platform acting on an operator's behalf: the command line, the
// bootstrap at start-up, background jobs. It passes RequireAdmin and nothing else:
// it is not a user, owns no document and belongs to no group, so the document and
// group rules refuse it like anybody else who is not a member.
var System = Principal{Name: "system", system: true}

// IsSystem reports whether p is System.
func (p Principal) IsSystem() bool { return p.system }

// IsUser reports whether p is a signed-in user: neither System nor the zero
// Principal. Callers use it to skip looking up what only users have (a role in a
// group) before asking a rule, which refuses everybody else anyway.
func (p Principal) IsUser() bool { return !p.system && p.UserID != "" }

// InGroup reports whether the principal is a member of group id.
func (p Principal) InGroup(id string) bool { return slices.Contains(p.GroupIDs, id) }

// Refusals. Every rule returns nil or one of these.
var (
	// ErrHidden refuses something the caller may not even learn exists: answer
	// exactly as for a missing one (404).
	ErrHidden = errors.New("access: hidden from the caller")
	// ErrForbidden refuses an action on something the caller already knows about,
	// for example a member who is not a group admin renaming the group (403).
	ErrForbidden = errors.New("access: forbidden to the caller")
)
