package access

import (
	"errors"
	"slices"
)

// Scope is a capability an API key may be limited to. A key created without
// scopes has every scope, which grants exactly what its user may do: the scope
// admin lets a key reach admin routes only while its user is an admin.
type Scope string

// The scopes; every route of the API needs one of them, or none (ScopeNone).
const (
	ScopeDocumentsRead  Scope = "documents:read"
	ScopeDocumentsWrite Scope = "documents:write"
	ScopeChat           Scope = "chat"
	ScopeAdmin          Scope = "admin"
	// ScopeFull is what routes acting on a whole account need (export it, delete
	// it): only a credential limited in no way — neither to scopes nor to groups —
	// may use them. No key is given it; a key without limits has it.
	ScopeFull Scope = "full"
	// ScopeNone is what routes every signed-in caller may use whatever their key's
	// scopes: who am I, the platform's status, the caller's own keys.
	ScopeNone Scope = ""
)

// AllScopes lists every scope a key may be given, in a stable order.
var AllScopes = []Scope{ScopeDocumentsRead, ScopeDocumentsWrite, ScopeChat, ScopeAdmin}

// ValidScope reports whether s names a scope a key may be given.
func ValidScope(s string) bool { return slices.Contains(AllScopes, Scope(s)) }

// ErrScopeDenied refuses a request its credential was not given the scope for: the
// caller chose the limit, so the answer says so (403 scope_denied) instead of
// pretending the route does not exist.
var ErrScopeDenied = errors.New("access: outside the credential's scopes")

// Limits are what a credential may do below what its user may: the scopes of an
// API key and the subset of the user's groups it reaches. The zero value limits
// nothing.
type Limits struct {
	// Scopes the credential has; nil means every scope.
	Scopes []Scope
	// GroupIDs the credential reaches; nil means all of the user's groups. A
	// credential limited to groups sees only documents in those groups, its
	// user's own included: documents of other groups, and documents in no group,
	// behave for it as if they did not exist.
	GroupIDs []string
}

type limits struct {
	scopes       []Scope
	scoped       bool
	groupLimited bool
}

// Limit narrows p to l: p.GroupIDs keeps only the groups in l.GroupIDs, and every
// rule that reads them (DocumentPredicate, VectorFilter, CanShareWithGroup, InGroup)
// applies the narrower set. Limiting twice keeps what both allow.
func (p Principal) Limit(l Limits) Principal {
	if l.Scopes != nil {
		scopes := slices.Clone(l.Scopes)
		if p.limits.scoped {
			scopes = slices.DeleteFunc(scopes, func(s Scope) bool { return !slices.Contains(p.limits.scopes, s) })
		}
		p.limits.scopes, p.limits.scoped = scopes, true
	}
	if l.GroupIDs != nil {
		groups := make([]string, 0, len(p.GroupIDs))
		for _, g := range p.GroupIDs {
			if slices.Contains(l.GroupIDs, g) {
				groups = append(groups, g)
			}
		}
		p.GroupIDs, p.limits.groupLimited = groups, true
	}
	return p
}

// GroupLimited reports whether p reaches only some of its user's groups (GroupIDs),
// so that documents in no group or in other groups are hidden from it.
func (p Principal) GroupLimited() bool { return p.limits.groupLimited }

// Scopes returns the scopes p is limited to, or nil when it has every scope.
func (p Principal) Scopes() []Scope {
	if !p.limits.scoped {
		return nil
	}
	return slices.Clone(p.limits.scopes)
}

// RequireScope admits a principal whose credential has scope s (everybody for
// ScopeNone). It decides only what the credential allows: the rules of the route
// (RequireAdmin for ScopeAdmin, the document rules) still decide what the user may.
func RequireScope(p Principal, s Scope) error {
	if s == ScopeFull {
		if p.limits.scoped || p.limits.groupLimited {
			return ErrScopeDenied
		}
		return nil
	}
	if s == ScopeNone || !p.limits.scoped || slices.Contains(p.limits.scopes, s) {
		return nil
	}
	return ErrScopeDenied
}
