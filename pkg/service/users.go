package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/apikey"
	"github.com/youworker/youworker/pkg/store"
)

var userNamePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// BootstrapAdminName is the name of the admin created from YW_BOOTSTRAP_ADMIN_KEY.
const BootstrapAdminName = "admin"

// UserDataPurger removes what a user owns outside Postgres (vectors, stored bytes)
// before the user row goes. Postgres rows cascade on their own.
type UserDataPurger interface {
	PurgeUserData(ctx context.Context, st *store.Store, userID string) error
	// TransferSharedDocuments hands the user's documents shared with a group to an
	// admin of that group, in the caller's transaction, and says how many.
	TransferSharedDocuments(ctx context.Context, st *store.Store, userID string) (int, error)
}

// Users manages users, their API keys and authentication.
type Users struct {
	store  *store.Store
	audit  *Auditor
	purger UserDataPurger
	quotas QuotaDefaults
	logger *slog.Logger
}

// NewUsers returns the user service. purger may be nil until documents exist.
func NewUsers(st *store.Store, audit *Auditor, purger UserDataPurger, logger *slog.Logger) *Users {
	return &Users{store: st, audit: audit, purger: purger, logger: logger.With("component", "users")}
}

// WithQuotas sets the quota of users an admin gave none of their own, as the
// ingestion service enforces it, so what users are shown is what applies.
func (u *Users) WithQuotas(q QuotaDefaults) *Users {
	u.quotas = q
	return u
}

// Me is the caller's own view of themself.
type Me struct {
	ID      string      `json:"id"`
	Name    string      `json:"name"`
	IsAdmin bool        `json:"is_admin"`
	Groups  []GroupRole `json:"groups"`
	Quota   Quota       `json:"quota"`
}

// NewKey is a freshly created key; Key is shown to the caller only this once.
type NewKey struct {
	Key
	Secret string `json:"key"`
}

// Bootstrap creates the admin user with exactly key when no admin exists yet.
// It reports whether it created one.
func (u *Users) Bootstrap(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, nil
	}
	prefix, err := apikey.Prefix(key)
	if err != nil {
		return false, Errorf(CodeInvalid, "bootstrap admin key: must be %d to 256 printable characters", apikey.MinLen)
	}
	created := false
	err = u.store.InTx(ctx, func(st *store.Store) error {
		exists, err := st.AdminExists(ctx)
		if err != nil || exists {
			return err
		}
		user, err := st.CreateUser(ctx, BootstrapAdminName, true)
		if err != nil {
			return fmt.Errorf("create bootstrap admin: %w", err)
		}
		if _, err := st.InsertKey(ctx, user.ID, prefix, apikey.Hash(key), store.KeyLimits{}); err != nil {
			return err
		}
		u.audit.Record(ctx, st, access.System, "user.bootstrap", "user", user.ID, OutcomeSuccess, map[string]any{"name": user.Name})
		created = true
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return false, Errorf(CodeConflict, "a user named %q exists but is not an admin; create an admin with `api users create --admin`", BootstrapAdminName)
	}
	return created, err
}

// errAdminOnly is what everybody but admins is told about admin-only things: that
// there is nothing there.
var errAdminOnly = Errorf(CodeNotFound, "not found")

