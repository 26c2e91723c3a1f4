package service

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/store"
)

// Scoped grounding: a chat, or one question, restricted to documents and groups
// its user chose. A scope only narrows: the worker searches with the user's access
// rule as always, and the scope is one more filter on top (access.DocumentScope).
//
// A scope may name only documents and groups the caller can see when they name
// them; anything else is a validation error naming the field, with the same words
// whether the thing does not exist or is not the caller's to see, so a scope
// reveals nothing about what exists. Once accepted, a scope is kept as it is: a
// document deleted or unshared since is simply never found again.

// MaxScopeIDs is the most documents, and the most groups, one scope may name.
const MaxScopeIDs = 100

// Words of scope validation errors: one message for what does not exist and for
// what the caller may not see.
const (
	noSuchDocument = "no such document"
	noSuchGroup    = "no such group"
)

// checkScope validates a scope the caller asks for and returns it with its ids in
// canonical form and without repeats; field is the request field it came in
// ("scope"). A nil scope or one naming nothing is the zero scope: no narrowing.
// Problems go to v; the error is only for failures to read.
func checkScope(ctx context.Context, st *store.Store, p access.Principal, s *Scope, field string, v *validation) (access.DocumentScope, error) {
	if s == nil {
		return access.DocumentScope{}, nil
	}
	docs := canonicalIDs(s.DocumentIDs)
	groups := canonicalIDs(s.GroupIDs)
	before := len(v.fields)
	if len(docs) > MaxScopeIDs {
		v.add(field+".document_ids", "at most %d documents", MaxScopeIDs)
	}
	if len(groups) > MaxScopeIDs {
		v.add(field+".group_ids", "at most %d groups", MaxScopeIDs)
	}
	if len(v.fields) > before {
		return access.DocumentScope{}, nil
	}
	var ids []string
	for _, d := range docs {
		if d.ok {
			ids = append(ids, d.id)
		}
	}
	visible, err := st.VisibleDocumentIDs(ctx, p, ids)
	if err != nil {
		return access.DocumentScope{}, err
	}
	var out access.DocumentScope
	for _, d := range docs {
		if !d.ok || !visible[d.id] {
			v.add(fmt.Sprintf("%s.document_ids[%d]", field, d.at), noSuchDocument)
			continue
		}
		out.DocumentIDs = append(out.DocumentIDs, d.id)
	}
	for _, g := range groups {
		// InGroup reads the groups of the caller as its credential reaches them: a
		// key limited to some groups may name only those.
		if !g.ok || !p.InGroup(g.id) {
			v.add(fmt.Sprintf("%s.group_ids[%d]", field, g.at), noSuchGroup)
			continue
		}
		out.GroupIDs = append(out.GroupIDs, g.id)
	}
	return out, nil
}

type scopeID struct {
	id string
	at int // index in the request
	ok bool
}

// canonicalIDs parses ids as UUIDs in canonical form, keeping the first of repeats.
func canonicalIDs(raw []string) []scopeID {
	seen := map[string]bool{}
	var out []scopeID
	for i, s := range raw {
		u, err := uuid.Parse(s)
		if err != nil || len(s) != 36 {
			out = append(out, scopeID{id: s, at: i})
			continue
		}
		id := u.String()
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, scopeID{id: id, at: i, ok: true})
	}
	return out
}

// CreateScopedSession starts a conversation whose questions are grounded in scope
// unless they name their own (nil: everything the caller may see).
func (c *Chat) CreateScopedSession(ctx context.Context, p access.Principal, title string, scope *Scope) (Session, error) {
	title, err := validTitle(title)
	if err != nil {
		return Session{}, err
	}
	var s store.ChatSession
	err = c.store.InTx(ctx, func(st *store.Store) error {
		var v validation
		sc, err := checkScope(ctx, st, p, scope, "scope", &v)
		if err != nil {
			return err
		}
		if err := v.err(); err != nil {
			return err
		}
		if s, err = st.CreateSession(ctx, p.UserID, title); err != nil {
			return err
		}
		if !sc.IsZero() {
			s, err = st.SetSessionScope(ctx, p.UserID, s.ID, sc)
		}
		return err
	})
	if err != nil {
		return Session{}, err
	}
	return sessionFromRow(s), nil
}

// SessionUpdate changes a session: its title, its scope, or both. A nil field is
// left as it is; ClearScope removes the scope (Scope naming nothing does too).
type SessionUpdate struct {
	Title      *string
	Scope      *Scope
	ClearScope bool
}

// UpdateSession renames the caller's session and sets or clears its scope, both
// or neither.
func (c *Chat) UpdateSession(ctx context.Context, p access.Principal, id string, u SessionUpdate) (Session, error) {
	var v validation
	var title string
	if u.Title != nil {
		t, err := validTitle(*u.Title)
		if err != nil {
			return Session{}, err
		}
		title = t
	}
	if u.Title == nil && u.Scope == nil && !u.ClearScope {
		v.add("title", "required unless scope is given")
		return Session{}, v.err()
	}
	var s store.ChatSession
	err := c.store.InTx(ctx, func(st *store.Store) error {
		var err error
		if s, err = st.GetSession(ctx, p.UserID, id); err != nil {
			return notFoundAs(err, "session")
		}
		sc, err := checkScope(ctx, st, p, u.Scope, "scope", &v)
		if err != nil {
			return err
		}
		if err := v.err(); err != nil {
			return err
		}
		if u.Title != nil {
			if s, err = st.RenameSession(ctx, p.UserID, id, title); err != nil {
				return notFoundAs(err, "session")
			}
		}
		if u.Scope != nil || u.ClearScope {
			if s, err = st.SetSessionScope(ctx, p.UserID, id, sc); err != nil {
				return notFoundAs(err, "session")
			}
		}
		return nil
	})
	if err != nil {
		return Session{}, err
	}
	return sessionFromRow(s), nil
}

// turnScope is the scope a new turn searches with: the one its request names
// (checked; naming nothing asks for no scope), else its session's.
func turnScope(ctx context.Context, st *store.Store, p access.Principal, session store.ChatSession, req *Scope) (access.DocumentScope, error) {
	if req == nil {
		return session.Scope, nil
	}
	var v validation
	sc, err := checkScope(ctx, st, p, req, "scope", &v)
	if err != nil {
		return access.DocumentScope{}, err
	}
	return sc, v.err()
}
