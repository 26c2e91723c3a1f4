package access

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The principals every rule is tried with.
var (
	zero     = Principal{}
	owner    = Principal{UserID: "u1", Name: "owner", GroupIDs: []string{"g1"}}
	member   = Principal{UserID: "u2", Name: "member", GroupIDs: []string{"g1"}}
	stranger = Principal{UserID: "u3", Name: "stranger", GroupIDs: []string{"g2"}}
	admin    = Principal{UserID: "u9", Name: "admin", IsAdmin: true}
	// adminNoID claims admin rights without being anybody: it must get nothing.
	adminNoID = Principal{Name: "admin", IsAdmin: true}
)

func TestSystemIsOnlyTheSystemValue(t *testing.T) {
	t.Parallel()
	require.True(t, System.IsSystem())
	require.False(t, System.IsUser())
	require.False(t, zero.IsSystem(), "the zero principal is nobody, never the system")
	require.False(t, zero.IsUser())
	require.False(t, adminNoID.IsUser())
	require.True(t, owner.IsUser())
	copied := System
	copied.UserID, copied.IsAdmin = "u1", true
	require.False(t, copied.IsUser(), "a copy of System with a user id is still the system, not that user")
}

func TestRequireAdmin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		p    Principal
		want error
	}{
		{"system", System, nil},
		{"admin", admin, nil},
		{"zero principal", zero, ErrHidden},
		{"admin flag without a user", adminNoID, ErrHidden},
		{"user", owner, ErrHidden},
		{"group member", member, ErrHidden},
	}
	for _, c := range cases {
		requireRule(t, RequireAdmin(c.p), c.want, c.name)
	}
}

func TestCanModifyDocument(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		p       Principal
		ownerID string
		want    error
	}{
		{"owner", owner, "u1", nil},
		{"member of the document's group", member, "u1", ErrHidden},
		{"stranger", stranger, "u1", ErrHidden},
		{"admin gets nothing from being admin", admin, "u1", ErrHidden},
		{"system owns nothing", System, "u1", ErrHidden},
		{"zero principal", zero, "u1", ErrHidden},
		{"zero principal, ownerless row", zero, "", ErrHidden},
		{"system, ownerless row", System, "", ErrHidden},
	}
	for _, c := range cases {
		requireRule(t, CanModifyDocument(c.p, c.ownerID), c.want, c.name)
	}
}

func TestCanShareWithGroup(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		p     Principal
		group string
		want  error
	}{
		{"member", member, "g1", nil},
		{"not a member", stranger, "g1", ErrHidden},
		{"admin gets nothing from being admin", admin, "g1", ErrHidden},
		{"system", System, "g1", ErrHidden},
		{"zero principal", zero, "g1", ErrHidden},
		{"zero principal, empty group", zero, "", ErrHidden},
	}
	for _, c := range cases {
		requireRule(t, CanShareWithGroup(c.p, c.group), c.want, c.name)
	}
}

func TestGroupRules(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name           string
		p              Principal
		role           string // the principal's role in the group
		see, manage    error
		removeOther    error // remove somebody else ("u7")
		removeThemself error
	}{
		{"group admin", member, GroupAdmin, nil, nil, nil, nil},
		{"group member", member, GroupMember, nil, ErrForbidden, ErrForbidden, nil},
		{"not a member", stranger, "", ErrHidden, ErrHidden, ErrHidden, ErrHidden},
		{"unknown role", member, "owner", ErrHidden, ErrHidden, ErrHidden, ErrHidden},
		{"platform admin, not a member", admin, "", ErrHidden, ErrHidden, ErrHidden, ErrHidden},
		{"system", System, "", ErrHidden, ErrHidden, ErrHidden, ErrHidden},
		{"system claiming a role", System, GroupAdmin, ErrHidden, ErrHidden, ErrHidden, ErrHidden},
		{"zero principal claiming a role", zero, GroupAdmin, ErrHidden, ErrHidden, ErrHidden, ErrHidden},
	}
	for _, c := range cases {
		requireRule(t, CanSeeGroup(c.p, c.role), c.see, c.name+": see")
		requireRule(t, CanManageGroup(c.p, c.role), c.manage, c.name+": manage")
		requireRule(t, CanRemoveMember(c.p, c.role, "u7"), c.removeOther, c.name+": remove another")
		requireRule(t, CanRemoveMember(c.p, c.role, c.p.UserID), c.removeThemself, c.name+": leave")
	}
}

func TestVectorFilterShape(t *testing.T) {
	t.Parallel()
	f := VectorFilter(Principal{UserID: "u1"})
	require.Len(t, f.Should, 1, "without groups only ownership matches")
	f = VectorFilter(Principal{UserID: "u1", GroupIDs: []string{"a", "b"}}, "d1")
	require.Len(t, f.Should, 3)
	require.Equal(t, []string{"d1"}, f.Should[1].GetField().Match.GetKeywords().Strings)
	inner := f.Should[2].GetFilter()
	require.Len(t, inner.Must, 2)
	require.Equal(t, FieldGroup, inner.Must[0].GetField().Key)
	require.Equal(t, []string{"a", "b"}, inner.Must[0].GetField().Match.GetKeywords().Strings)
	require.False(t, inner.Must[1].GetField().Match.GetBoolean())
}

