package service

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/store"
)

// identityFixture is the identity service next to the group and user services, on
// a rolled-back transaction.
type identityFixture struct {
	*groupsFixture
	ids *Identities
}

func newIdentityFixture(t *testing.T, cfg IdentityConfig) *identityFixture {
	t.Helper()
	g := newGroupsFixture(t)
	return &identityFixture{groupsFixture: g, ids: NewIdentities(g.store, NewAuditor(g.store, logging.Discard()), cfg, logging.Discard())}
}

func oidcPerson(subject, username, email string, groups ...string) ExternalIdentity {
	return ExternalIdentity{Source: SourceOIDC, Issuer: "https://idp.example", Subject: subject, Username: username,
		Email: email, Groups: groups, SyncGroups: true}
}

// groupNames lists the names of the groups p belongs to, as the next request sees them.
func (f *identityFixture) groupNames(t *testing.T, p access.Principal) []string {
	t.Helper()
	rows, err := f.store.GroupsOf(context.Background(), p.UserID)
	require.NoError(t, err)
	var names []string
	for _, g := range rows {
		names = append(names, g.Name)
	}
	return names
}

func (f *identityFixture) auditActions(t *testing.T, action string) []store.AuditEntry {
	t.Helper()
	entries, err := f.store.ListAudit(context.Background(), store.AuditFilter{Action: action, Limit: 100})
	require.NoError(t, err)
	return entries
}

func TestSignInLinksBySubjectOnly(t *testing.T) {
	t.Parallel()
	f := newIdentityFixture(t, IdentityConfig{})
	ctx := context.Background()
	admin := f.user(t, "alice") // a user made by hand, with the same name

	first, err := f.ids.SignIn(ctx, oidcPerson("sub-1", "alice", "alice@corp.example"))
	require.NoError(t, err)
	require.NotEqual(t, admin.UserID, first.UserID, "a new subject never takes over an existing user by name")
	require.Equal(t, "alice-2", first.Name)
	require.False(t, first.IsAdmin)

	// The provider renames the person and changes their address: still the same user.
	again, err := f.ids.SignIn(ctx, oidcPerson("sub-1", "alice.smith", "asmith@corp.example"))
	require.NoError(t, err)
	require.Equal(t, first.UserID, again.UserID)

	// Another subject with the first one's address is somebody else.
	other, err := f.ids.SignIn(ctx, oidcPerson("sub-2", "", "alice@corp.example"))
	require.NoError(t, err)
	require.NotEqual(t, first.UserID, other.UserID)
	require.Equal(t, "alice-3", other.Name, "named after the e-mail's local part when there is no user name")

	// The same subject at another issuer is another person too.
	elsewhere := oidcPerson("sub-1", "alice", "alice@corp.example")
	elsewhere.Issuer = "https://other-idp.example"
	third, err := f.ids.SignIn(ctx, elsewhere)
	require.NoError(t, err)
	require.NotEqual(t, first.UserID, third.UserID)

	require.Len(t, f.auditActions(t, "user.provision"), 3)
}

func TestUserNamesFitTheRules(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Jane Doe": "Jane-Doe", "josé": "jos", "..x..": "x", "a/b\\c": "a-b-c", "": "", "!!!": "",
		"averyveryveryveryveryveryveryveryveryveryveryveryverylongname": "averyveryveryveryveryveryveryveryveryveryveryveryveryl",
	} {
		require.Equal(t, want, userNameFrom(in), in)
	}
	f := newIdentityFixture(t, IdentityConfig{})
	p, err := f.ids.SignIn(context.Background(), oidcPerson("sub-x", "!!!", ""))
	require.NoError(t, err)
	require.Equal(t, "user", p.Name)
}

