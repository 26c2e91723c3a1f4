package service

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/store"
)

func TestUsersShowAndAdminsSetQuotas(t *testing.T) {
	t.Parallel()
	u, st := newUsers(t)
	u.WithQuotas(QuotaDefaults{Bytes: 10 << 30, Documents: 10_000})
	ctx := context.Background()
	root := admin(t, u)
	carol, _, err := u.Create(ctx, root, "carol-"+randSuffix(t), false)
	require.NoError(t, err)
	_, err = st.InsertDocument(ctx, store.NewDocument{ID: uuid.NewString(), OwnerID: carol.ID, Filename: "a.txt",
		MIME: "text/plain", Format: "text", SizeBytes: 1234, SHA256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", ObjectKey: "documents/a"})
	require.NoError(t, err)

	// The user sees what they use and the defaults that apply.
	me, err := u.Me(ctx, access.Principal{UserID: carol.ID})
	require.NoError(t, err)
	require.Equal(t, int64(1234), me.Quota.BytesUsed)
	require.Equal(t, int64(1), me.Quota.DocumentsUsed)
	require.Equal(t, int64(10<<30), *me.Quota.BytesLimit)
	require.Equal(t, int64(10_000), *me.Quota.DocumentsLimit)

	// An admin sets limits of her own: 0 is unlimited.
	gib, zero := int64(1<<30), int64(0)
	view, err := u.Update(ctx, root, carol.ID, UserChange{
		QuotaBytes: store.QuotaSetting{Set: true, Value: &gib}, QuotaDocuments: store.QuotaSetting{Set: true, Value: &zero}})
	require.NoError(t, err)
	require.Equal(t, gib, *view.QuotaBytes)
	require.Equal(t, gib, *view.Quota.BytesLimit)
	require.Nil(t, view.Quota.DocumentsLimit)
	require.Equal(t, int64(1234), view.Quota.BytesUsed)
	me, err = u.Me(ctx, access.Principal{UserID: carol.ID})
	require.NoError(t, err)
	require.Equal(t, gib, *me.Quota.BytesLimit)
	require.Nil(t, me.Quota.DocumentsLimit, "unlimited is null")

	// Absent fields stay; null returns to the default.
	yes := true
	view, err = u.Update(ctx, root, carol.ID, UserChange{IsAdmin: &yes, QuotaBytes: store.QuotaSetting{Set: true}})
	require.NoError(t, err)
	require.True(t, view.IsAdmin)
	require.Nil(t, view.QuotaBytes)
	require.Equal(t, int64(10<<30), *view.Quota.BytesLimit)
	require.Equal(t, zero, *view.QuotaDocuments, "untouched")

	// The list shows every user's quota.
	page, err := u.List(ctx, root, 50, "")
	require.NoError(t, err)
	found := false
	for _, v := range page.Items {
		if v.ID == carol.ID {
			found = true
			require.Equal(t, int64(1234), v.Quota.BytesUsed)
		}
	}
	require.True(t, found)

	entries, err := st.ListAudit(ctx, store.AuditFilter{Action: "user.update", Limit: 10})
	require.NoError(t, err)
	require.Len(t, entries, 2)

	// What may not be done.
	minus := int64(-1)
	_, err = u.Update(ctx, root, carol.ID, UserChange{QuotaBytes: store.QuotaSetting{Set: true, Value: &minus}})
	requireCode(t, err, CodeInvalid, "quota_bytes")
	no := false
	_, err = u.Update(ctx, root, root.UserID, UserChange{IsAdmin: &no})
	requireCode(t, err, CodeConflict, "is_admin")
	_, err = u.Update(ctx, access.Principal{UserID: carol.ID}, root.UserID, UserChange{IsAdmin: &no})
	requireCode(t, err, CodeNotFound, "")
	_, err = u.Update(ctx, root, "00000000-0000-0000-0000-000000000001", UserChange{IsAdmin: &no})
	requireCode(t, err, CodeNotFound, "")
	_, err = u.Update(ctx, root, "not-a-uuid", UserChange{IsAdmin: &no})
	requireCode(t, err, CodeNotFound, "")
}

func TestHumanBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 2000: "1.95 KiB", 10 << 30: "10 GiB", 20<<30 + 1<<29: "20.5 GiB", 1 << 60: "1 EiB"} {
		require.Equal(t, want, HumanBytes(n))
	}
}