// Create makes a user with a first API key; admins only (access.System for the
// command line).
func (u *Users) Create(ctx context.Context, actor access.Principal, name string, isAdmin bool) (User, NewKey, error) {
	if err := access.RequireAdmin(actor); err != nil {
		return User{}, NewKey{}, denied(err, errAdminOnly, nil)
	}
	var v validation
	if !userNamePattern.MatchString(name) {
		v.add("name", "must be 1-64 letters, digits, '.', '_' or '-'")
	}
	if err := v.err(); err != nil {
		return User{}, NewKey{}, err
	}
	var user store.User
	var key NewKey
	err := u.store.InTx(ctx, func(st *store.Store) error {
		var err error
		if user, err = st.CreateUser(ctx, name, isAdmin); err != nil {
			return err
		}
		if key, err = newKey(ctx, st, user.ID, store.KeyLimits{}); err != nil {
			return err
		}
		u.audit.Record(ctx, st, actor, "user.create", "user", user.ID, OutcomeSuccess, map[string]any{"name": name, "is_admin": isAdmin})
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return User{}, NewKey{}, &Error{Code: CodeConflict, Message: fmt.Sprintf("a user named %q already exists", name),
			Fields: []FieldError{{Field: "name", Message: "already taken"}}}
	}
	if err != nil {
		return User{}, NewKey{}, fmt.Errorf("create user: %w", err)
	}
	return userFromRow(user), key, nil
}

// List pages through users with their quotas; admins only.
func (u *Users) List(ctx context.Context, actor access.Principal, limit int, cursor string) (store.Page[UserView], error) {
	if err := access.RequireAdmin(actor); err != nil {
		return store.Page[UserView]{}, denied(err, errAdminOnly, nil)
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return store.Page[UserView]{}, err
	}
	page, err := u.store.ListUsers(ctx, clampLimit(limit), after)
	if err != nil {
		return store.Page[UserView]{}, err
	}
	ids := make([]string, len(page.Items))
	for i, user := range page.Items {
		ids[i] = user.ID
	}
	uses, err := u.store.UsagesOf(ctx, ids)
	if err != nil {
		return store.Page[UserView]{}, err
	}
	views := make([]UserView, len(page.Items))
	for i, user := range page.Items {
		views[i] = UserView{User: userFromRow(user), Quota: u.quotas.quotaOf(user, uses[user.ID])}
	}
	return store.Page[UserView]{Items: views, Next: page.Next}, nil
}

// Delete removes a user with their keys, documents, vectors and sessions; admins
// only. shared says what becomes of the user's documents shared with a group:
// SharedDelete (the default) or SharedTransfer to an admin of the group.
func (u *Users) Delete(ctx context.Context, actor access.Principal, id string, shared string) error {
	if err := access.RequireAdmin(actor); err != nil {
		return denied(err, errAdminOnly, nil)
	}
	if actor.IsUser() && actor.UserID == id {
		return Errorf(CodeConflict, "you cannot delete yourself here; use DELETE /v1/me")
	}
	return u.deleteAccount(ctx, actor, id, shared, "user.delete")
}

// Authenticate resolves an API key to a principal with its current groups, narrowed
// to the key's scopes and groups, or an unauthenticated error that never says which
// part was wrong (an expired key fails like a wrong one). A key limited to some
// client addresses is refused with address_denied from anywhere else, the address
// being the one WithClientIP put in ctx (none: refused).
func (u *Users) Authenticate(ctx context.Context, key string) (access.Principal, error) {
	denied := Errorf(CodeUnauthenticated, "missing or invalid API key")
	prefix, err := apikey.Prefix(key)
	if err != nil {
		// Legacy keys had no rules of ours: a short one is still a key.
		return u.authenticateLegacy(ctx, key, denied)
	}
	cands, err := u.store.KeyCandidates(ctx, prefix)
	if err != nil {
		return access.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	for _, c := range cands {
		if !apikey.Matches(key, c.Hash) {
			continue
		}
		if !addressAllowed(c.Key.AllowedIPs, ClientIP(ctx)) {
			return access.Principal{}, Errorf(CodeAddressDenied, "this API key may not be used from your address")
		}
		// The store records a use at most once a minute; asking it only when the
		// minute has passed saves a statement on every other request.
		if c.Key.LastUsedAt == nil || time.Since(*c.Key.LastUsedAt) >= time.Minute {
			if err := u.store.TouchKey(ctx, c.Key.ID); err != nil {
				u.logger.WarnContext(ctx, "record key use failed", "error", err)
			}
		}
		p := access.Principal{UserID: c.User.ID, Name: c.User.Name, IsAdmin: c.User.IsAdmin, GroupIDs: c.GroupIDs, KeyID: c.Key.ID}
		return p.Limit(limitsOfKey(c.Key)), nil
	}
	return u.authenticateLegacy(ctx, key, denied)
}

// Me returns the caller with their groups.
func (u *Users) Me(ctx context.Context, p access.Principal) (Me, error) {
	user, err := u.store.GetUser(ctx, p.UserID)
	if err != nil {
		return Me{}, fmt.Errorf("me: %w", err)
	}
	rows, err := u.store.GroupsOf(ctx, p.UserID)
	if err != nil {
		return Me{}, err
	}
	groups := mapSlice(rows, groupRoleFromRow)
	if groups == nil {
		groups = []GroupRole{}
	}
	use, err := u.store.UsageOf(ctx, p.UserID)
	if err != nil {
		return Me{}, err
	}
	return Me{ID: user.ID, Name: user.Name, IsAdmin: user.IsAdmin, Groups: groups, Quota: u.quotas.quotaOf(user, use)}, nil
}

// Keys lists the caller's keys.
func (u *Users) Keys(ctx context.Context, p access.Principal) ([]Key, error) {
	return u.keysOf(ctx, p.UserID)
}

func (u *Users) keysOf(ctx context.Context, userID string) ([]Key, error) {
	rows, err := u.store.ListKeys(ctx, userID)
	keys := mapSlice(rows, keyFromRow)
	if keys == nil {
		keys = []Key{}
	}
	return keys, err
}

// RevokeKey deletes one of the caller's keys; it stops working on the next request.
func (u *Users) RevokeKey(ctx context.Context, p access.Principal, keyID string) error {
	err := u.store.InTx(ctx, func(st *store.Store) error {
		if err := st.DeleteKey(ctx, p.UserID, keyID); err != nil {
			return err
		}
		u.audit.Record(ctx, st, p, "key.revoke", "api_key", keyID, OutcomeSuccess, nil)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return Errorf(CodeNotFound, "key not found")
	}
	return err
}

// ListKeysOf lists the keys of user userID for an admin (the admin page).
func (u *Users) ListKeysOf(ctx context.Context, admin access.Principal, userID string) ([]Key, error) {
	if err := access.RequireAdmin(admin); err != nil {
		return nil, denied(err, errAdminOnly, nil)
	}
	if err := u.ensureUser(ctx, u.store, userID); err != nil {
		return nil, err
	}
	return u.keysOf(ctx, userID)
}

// RevokeKeyOf deletes key keyID of user userID for an admin, who is recorded as
// the one who revoked it: a leaked key is an operator's emergency.
func (u *Users) RevokeKeyOf(ctx context.Context, admin access.Principal, userID, keyID string) error {
	if err := access.RequireAdmin(admin); err != nil {
		return denied(err, errAdminOnly, nil)
	}
	err := u.store.InTx(ctx, func(st *store.Store) error {
		if err := u.ensureUser(ctx, st, userID); err != nil {
			return err
		}
		if !isUUID(keyID) {
			return errKeyNotFound
		}
		if err := st.DeleteKey(ctx, userID, keyID); err != nil {
			return err
		}
		u.audit.Record(ctx, st, admin, "admin.key.revoke", "api_key", keyID, OutcomeSuccess, map[string]any{"user_id": userID})
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return errKeyNotFound
	}
	return err
}

var (
	errUserNotFound = Errorf(CodeNotFound, "user not found")
	errKeyNotFound  = Errorf(CodeNotFound, "key not found")
)

// ensureUser answers user not found unless userID names an existing user.
func (u *Users) ensureUser(ctx context.Context, st *store.Store, userID string) error {
	if !isUUID(userID) {
		return errUserNotFound
	}
	_, err := st.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return errUserNotFound
	}
	return err
}

// RotateKeys revokes every key of the named user and issues one new key (the CLI's
// recovery path for a lost or leaked key).
func (u *Users) RotateKeys(ctx context.Context, name string) (NewKey, error) {
	var key NewKey
	err := u.store.InTx(ctx, func(st *store.Store) error {
		user, err := st.GetUserByName(ctx, name)
		if err != nil {
			return err
		}
		revoked, err := st.DeleteKeysOf(ctx, user.ID)
		if err != nil {
			return err
		}
		if key, err = newKey(ctx, st, user.ID, store.KeyLimits{}); err != nil {
			return err
		}
		u.audit.Record(ctx, st, access.System, "key.rotate", "user", user.ID, OutcomeSuccess, map[string]any{"revoked": revoked})
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return NewKey{}, Errorf(CodeNotFound, "no user named %q", name)
	}
	return key, err
}

func newKey(ctx context.Context, st *store.Store, userID string, l store.KeyLimits) (NewKey, error) {
	secret := apikey.Generate()
	prefix, _ := apikey.Prefix(secret)
	k, err := st.InsertKey(ctx, userID, prefix, apikey.Hash(secret), l)
	if err != nil {
		return NewKey{}, err
	}
	return NewKey{Key: keyFromRow(k), Secret: secret}, nil
}

// Pagination bounds from API.md.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

func clampLimit(n int) int {
	if n <= 0 {
		return DefaultLimit
	}
	return min(n, MaxLimit)
}

func decodeCursor(s string) (*store.Cursor, error) {
	c, err := store.DecodeCursor(s)
	if err != nil {
		return nil, &Error{Code: CodeInvalid, Message: "cursor: not a cursor this API returned",
			Fields: []FieldError{{Field: "cursor", Message: "not a cursor this API returned"}}}
	}
	return c, nil
}

// UserView is a user as admins see them: with their own quota limits, if any,
// and the quota that applies with what they use of it.
type UserView struct {
	User
	Quota Quota `json:"quota"`
}

// UserChange is an admin's change to a user; see store.UserChange.
type UserChange = store.UserChange

// Update changes a user's admin flag and quota limits; admins only. An admin cannot
// take their own admin rights away, so an admin always remains.
func (u *Users) Update(ctx context.Context, actor access.Principal, id string, ch UserChange) (UserView, error) {
	if err := access.RequireAdmin(actor); err != nil {
		return UserView{}, denied(err, errAdminOnly, nil)
	}
	var v validation
	for _, q := range []struct {
		field string
		s     store.QuotaSetting
	}{{"quota_bytes", ch.QuotaBytes}, {"quota_documents", ch.QuotaDocuments}} {
		if q.s.Set && q.s.Value != nil && *q.s.Value < 0 {
			v.add(q.field, "must be 0 (unlimited), a positive whole number, or null for the default")
		}
	}
	if err := v.err(); err != nil {
		return UserView{}, err
	}
	if actor.IsUser() && actor.UserID == id && ch.IsAdmin != nil && !*ch.IsAdmin {
		return UserView{}, &Error{Code: CodeConflict, Message: "you cannot take away your own admin rights",
			Fields: []FieldError{{Field: "is_admin", Message: "cannot be changed on yourself"}}}
	}
	var view UserView
	err := u.store.InTx(ctx, func(st *store.Store) error {
		user, err := st.UpdateUser(ctx, id, ch)
		if err != nil {
			return err
		}
		use, err := st.UsageOf(ctx, id)
		if err != nil {
			return err
		}
		view = UserView{User: userFromRow(user), Quota: u.quotas.quotaOf(user, use)}
		details := map[string]any{}
		if ch.IsAdmin != nil {
			details["is_admin"] = *ch.IsAdmin
		}
		if ch.QuotaBytes.Set {
			details["quota_bytes"] = ch.QuotaBytes.Value
		}
		if ch.QuotaDocuments.Set {
			details["quota_documents"] = ch.QuotaDocuments.Value
		}
		u.audit.Record(ctx, st, actor, "user.update", "user", id, OutcomeSuccess, details)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return UserView{}, Errorf(CodeNotFound, "user not found")
	}
	if err != nil {
		return UserView{}, fmt.Errorf("update user: %w", err)
	}
	return view, nil
}