func TestEmailDomainAndVerification(t *testing.T) {
	t.Parallel()
	f := newIdentityFixture(t, IdentityConfig{AllowedDomains: []string{"Corp.Example", "@lab.example"}})
	ctx := context.Background()
	no := false
	cases := map[string]struct {
		email    string
		verified *bool
		source   string
		code     Code
	}{
		"allowed":             {"ann@corp.example", nil, SourceOIDC, ""},
		"allowed, any case":   {"Ben@CORP.example", nil, SourceOIDC, ""},
		"second domain":       {"cy@lab.example", nil, SourceOIDC, ""},
		"subdomain":           {"dee@eu.corp.example", nil, SourceOIDC, CodeEmailDomain},
		"lookalike":           {"eve@corp.example.evil", nil, SourceOIDC, CodeEmailDomain},
		"no e-mail":           {"", nil, SourceOIDC, CodeEmailDomain},
		"unverified":          {"fay@corp.example", &no, SourceOIDC, CodeEmailUnverified},
		"proxy: its own rule": {"gus@elsewhere.example", nil, SourceProxy, ""},
	}
	for name, tc := range cases {
		id := oidcPerson("sub-"+name, "", tc.email)
		id.EmailVerified, id.Source = tc.verified, tc.source
		_, err := f.ids.SignIn(ctx, id)
		require.Equal(t, tc.code, ErrorCode(err), name)
	}
	_, err := f.ids.SignIn(ctx, ExternalIdentity{Source: SourceOIDC, Issuer: "https://idp.example", Email: "ann@corp.example"})
	require.Equal(t, CodeUnauthenticated, ErrorCode(err), "no subject, no sign-in")
}

func TestGroupSyncAddsAndRemovesManagedMemberships(t *testing.T) {
	t.Parallel()
	f := newIdentityFixture(t, IdentityConfig{GroupPrefix: "sso-"})
	ctx := context.Background()
	owner := f.user(t, "owner")
	handMade, err := f.groups.Create(ctx, owner, "sso-finance", nil)
	require.NoError(t, err)

	p, err := f.ids.SignIn(ctx, oidcPerson("sub-1", "dana", "dana@corp.example", "research", "ops", " ", "finance", "Research"))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"sso-ops", "sso-research"}, f.groupNames(t, p),
		"prefixed; the hand-made group of the same name is left alone; blanks and duplicates dropped")
	require.Len(t, p.GroupIDs, 2, "the principal carries the synced groups at once")
	require.Len(t, f.auditActions(t, "group.sync_create"), 2)
	require.Len(t, f.auditActions(t, "member.sync_add"), 2)
	skipped := f.auditActions(t, "group.sync_skip")
	require.Len(t, skipped, 1)
	require.Equal(t, handMade.ID, skipped[0].TargetID)
	members, err := f.store.Members(ctx, handMade.ID)
	require.NoError(t, err)
	require.Len(t, members, 1, "the provider did not join the hand-made group")

	// Another person in research joins the same group.
	q, err := f.ids.SignIn(ctx, oidcPerson("sub-2", "eli", "eli@corp.example", "research"))
	require.NoError(t, err)
	require.Equal(t, []string{"sso-research"}, f.groupNames(t, q))
	require.Len(t, f.auditActions(t, "group.sync_create"), 2, "an existing managed group is reused")

	// Dana leaves ops at the provider; a membership made by hand stays.
	research := groupID(t, f, p, "sso-research")
	mine, err := f.groups.Create(ctx, p, "dana's notes", nil)
	require.NoError(t, err)
	p, err = f.ids.SignIn(ctx, oidcPerson("sub-1", "dana", "dana@corp.example", "research"))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"sso-research", "dana's notes"}, f.groupNames(t, p))
	require.Len(t, f.auditActions(t, "member.sync_remove"), 1)
	require.Contains(t, p.GroupIDs, mine.ID)

	// A provider that stops speaking of groups changes nothing; an empty claim ends them all.
	silent := oidcPerson("sub-1", "dana", "dana@corp.example")
	silent.SyncGroups = false
	p, err = f.ids.SignIn(ctx, silent)
	require.NoError(t, err)
	require.Contains(t, p.GroupIDs, research)
	p, err = f.ids.SignIn(ctx, oidcPerson("sub-1", "dana", "dana@corp.example"))
	require.NoError(t, err)
	require.Equal(t, []string{"dana's notes"}, f.groupNames(t, p))
	require.Len(t, f.auditActions(t, "member.sync_remove"), 2)

	// The managed group outlives its members' departures: documents shared with it stay.
	g, err := f.store.GroupByName(ctx, "sso-research")
	require.NoError(t, err)
	require.Equal(t, SourceOIDC, g.ManagedBy)
}

