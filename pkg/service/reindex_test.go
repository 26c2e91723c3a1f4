package service

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/store"
)

func TestReindexStartGetListCancel(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t) // conflicts must not abort a shared test transaction
	st := store.New(pool)
	ctx := context.Background()
	var notified atomic.Int32
	svc := NewReindex(st, NewAuditor(st, logging.Discard()), ReindexConfig{Notify: func() { notified.Add(1) }}, logging.Discard())
	op, err := st.CreateUser(ctx, "operator", true)
	require.NoError(t, err)
	admin := access.Principal{UserID: op.ID, Name: op.Name, IsAdmin: true}
	user := access.Principal{UserID: op.ID, Name: "someone"}

	// Non-admins cannot tell the feature exists.
	_, err = svc.Start(ctx, user, store.KindACLSync, ReindexParams{})
	require.Equal(t, CodeNotFound, ErrorCode(err))
	_, err = svc.List(ctx, user, 0, "")
	require.Equal(t, CodeNotFound, ErrorCode(err))
	// Nobody in particular is not the system: a zero principal is refused too.
	_, err = svc.Start(ctx, access.Principal{}, store.KindACLSync, ReindexParams{})
	require.Equal(t, CodeNotFound, ErrorCode(err))

	// Input is checked field by field.
	_, err = svc.Start(ctx, admin, "rebuild-everything", ReindexParams{})
	requireField(t, err, CodeInvalid, "kind")
	_, err = svc.Start(ctx, admin, store.KindVerify, ReindexParams{EmbedModel: "nomic-embed-text"})
	requireField(t, err, CodeInvalid, "embed_model")
	_, err = svc.Start(ctx, admin, store.KindReEmbed, ReindexParams{EmbedModel: "bad model; drop"})
	requireField(t, err, CodeInvalid, "embed_model")

	// A job and its queue message are written together, and audited.
	j, err := svc.Start(ctx, admin, store.KindReEmbed, ReindexParams{EmbedModel: " nomic-embed-text:v1.5 "})
	require.NoError(t, err)
	require.Equal(t, store.JobQueued, j.Status)
	require.Equal(t, map[string]any{"embed_model": "nomic-embed-text:v1.5"}, j.Params)
	require.Equal(t, int32(1), notified.Load())
	require.NoError(t, st.InTx(ctx, func(tx *store.Store) error {
		msgs, err := tx.ClaimOutbox(ctx, 10)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, job.SubjectReindex, msgs[0].Subject)
		require.Equal(t, job.ReindexJob{JobID: j.ID}.MsgID(), msgs[0].MsgID)
		var payload job.ReindexJob
		require.NoError(t, job.Decode(msgs[0].Payload, &payload))
		require.Equal(t, j.ID, payload.JobID)
		return nil
	}))
	entries, err := st.ListAudit(ctx, store.AuditFilter{Action: "reindex.start", Limit: 10})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, j.ID, entries[0].TargetID)

	// One active job per kind.
	_, err = svc.Start(ctx, admin, store.KindReEmbed, ReindexParams{})
	requireField(t, err, CodeConflict, "kind")
	// The CLI starts jobs as the system.
	sys, err := svc.Start(ctx, access.System, store.KindACLSync, ReindexParams{})
	require.NoError(t, err)
	require.Nil(t, sys.CreatedBy)

	got, err := svc.Get(ctx, admin, j.ID)
	require.NoError(t, err)
	require.Equal(t, j.ID, got.ID)
	_, err = svc.Get(ctx, admin, "not-a-uuid")
	require.Equal(t, CodeNotFound, ErrorCode(err))
	_, err = svc.Get(ctx, user, j.ID)
	require.Equal(t, CodeNotFound, ErrorCode(err))
	page, err := svc.List(ctx, admin, 1, "")
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.NotNil(t, page.Next)
	_, err = svc.List(ctx, admin, 1, "garbage")
	requireField(t, err, CodeInvalid, "cursor")

	// A queued job is cancelled at once; an ended one cannot be cancelled again.
	c, err := svc.Cancel(ctx, admin, j.ID)
	require.NoError(t, err)
	require.Equal(t, store.JobCancelled, c.Status)
	_, err = svc.Cancel(ctx, admin, j.ID)
	require.Equal(t, CodeConflict, ErrorCode(err))
	_, err = svc.Cancel(ctx, user, sys.ID)
	require.Equal(t, CodeNotFound, ErrorCode(err))
	_, err = svc.Cancel(ctx, admin, "00000000-0000-0000-0000-000000000009")
	require.Equal(t, CodeNotFound, ErrorCode(err))
	entries, err = st.ListAudit(ctx, store.AuditFilter{Action: "reindex.cancel", Limit: 10})
	require.NoError(t, err)
	require.Len(t, entries, 1)
}
