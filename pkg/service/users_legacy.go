package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/apikey"
	"github.com/youworker/youworker/pkg/store"
)

// LegacyKeyName names the key a legacy key becomes at its first use.
const LegacyKeyName = "imported from the legacy deployment"

// authenticateLegacy accepts a key of the legacy deployment, which stored the
// unsalted SHA-256 of each user's key (see the legacy import). At its first use a
// key long enough to be one of ours replaces its legacy credential by a key of the
// current format (prefix and hash; no limits, as the legacy key had none), in one
// transaction, audited; from then on it is an ordinary key the user can see and
// revoke. A shorter legacy key cannot have a lookup prefix, so it keeps working as
// a legacy credential until its user rotates it. Nothing here tells a caller
// whether a key was a legacy one: a wrong key fails exactly like any other.
func (u *Users) authenticateLegacy(ctx context.Context, key string, denied error) (access.Principal, error) {
	if key == "" || len(key) > 256 {
		return access.Principal{}, denied
	}
	for _, r := range key {
		if r <= ' ' || r > '~' {
			return access.Principal{}, denied
		}
	}
	hash := apikey.Hash(key)
	user, err := u.store.LegacyCredentialUser(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return access.Principal{}, denied
	}
	if err != nil {
		return access.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	p := access.Principal{UserID: user.ID, Name: user.Name, IsAdmin: user.IsAdmin}
	if prefix, perr := apikey.Prefix(key); perr == nil {
		upgraded := false
		err = u.store.InTx(ctx, func(st *store.Store) error {
			taken, err := st.TakeLegacyCredential(ctx, hash)
			if err != nil || !taken {
				return err
			}
			k, err := st.InsertKey(ctx, user.ID, prefix, hash, store.KeyLimits{Name: LegacyKeyName})
			if err != nil {
				return err
			}
			p.KeyID, upgraded = k.ID, true
			u.audit.Record(ctx, st, p, "key.legacy_upgrade", "api_key", k.ID, OutcomeSuccess, map[string]any{"prefix": k.Prefix})
			return nil
		})
		if err != nil {
			return access.Principal{}, fmt.Errorf("upgrade legacy key: %w", err)
		}
		if !upgraded {
			// A concurrent request upgraded it a moment ago: it is an ordinary key now.
			return u.Authenticate(ctx, key)
		}
		u.logger.InfoContext(ctx, "legacy API key upgraded at its first use", "user_id", user.ID, "key_id", p.KeyID)
	}
	if p.GroupIDs, err = u.store.GroupIDsOf(ctx, user.ID); err != nil {
		return access.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	return p, nil
}