func TestVectorFilterAdmitsNothingToNonUsers(t *testing.T) {
	t.Parallel()
	for _, p := range []Principal{System, zero, {GroupIDs: []string{"g1"}}} {
		f := VectorFilter(p, "d1")
		require.Len(t, f.Should, 1, "neither pending documents nor groups for %+v", p)
		require.Equal(t, FieldOwner, f.Should[0].GetField().Key)
		require.Empty(t, f.Should[0].GetField().Match.GetKeyword(), "no owner id: no point has it")
	}
}

// requireRule checks what a rule answered: nil, or exactly the refusal wanted.
func requireRule(t *testing.T, got, want error, name string) {
	t.Helper()
	if want == nil {
		require.NoError(t, got, name)
		return
	}
	require.ErrorIs(t, got, want, name)
}

func TestLimitNarrowsGroupsAndScopes(t *testing.T) {
	t.Parallel()
	p := Principal{UserID: "u1", GroupIDs: []string{"g1", "g2"}}
	require.False(t, p.GroupLimited())
	require.Nil(t, p.Scopes(), "no limit: every scope")

	l := p.Limit(Limits{GroupIDs: []string{"g2", "g9"}})
	require.True(t, l.GroupLimited())
	require.Equal(t, []string{"g2"}, l.GroupIDs, "a key never reaches a group its user is not in")
	require.True(t, l.InGroup("g2"))
	require.False(t, l.InGroup("g1"))
	requireRule(t, CanShareWithGroup(l, "g1"), ErrHidden, "a limited key cannot share into a group outside its limit")
	require.Equal(t, []string{"g1", "g2"}, p.GroupIDs, "Limit returns a narrowed copy")

	none := p.Limit(Limits{GroupIDs: []string{}})
	require.True(t, none.GroupLimited(), "an empty list is a limit, not the absence of one")
	require.Empty(t, none.GroupIDs)
	require.Equal(t, []string{}, DocumentArgs(none)[1], "limited to no group binds an empty array, never NULL")
	require.Nil(t, DocumentArgs(p)[1], "no limit binds NULL")

	s := p.Limit(Limits{Scopes: []Scope{ScopeDocumentsRead, ScopeChat}})
	require.Equal(t, []Scope{ScopeDocumentsRead, ScopeChat}, s.Scopes())
	require.False(t, s.GroupLimited())
	twice := s.Limit(Limits{Scopes: []Scope{ScopeChat, ScopeAdmin}})
	require.Equal(t, []Scope{ScopeChat}, twice.Scopes(), "limiting again keeps what both allow")
}

func TestRequireScope(t *testing.T) {
	t.Parallel()
	reader := owner.Limit(Limits{Scopes: []Scope{ScopeDocumentsRead}})
	nothing := owner.Limit(Limits{Scopes: []Scope{}})
	cases := []struct {
		name  string
		p     Principal
		scope Scope
		want  error
	}{
		{"unlimited key, any scope", owner, ScopeAdmin, nil},
		{"unlimited key, no scope needed", owner, ScopeNone, nil},
		{"reader reads", reader, ScopeDocumentsRead, nil},
		{"reader writes", reader, ScopeDocumentsWrite, ErrScopeDenied},
		{"reader chats", reader, ScopeChat, ErrScopeDenied},
		{"reader administers", reader, ScopeAdmin, ErrScopeDenied},
		{"reader, no scope needed", reader, ScopeNone, nil},
		{"no scopes at all", nothing, ScopeDocumentsRead, ErrScopeDenied},
		{"no scopes, no scope needed", nothing, ScopeNone, nil},
	}
	for _, c := range cases {
		requireRule(t, RequireScope(c.p, c.scope), c.want, c.name)
	}
	requireRule(t, RequireAdmin(owner.Limit(Limits{Scopes: []Scope{ScopeAdmin}})), ErrHidden, "the admin scope makes nobody an admin")
}

func TestVectorFilterOfALimitedPrincipal(t *testing.T) {
	t.Parallel()
	p := Principal{UserID: "u1", GroupIDs: []string{"a", "b"}}.Limit(Limits{GroupIDs: []string{"b"}})
	f := VectorFilter(p, "d1")
	require.Len(t, f.Should, 3)
	own := f.Should[0].GetFilter()
	require.NotNil(t, own, "the key's own documents only within its groups")
	require.Len(t, own.Must, 2)
	require.Equal(t, FieldOwner, own.Must[0].GetField().Key)
	require.Equal(t, FieldGroup, own.Must[1].GetField().Key)
	require.Equal(t, []string{"b"}, own.Must[1].GetField().Match.GetKeywords().Strings)
	require.Equal(t, []string{"d1"}, f.Should[1].GetField().Match.GetKeywords().Strings)
	require.Equal(t, []string{"b"}, f.Should[2].GetFilter().Must[0].GetField().Match.GetKeywords().Strings)

	none := Principal{UserID: "u1", GroupIDs: []string{"a"}}.Limit(Limits{GroupIDs: []string{"z"}})
	f = VectorFilter(none)
	require.Len(t, f.Should, 1, "limited to no group of the user: nothing")
	require.Empty(t, f.Should[0].GetField().Match.GetKeyword())
}
