package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/store"
)

// Sign-in sources: where a person's identity comes from besides API keys. They are
// also what memberships and groups the group sync made are marked with.
const (
	SourceOIDC  = "oidc"
	SourceProxy = "proxy"
)

// ProxyIssuer is the issuer of the identities a trusted proxy vouches for: the
// proxy's user header is their subject.
const ProxyIssuer = "trusted-proxy"

// Refusals of a sign-in by the identity rules.
const (
	// CodeEmailDomain: the provider's e-mail address is outside the allowed domains.
	CodeEmailDomain Code = "email_domain_not_allowed"
	// CodeEmailUnverified: the provider says it has not verified the address.
	CodeEmailUnverified Code = "email_not_verified"
	// CodeManaged: a group the identity provider owns cannot be changed by hand.
	CodeManaged Code = "managed_by_provider"
)

// maxSyncedGroups bounds the groups one sign-in syncs, so a runaway claim cannot
// turn a sign-in into thousands of writes.
const maxSyncedGroups = 500

// ExternalIdentity is a person as an identity provider (or a trusted proxy)
// presents them at sign-in.
type ExternalIdentity struct {
	// Source is SourceOIDC or SourceProxy.
	Source string
	// Issuer and Subject are the provider's stable id of the person; the link to a
	// user is made on them alone.
	Issuer  string
	Subject string
	Email   string
	// EmailVerified is the provider's email_verified claim; nil when not sent.
	EmailVerified *bool
	// Username is what a new user is named after (preferred_username, the proxy's
	// user header), made to fit the user name rules; the e-mail's local part next.
	Username string
	// Groups are the provider's groups for the person. SyncGroups says whether the
	// provider speaks about groups at all: when false, memberships stay as they are.
	Groups     []string
	SyncGroups bool
}

// IdentityConfig configures sign-in through an identity provider.
type IdentityConfig struct {
	// AllowedDomains are the e-mail domains OIDC sign-ins may come from; empty
	// allows every domain. When set, an address the provider marks unverified is
	// refused too.
	AllowedDomains []string
	// GroupPrefix goes before every group name of the provider's claim, so synced
	// groups cannot take the name of a group made by hand.
	GroupPrefix string
}

// Identities signs in people an identity provider vouches for: it provisions their
// user on first sign-in and syncs their groups on every one.
//
// The link from the provider to the user is (issuer, subject) and nothing else. A
// subject seen for the first time always gets a new user, named after its user name
// or e-mail (with a number added on a clash): an existing user is never taken over
// because an address or a name matches, since whoever controls an address or
// picks a name at the provider would otherwise inherit somebody's documents.
type Identities struct {
	store  *store.Store
	audit  *Auditor
	cfg    IdentityConfig
	logger *slog.Logger
}

