package service

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
)

// A key created with limits is listed with them and authenticates to a principal
// narrowed by them: its scopes, and the subset of its user's groups.
func TestScopedKeysNarrowThePrincipal(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := context.Background()
	ann := f.user(t, "ann")
	g1, err := f.groups.Create(ctx, ann, "one", nil)
	require.NoError(t, err)
	g2, err := f.groups.Create(ctx, ann, "two", nil)
	require.NoError(t, err)
	ann = f.auth(t, "ann")

	expires := time.Now().Add(time.Hour).Truncate(time.Second)
	key, err := f.users.CreateKey(ctx, ann, KeyRequest{Name: " ci reader ", Scopes: []string{"documents:read", "chat", "chat"},
		GroupIDs: []string{g1.ID}, AllowedIPs: []string{"203.0.113.9", "2001:db8::/32"}, ExpiresAt: &expires})
	require.NoError(t, err)
	require.Equal(t, "ci reader", key.Name)
	require.Equal(t, []string{"documents:read", "chat"}, key.Scopes)
	require.Equal(t, []string{g1.ID}, key.GroupIDs)
	require.Equal(t, []string{"203.0.113.9/32", "2001:db8::/32"}, key.AllowedIPs)
	require.True(t, expires.Equal(*key.ExpiresAt))

	keys, err := f.users.Keys(ctx, ann)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	if keys[0].ID == key.Key.ID { // one transaction: both were made at the same now()
		keys[0], keys[1] = keys[1], keys[0]
	}
	require.Equal(t, key.Key.ID, keys[1].ID)
	require.Equal(t, key.Scopes, keys[1].Scopes)
	require.Equal(t, key.GroupIDs, keys[1].GroupIDs)
	require.Nil(t, keys[0].Scopes, "a key without limits shows none")
	require.Nil(t, keys[0].GroupIDs)

	p, err := f.users.Authenticate(WithClientIP(ctx, "203.0.113.9"), key.Secret)
	require.NoError(t, err)
	require.Equal(t, key.Key.ID, p.KeyID)
	require.Equal(t, []access.Scope{access.ScopeDocumentsRead, access.ScopeChat}, p.Scopes())
	require.True(t, p.GroupLimited())
	require.Equal(t, []string{g1.ID}, p.GroupIDs, "the key reaches one of ann's two groups")
	require.NotContains(t, p.GroupIDs, g2.ID)
	_, err = f.users.Authenticate(WithClientIP(ctx, "2001:db8::7"), key.Secret)
	require.NoError(t, err)

	// From elsewhere, or from nowhere known, the key is refused, saying why.
	for _, ip := range []string{"203.0.113.10", "198.51.100.1", ""} {
		_, err = f.users.Authenticate(WithClientIP(ctx, ip), key.Secret)
		require.Equal(t, CodeAddressDenied, ErrorCode(err), ip)
	}
}

func TestKeyRequestsAreValidated(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := context.Background()
	ann, ben := f.user(t, "ann"), f.user(t, "ben")
	theirs, err := f.groups.Create(ctx, ben, "theirs", nil)
	require.NoError(t, err)
	past := time.Now().Add(-time.Minute)
	long := string(make([]rune, MaxKeyNameLen+1))
	for _, c := range []struct {
		name  string
		req   KeyRequest
		code  Code
		field string
	}{
		{"unknown scope", KeyRequest{Scopes: []string{"documents:delete"}}, CodeInvalid, "scopes"},
		{"admin scope for a user", KeyRequest{Scopes: []string{"admin"}}, CodeInvalid, "scopes"},
		{"a group of somebody else", KeyRequest{GroupIDs: []string{theirs.ID}}, CodeNotFound, "group_ids"},
		{"no group at all", KeyRequest{GroupIDs: []string{uuid.NewString()}}, CodeNotFound, "group_ids"},
		{"not a group id", KeyRequest{GroupIDs: []string{"x"}}, CodeNotFound, "group_ids"},
		{"expired already", KeyRequest{ExpiresAt: &past}, CodeInvalid, "expires_at"},
		{"not an address", KeyRequest{AllowedIPs: []string{"the office"}}, CodeInvalid, "allowed_ips"},
		{"a name too long", KeyRequest{Name: long}, CodeInvalid, "name"},
		{"a name with control characters", KeyRequest{Name: "a\nb"}, CodeInvalid, "name"},
	} {
		_, err := f.users.CreateKey(ctx, ann, c.req)
		requireField(t, err, c.code, c.field)
	}
	keys, err := f.users.Keys(ctx, ann)
	require.NoError(t, err)
	require.Len(t, keys, 1, "no refused request made a key")

	root := admin(t, f.users)
	key, err := f.users.CreateKey(ctx, root, KeyRequest{Scopes: []string{"admin"}})
	require.NoError(t, err, "admins may have admin keys")
	require.Equal(t, []string{"admin"}, key.Scopes)
}

