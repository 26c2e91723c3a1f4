// Package access decides who may see what. A Principal yields the SQL predicate for
// documents and the vector filter for chunks, so the rule lives in exactly one place:
// a user sees a document iff they own it, or it is in one of their groups and is not
// private. Being an admin grants no access to other people's documents.
package access

import "slices"

// Principal is an authenticated user as the authorization rule sees them.
type Principal struct {
	UserID  string
	Name    string
	IsAdmin bool
	// GroupIDs are the groups the user belongs to, read from Postgres on every request
	// so that membership changes take effect at once.
	GroupIDs []string
}

// InGroup reports whether the principal is a member of group id.
func (p Principal) InGroup(id string) bool { return slices.Contains(p.GroupIDs, id) }