// NewIdentities returns the identity service.
func NewIdentities(st *store.Store, audit *Auditor, cfg IdentityConfig, logger *slog.Logger) *Identities {
	domains := make([]string, 0, len(cfg.AllowedDomains))
	for _, d := range cfg.AllowedDomains {
		domains = append(domains, strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@")))
	}
	cfg.AllowedDomains = domains
	return &Identities{store: st, audit: audit, cfg: cfg, logger: logger.With("component", "identity")}
}

// SignIn admits a person the provider vouches for and returns them as a principal
// with their groups after the sync. Everything happens in one transaction: the
// user, the link, the memberships and their audit entries are there together or
// not at all.
func (s *Identities) SignIn(ctx context.Context, id ExternalIdentity) (access.Principal, error) {
	if err := s.admit(id); err != nil {
		return access.Principal{}, err
	}
	var p access.Principal
	var err error
	// New users and groups are made under a lock (store.LockProvisioning); what can
	// still clash, a group made by hand at the same moment, rolls back, and the next
	// attempt finds what the other made.
	for attempt := 0; attempt < 3; attempt++ {
		p, err = s.signInOnce(ctx, id)
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil {
		return access.Principal{}, fmt.Errorf("sign in: %w", err)
	}
	return p, nil
}

// admit applies the rules that need no database: a subject, and an e-mail in an
// allowed domain that the provider has not marked unverified.
func (s *Identities) admit(id ExternalIdentity) error {
	if id.Subject == "" || len(id.Subject) > 255 || id.Issuer == "" || len(id.Issuer) > 1000 {
		return Errorf(CodeUnauthenticated, "the identity provider did not say who you are")
	}
	if id.Source != SourceOIDC || len(s.cfg.AllowedDomains) == 0 {
		return nil
	}
	at := strings.LastIndexByte(id.Email, '@')
	domain := strings.ToLower(id.Email[at+1:])
	if at < 1 || !slices.Contains(s.cfg.AllowedDomains, domain) {
		return Errorf(CodeEmailDomain, "your e-mail address is not in a domain allowed to sign in here")
	}
	if id.EmailVerified != nil && !*id.EmailVerified {
		return Errorf(CodeEmailUnverified, "your identity provider has not verified your e-mail address")
	}
	return nil
}

func (s *Identities) signInOnce(ctx context.Context, id ExternalIdentity) (access.Principal, error) {
	var user store.User
	err := s.store.InTx(ctx, func(st *store.Store) error {
		userID, err := st.IdentityUser(ctx, id.Issuer, id.Subject)
		if errors.Is(err, store.ErrNotFound) {
			// Look again once no other sign-in can be provisioning this person.
			if err := st.LockProvisioning(ctx); err != nil {
				return err
			}
			userID, err = st.IdentityUser(ctx, id.Issuer, id.Subject)
		}
		switch {
		case err == nil:
			if user, err = st.GetUser(ctx, userID); err != nil {
				return err
			}
			if err := st.TouchIdentity(ctx, id.Issuer, id.Subject, id.Email); err != nil {
				return err
			}
		case errors.Is(err, store.ErrNotFound):
			if user, err = s.provision(ctx, st, id); err != nil {
				return err
			}
		default:
			return err
		}
		if id.SyncGroups {
			return s.syncGroups(ctx, st, user, id)
		}
		return nil
	})
	if err != nil {
		return access.Principal{}, err
	}
	return s.principalOf(ctx, user)
}

// provision creates the user of a subject seen for the first time and links it.
func (s *Identities) provision(ctx context.Context, st *store.Store, id ExternalIdentity) (store.User, error) {
	name, err := freeUserName(ctx, st, id)
	if err != nil {
		return store.User{}, err
	}
	user, err := st.CreateUser(ctx, name, false)
	if err != nil {
		return store.User{}, err
	}
	if err := st.LinkIdentity(ctx, id.Issuer, id.Subject, user.ID, id.Email); err != nil {
		return store.User{}, err
	}
	s.audit.Record(ctx, st, actorOf(user), "user.provision", "user", user.ID, OutcomeSuccess,
		map[string]any{"name": name, "source": id.Source, "issuer": id.Issuer, "subject": id.Subject})
	return user, nil
}

// freeUserName picks the name of a new user: the provider's user name, else the
// e-mail's local part, made to fit the user name rules, with -2, -3, ... added
// while taken.
func freeUserName(ctx context.Context, st *store.Store, id ExternalIdentity) (string, error) {
	base := ""
	for _, candidate := range []string{id.Username, id.Email} {
		if at := strings.IndexByte(candidate, '@'); at >= 0 {
			candidate = candidate[:at]
		}
		if base = userNameFrom(candidate); base != "" {
			break
		}
	}
	if base == "" {
		base = "user"
	}
	for n := 1; n <= 50; n++ {
		name := base
		if n > 1 {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		taken, err := st.UserNameTaken(ctx, name)
		if err != nil {
			return "", err
		}
		if !taken {
			return name, nil
		}
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return base + "-" + hex.EncodeToString(b), nil
}

// userNameFrom keeps the letters, digits, '.', '_' and '-' of s, turning runs of
// anything else into one '-', within 54 characters so a suffix still fits in 64.
func userNameFrom(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		ok := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
		switch {
		case ok:
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 54 {
			break
		}
	}
	return strings.Trim(b.String(), "-.")
}

// syncGroups makes the user's memberships made by this source's sync match the
// provider's groups: a group missing here is created (marked managed), a membership
// missing is added, one the provider no longer lists is removed. A group of the
// same name made by hand is left alone, and the refusal audited: the provider must
// not take over a group somebody else admins.
//
// Access needs nothing more: who sees a document is decided from the memberships in
// Postgres on every request, and the vector payloads carry the document's group,
// not its members, so no payload changes and the next request obeys the new
// memberships (see access.DocumentPredicate and access.VectorFilter).
func (s *Identities) syncGroups(ctx context.Context, st *store.Store, user store.User, id ExternalIdentity) error {
	actor := actorOf(user)
	want := map[string]string{} // lower-case name -> name
	for _, g := range id.Groups {
		var v validation
		name := checkGroupName(&v, s.cfg.GroupPrefix+strings.TrimSpace(g))
		if strings.TrimSpace(g) == "" || v.err() != nil {
			s.logger.WarnContext(ctx, "a group of the identity provider cannot be a group name here; skipped", "user_id", user.ID)
			continue
		}
		if len(want) == maxSyncedGroups {
			s.logger.WarnContext(ctx, "the identity provider lists too many groups; the rest are skipped", "user_id", user.ID, "max", maxSyncedGroups)
			break
		}
		if _, dup := want[strings.ToLower(name)]; !dup {
			want[strings.ToLower(name)] = name
		}
	}
	current, err := st.ManagedMembershipsOf(ctx, user.ID, id.Source)
	if err != nil {
		return err
	}
	have := map[string]store.GroupRef{}
	for _, g := range current {
		have[strings.ToLower(g.Name)] = g
	}
	type change struct {
		group store.GroupRef
		add   bool
	}
	var changes []change
	for lower, name := range want {
		if _, ok := have[lower]; ok {
			continue
		}
		g, err := st.GroupByName(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			// Look again once no other sign-in can be creating it.
			if err := st.LockProvisioning(ctx); err != nil {
				return err
			}
			g, err = st.GroupByName(ctx, name)
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			gid, err := st.InsertManagedGroup(ctx, name, "", id.Source)
			if err != nil {
				return err
			}
			g = store.GroupRef{ID: gid, Name: name, ManagedBy: id.Source}
			s.audit.Record(ctx, st, actor, "group.sync_create", "group", gid, OutcomeSuccess,
				map[string]any{"name": name, "source": id.Source})
		case err != nil:
			return err
		case g.ManagedBy == "":
			s.logger.WarnContext(ctx, "a group made by hand has the name of a provider group; not synced", "group_id", g.ID, "user_id", user.ID)
			s.audit.Record(ctx, st, actor, "group.sync_skip", "group", g.ID, OutcomeDenied,
				map[string]any{"name": g.Name, "source": id.Source, "reason": "a group of this name was made by hand"})
			continue
		}
		changes = append(changes, change{group: g, add: true})
	}
	for lower, g := range have {
		if _, ok := want[lower]; !ok {
			changes = append(changes, change{group: g})
		}
	}
	// Locks in one order, so two sign-ins touching the same groups cannot deadlock.
	slices.SortFunc(changes, func(a, b change) int { return strings.Compare(a.group.ID, b.group.ID) })
	for _, c := range changes {
		if err := st.LockGroup(ctx, c.group.ID); errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		} else if err != nil {
			return err
		}
		details := map[string]any{"user_id": user.ID, "name": user.Name, "group": c.group.Name, "source": id.Source}
		if c.add {
			added, err := st.AddManagedMember(ctx, c.group.ID, user.ID, id.Source)
			if err != nil {
				return err
			}
			if added {
				s.audit.Record(ctx, st, actor, "member.sync_add", "group", c.group.ID, OutcomeSuccess, details)
			}
			continue
		}
		removed, err := st.RemoveManagedMember(ctx, c.group.ID, user.ID, id.Source)
		if err != nil {
			return err
		}
		if removed {
			s.audit.Record(ctx, st, actor, "member.sync_remove", "group", c.group.ID, OutcomeSuccess, details)
		}
	}
	return nil
}

// Principal returns user userID as a principal with their current groups (a proxy
// sign-in already synced this process).
func (s *Identities) Principal(ctx context.Context, userID string) (access.Principal, error) {
	user, err := s.store.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return access.Principal{}, Errorf(CodeUnauthenticated, "this user no longer exists")
	}
	if err != nil {
		return access.Principal{}, err
	}
	return s.principalOf(ctx, user)
}

// SessionPrincipal returns the user of a web session that carries no API key (one
// opened through the identity provider), while the session lasts.
func (s *Identities) SessionPrincipal(ctx context.Context, sessionID, userID string) (access.Principal, error) {
	user, err := s.store.WebSessionUser(ctx, sessionID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return access.Principal{}, Errorf(CodeUnauthenticated, "this session has ended; sign in again")
	}
	if err != nil {
		return access.Principal{}, err
	}
	return s.principalOf(ctx, user)
}

func (s *Identities) principalOf(ctx context.Context, user store.User) (access.Principal, error) {
	groups, err := s.store.GroupIDsOf(ctx, user.ID)
	if err != nil {
		return access.Principal{}, err
	}
	return access.Principal{UserID: user.ID, Name: user.Name, IsAdmin: user.IsAdmin, GroupIDs: groups}, nil
}

// actorOf is the user a sign-in acts as in the audit log: the changes a sign-in
// makes are the consequence of that person signing in.
func actorOf(u store.User) access.Principal {
	return access.Principal{UserID: u.ID, Name: u.Name, IsAdmin: u.IsAdmin}
}

// refuseManaged is the answer to a hand edit of a group the identity provider owns;
// the caller is a member of the group (everybody else learns nothing of it).
func refuseManaged(ctx context.Context, st *store.Store, groupID string) error {
	by, err := st.GroupManagedBy(ctx, groupID)
	if err != nil {
		return err
	}
	if by != "" {
		return Errorf(CodeManaged, "this group is managed by your identity provider: change its members there, and they follow at the next sign-in")
	}
	return nil
}