// A key made with a limited key inherits its limits and cannot exceed them, so a
// leaked limited key cannot mint a full one.
func TestKeysMadeByLimitedKeysStayWithinThem(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := context.Background()
	ann := f.user(t, "ann")
	g1, err := f.groups.Create(ctx, ann, "one", nil)
	require.NoError(t, err)
	g2, err := f.groups.Create(ctx, ann, "two", nil)
	require.NoError(t, err)
	ann = f.auth(t, "ann")
	expires := time.Now().Add(time.Hour).Truncate(time.Second)
	parent, err := f.users.CreateKey(ctx, ann, KeyRequest{Scopes: []string{"documents:read", "chat"}, GroupIDs: []string{g1.ID},
		AllowedIPs: []string{"10.1.0.0/16"}, ExpiresAt: &expires})
	require.NoError(t, err)
	limited, err := f.users.Authenticate(WithClientIP(ctx, "10.1.2.3"), parent.Secret)
	require.NoError(t, err)

	child, err := f.users.CreateKey(ctx, limited, KeyRequest{Name: "child"})
	require.NoError(t, err)
	require.Equal(t, parent.Scopes, child.Scopes, "inherits the scopes")
	require.Equal(t, parent.GroupIDs, child.GroupIDs, "inherits the groups")
	require.Equal(t, parent.AllowedIPs, child.AllowedIPs, "inherits the addresses")
	require.True(t, expires.Equal(*child.ExpiresAt), "inherits the expiry")

	narrower, err := f.users.CreateKey(ctx, limited, KeyRequest{Scopes: []string{"chat"}, AllowedIPs: []string{"10.1.2.0/24"},
		ExpiresAt: ptrTime(expires.Add(-time.Minute))})
	require.NoError(t, err)
	require.Equal(t, []string{"chat"}, narrower.Scopes)

	later := expires.Add(time.Hour)
	for _, c := range []struct {
		req   KeyRequest
		code  Code
		field string
	}{
		{KeyRequest{Scopes: []string{"documents:write"}}, CodeInvalid, "scopes"},
		{KeyRequest{GroupIDs: []string{g2.ID}}, CodeNotFound, "group_ids"},
		{KeyRequest{AllowedIPs: []string{"10.0.0.0/8"}}, CodeInvalid, "allowed_ips"},
		{KeyRequest{AllowedIPs: []string{"192.0.2.1"}}, CodeInvalid, "allowed_ips"},
		{KeyRequest{ExpiresAt: &later}, CodeInvalid, "expires_at"},
	} {
		_, err := f.users.CreateKey(ctx, limited, c.req)
		requireField(t, err, c.code, c.field)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

// An expired key fails exactly like a wrong one.
func TestExpiredKeysAreUnauthenticated(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := context.Background()
	ann := f.user(t, "ann")
	soon := time.Now().Add(time.Hour)
	key, err := f.users.CreateKey(ctx, ann, KeyRequest{ExpiresAt: &soon})
	require.NoError(t, err)
	_, err = f.users.Authenticate(ctx, key.Secret)
	require.NoError(t, err)
	_, err = f.tx.Exec(ctx, "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", key.Key.ID)
	require.NoError(t, err)
	_, err = f.users.Authenticate(ctx, key.Secret)
	require.Equal(t, CodeUnauthenticated, ErrorCode(err))
	_, err = f.users.Authenticate(ctx, f.keys["ann"])
	require.NoError(t, err, "the user's other keys keep working")
}

// A key's last use is recorded, but not on every request: at most once a minute.
func TestKeyUseIsRecordedAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	f := newGroupsFixture(t)
	ctx := context.Background()
	ann := f.user(t, "ann")
	lastUse := func() time.Time {
		var at time.Time
		require.NoError(t, f.tx.QueryRow(ctx, "SELECT last_used_at FROM api_keys WHERE user_id = $1", ann.UserID).Scan(&at))
		return at
	}
	first := lastUse()
	_, err := f.users.Authenticate(ctx, f.keys["ann"])
	require.NoError(t, err)
	require.Equal(t, first, lastUse(), "used again within the minute: not written again")
	_, err = f.tx.Exec(ctx, "UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE user_id = $1", ann.UserID)
	require.NoError(t, err)
	stale := lastUse()
	_, err = f.users.Authenticate(ctx, f.keys["ann"])
	require.NoError(t, err)
	require.True(t, lastUse().After(stale), "a minute later the use is recorded")
}

// A key limited to some groups uploads only into them and sees only them: its
// user's document in no group, and the same bytes uploaded again, stay hidden.
func TestGroupLimitedKeysSeeOnlyTheirGroups(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	team, other := f.group(t), f.group(t)
	alice := f.user(t, "alice", team, other)
	own := f.upload(t, alice, UploadOptions{}, map[string]string{"own.txt": "alpine meadow notes"})[0]
	shared := f.upload(t, alice, UploadOptions{GroupID: team}, map[string]string{"team.txt": "glacier survey notes"})[0]
	elsewhere := f.upload(t, alice, UploadOptions{GroupID: other}, map[string]string{"other.txt": "delta survey notes"})[0]
	limited := alice.Limit(access.Limits{GroupIDs: []string{team}})

	for _, hidden := range []string{own.ID, elsewhere.ID} {
		_, err := f.docs.Get(ctx, limited, hidden)
		require.Equal(t, CodeNotFound, ErrorCode(err), "the user's own documents outside the key's groups are hidden from it")
		require.Equal(t, CodeNotFound, ErrorCode(f.docs.Delete(ctx, limited, hidden)), "nor can they be changed")
	}
	_, err := f.docs.Get(ctx, limited, shared.ID)
	require.NoError(t, err)
	page, err := f.docs.List(ctx, limited, ListOptions{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, shared.ID, page.Items[0].ID)
	_, err = f.docs.UpdateSharing(ctx, limited, shared.ID, SharingChange{GroupID: new(string)})
	requireField(t, err, CodeInvalid, "group_id")
	_, err = f.docs.UpdateSharing(ctx, limited, shared.ID, SharingChange{GroupID: &other})
	requireField(t, err, CodeNotFound, "group_id")

	stage := func(name, text string) []*StagedFile { return []*StagedFile{f.stage(t, name, []byte(text))} }
	_, err = f.docs.CommitUpload(ctx, limited, stage("new.txt", "fresh notes"), UploadOptions{})
	requireField(t, err, CodeInvalid, "group_id")
	_, err = f.docs.CommitUpload(ctx, limited, stage("new.txt", "fresh notes"), UploadOptions{GroupID: other})
	requireField(t, err, CodeNotFound, "group_id")
	_, err = f.docs.CommitUpload(ctx, limited, stage("again.txt", "alpine meadow notes"), UploadOptions{GroupID: team})
	require.Equal(t, CodeConflict, ErrorCode(err), "the same bytes as a hidden document are not shown as a duplicate")
	require.NotContains(t, err.Error(), "own.txt")
	again, err := f.docs.CommitUpload(ctx, limited, stage("again.txt", "glacier survey notes"), UploadOptions{GroupID: team})
	require.NoError(t, err)
	require.True(t, again[0].Duplicate, "a visible duplicate is shown as before")
}