func groupID(t *testing.T, f *identityFixture, p access.Principal, name string) string {
	t.Helper()
	rows, err := f.store.GroupsOf(context.Background(), p.UserID)
	require.NoError(t, err)
	for _, g := range rows {
		if g.Name == name {
			return g.ID
		}
	}
	t.Fatalf("%s is not in %s", p.Name, name)
	return ""
}

func TestManagedGroupsCannotBeEditedByHand(t *testing.T) {
	t.Parallel()
	f := newIdentityFixture(t, IdentityConfig{})
	ctx := context.Background()
	p, err := f.ids.SignIn(ctx, oidcPerson("sub-1", "fred", "fred@corp.example", "research"))
	require.NoError(t, err)
	outsider := f.user(t, "outsider")
	gid := groupID(t, f, p, "research")

	view, err := f.groups.Get(ctx, p, gid)
	require.NoError(t, err)
	require.True(t, view.Managed)
	require.Equal(t, store.RoleMember, view.Role)

	name := "renamed"
	outsiderName := "outsider"
	for what, try := range map[string]func() error{
		"rename": func() error { _, err := f.groups.Update(ctx, p, gid, GroupChange{Name: &name}); return err },
		"delete": func() error { return f.groups.Delete(ctx, p, gid) },
		"add": func() error {
			_, err := f.groups.AddMember(ctx, p, gid, MemberRequest{Name: &outsiderName})
			return err
		},
		"role":  func() error { _, err := f.groups.SetRole(ctx, p, gid, p.UserID, store.RoleAdmin); return err },
		"leave": func() error { return f.groups.RemoveMember(ctx, p, gid, p.UserID) },
	} {
		err := try()
		require.Equal(t, CodeManaged, ErrorCode(err), what)
		require.Contains(t, err.Error(), "identity provider", what)
	}
	// Somebody outside learns nothing: the group does not exist for them.
	err = f.groups.Delete(ctx, outsider, gid)
	require.Equal(t, CodeNotFound, ErrorCode(err))
	require.Equal(t, []string{"research"}, f.groupNames(t, p))
	require.NotEmpty(t, f.auditActions(t, "member.leave"), "refusals are audited")
}

// Two first sign-ins of the same person at once end with one user and one link,
// and two people creating the same group at once end with one group.
func TestConcurrentFirstSignIns(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	ids := NewIdentities(st, NewAuditor(st, logging.Discard()), IdentityConfig{}, logging.Discard())
	ctx := context.Background()
	const n = 6
	users := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			subject := "same-person"
			if i%2 == 1 {
				subject = "person-" + string(rune('a'+i))
			}
			p, err := ids.SignIn(ctx, oidcPerson(subject, "pat", "pat@corp.example", "shared-group"))
			users[i], errs[i] = p.UserID, err
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, i)
	}
	for i := 2; i < n; i += 2 {
		require.Equal(t, users[0], users[i], "one user for one subject")
	}
	var groups, members int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM groups WHERE name = 'shared-group'`).Scan(&groups))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM memberships m JOIN groups g ON g.id = m.group_id WHERE g.name = 'shared-group'`).Scan(&members))
	require.Equal(t, 1, groups)
	require.Equal(t, 1+n/2, members)
}
