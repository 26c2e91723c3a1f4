package service

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/store"
)

// MaxKeyNameLen is the longest key name, as the schema enforces it.
const MaxKeyNameLen = 100

// KeyRequest is what a new key may be limited to; nil and empty fields are no
// limit of their own. A key created with a limited key never gets more than that
// key: it inherits each limit it does not set, and what it sets must lie within.
type KeyRequest struct {
	Name       string
	Scopes     []string
	GroupIDs   []string
	AllowedIPs []string
	ExpiresAt  *time.Time
}

// CreateKey adds a key for the caller, limited as req asks (see KeyRequest). The
// admin scope is for admins only: it would grant nothing to anybody else.
func (u *Users) CreateKey(ctx context.Context, p access.Principal, req KeyRequest) (NewKey, error) {
	var key NewKey
	err := u.store.InTx(ctx, func(st *store.Store) error {
		var parent *store.Key
		if p.KeyID != "" {
			k, err := st.GetKey(ctx, p.UserID, p.KeyID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err == nil {
				parent = &k
			}
		}
		l, err := keyLimits(p, parent, req, time.Now())
		if err != nil {
			return err
		}
		if key, err = newKey(ctx, st, p.UserID, l); err != nil {
			return err
		}
		u.audit.Record(ctx, st, p, "key.create", "api_key", key.ID, OutcomeSuccess, map[string]any{
			"prefix": key.Prefix, "name": key.Name, "scopes": key.Scopes, "group_ids": key.GroupIDs,
			"allowed_ips": key.AllowedIPs, "expires_at": key.ExpiresAt})
		return nil
	})
	return key, err
}

// keyLimits validates req against what the caller may give: their own groups and,
// when the caller signed in with a limited key (parent), no more than that key.
func keyLimits(p access.Principal, parent *store.Key, req KeyRequest, now time.Time) (store.KeyLimits, error) {
	var v validation
	var notFound []FieldError
	var l store.KeyLimits
	if parent == nil {
		parent = &store.Key{}
	}

	l.Name = strings.TrimSpace(req.Name)
	switch {
	case !utf8.ValidString(l.Name):
		v.add("name", "must be valid UTF-8")
	case utf8.RuneCountInString(l.Name) > MaxKeyNameLen:
		v.add("name", "must be at most %d characters", MaxKeyNameLen)
	case strings.IndexFunc(l.Name, unicode.IsControl) >= 0:
		v.add("name", "must not contain control characters")
	}

	l.Scopes = parent.Scopes
	if len(req.Scopes) > 0 {
		l.Scopes = []string{}
		for _, s := range req.Scopes {
			switch {
			case !access.ValidScope(s):
				v.add("scopes", "%q is not a scope: use documents:read, documents:write, chat or admin", s)
			case s == string(access.ScopeAdmin) && !p.IsAdmin:
				v.add("scopes", "admin is for admins only")
			case parent.Scopes != nil && !slices.Contains(parent.Scopes, s):
				v.add("scopes", "%q is more than the key you are using has", s)
			case !slices.Contains(l.Scopes, s):
				l.Scopes = append(l.Scopes, s)
			}
		}
	}

	if p.GroupLimited() {
		l.GroupIDs = append([]string{}, p.GroupIDs...) // never nil: nil would be no limit
	}
	if len(req.GroupIDs) > 0 {
		l.GroupIDs = []string{}
		for _, g := range req.GroupIDs {
			switch {
			case !isUUID(g) || !p.InGroup(g):
				// Groups the caller is not in (or whose key does not reach them) do not
				// exist for them, as everywhere.
				notFound = append(notFound, FieldError{Field: "group_ids", Message: "no such group: " + g})
			case !slices.Contains(l.GroupIDs, g):
				l.GroupIDs = append(l.GroupIDs, g)
			}
		}
	}

	l.AllowedIPs = parent.AllowedIPs
	if len(req.AllowedIPs) > 0 {
		l.AllowedIPs = []netip.Prefix{}
		for _, s := range req.AllowedIPs {
			n, err := parsePrefix(s)
			switch {
			case err != nil:
				v.add("allowed_ips", "%q is not an address or a network like 203.0.113.0/24", s)
			case parent.AllowedIPs != nil && !slices.ContainsFunc(parent.AllowedIPs, func(q netip.Prefix) bool {
				return q.Bits() <= n.Bits() && q.Contains(n.Addr())
			}):
				v.add("allowed_ips", "%s is wider than the key you are using allows", n)
			case !slices.Contains(l.AllowedIPs, n):
				l.AllowedIPs = append(l.AllowedIPs, n)
			}
		}
	}

	l.ExpiresAt = parent.ExpiresAt
	if req.ExpiresAt != nil {
		switch {
		case !req.ExpiresAt.After(now):
			v.add("expires_at", "must be in the future")
		case parent.ExpiresAt != nil && req.ExpiresAt.After(*parent.ExpiresAt):
			v.add("expires_at", "must not be later than the key you are using expires (%s)", parent.ExpiresAt.UTC().Format(time.RFC3339))
		default:
			t := req.ExpiresAt.UTC()
			l.ExpiresAt = &t
		}
	}
	if err := v.err(); err != nil {
		return store.KeyLimits{}, err
	}
	if len(notFound) > 0 {
		return store.KeyLimits{}, &Error{Code: CodeNotFound, Message: notFound[0].Field + ": " + notFound[0].Message, Fields: notFound}
	}
	return l, nil
}

// parsePrefix reads a network, or a bare address as the network of that address.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	n, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return n.Masked(), nil
}

// limitsOfKey turns a stored key's limits into the access rules' form.
func limitsOfKey(k store.Key) access.Limits {
	var l access.Limits
	if k.Scopes != nil {
		l.Scopes = make([]access.Scope, len(k.Scopes))
		for i, s := range k.Scopes {
			l.Scopes[i] = access.Scope(s)
		}
	}
	if k.GroupIDs != nil {
		l.GroupIDs = slices.Clone(k.GroupIDs)
	}
	return l
}

// addressAllowed reports whether the client address ip is within allowed; no list
// allows every address, a list allows no unknown one.
func addressAllowed(allowed []netip.Prefix, ip string) bool {
	if allowed == nil {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	return slices.ContainsFunc(allowed, func(n netip.Prefix) bool { return n.Contains(a) })
}
