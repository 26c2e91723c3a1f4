package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/store"
)

// newCommittingStore is a store on a fresh database: these tests need statements
// that fail (conflicts) without aborting the rest, and the one-active-job-per-kind
// index would make parallel rolled-back transactions wait on each other.
func newCommittingStore(t *testing.T) *store.Store {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	return store.New(pool)
}

func TestReindexJobLifecycle(t *testing.T) {
	t.Parallel()
	st := newCommittingStore(t)
	ctx := context.Background()
	admin := mustUser(t, st, "operator")

	j, err := st.CreateReindexJob(ctx, store.KindReEmbed, map[string]any{"embed_model": "m"}, &admin.ID)
	require.NoError(t, err)
	require.Equal(t, store.JobQueued, j.Status)
	require.Equal(t, map[string]any{"embed_model": "m"}, j.Params)
	require.Equal(t, map[string]any{}, j.Result)
	require.Equal(t, admin.ID, *j.CreatedBy)
	require.Nil(t, j.StartedAt)

	// One active job per kind; other kinds are independent.
	_, err = st.CreateReindexJob(ctx, store.KindReEmbed, nil, nil)
	require.ErrorIs(t, err, store.ErrConflict)
	other, err := st.CreateReindexJob(ctx, store.KindVerify, nil, nil)
	require.NoError(t, err)

	// Claiming moves it to running; a redelivery takes it over with its checkpoint.
	claimed, ok, err := st.ClaimReindexJob(ctx, j.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, store.JobRunning, claimed.Status)
	require.NotNil(t, claimed.StartedAt)
	stop, err := st.SaveReindexProgress(ctx, j.ID, store.JobProgress{Total: 10, Done: 4, Failed: 1}, []byte(`{"phase":"bulk"}`))
	require.NoError(t, err)
	require.False(t, stop)
	again, ok, err := st.ClaimReindexJob(ctx, j.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, store.JobProgress{Total: 10, Done: 4, Failed: 1}, again.Progress)
	require.JSONEq(t, `{"phase":"bulk"}`, string(again.Checkpoint))
	require.Equal(t, claimed.StartedAt, again.StartedAt, "a takeover keeps the start time")

	// A cancel request is seen with the next checkpoint and blocks further claims.
	c, err := st.RequestReindexCancel(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, store.JobRunning, c.Status, "a running job stops between batches")
	flag, err := st.ReindexCancelRequested(ctx, j.ID)
	require.NoError(t, err)
	require.True(t, flag)
	stop, err = st.SaveReindexProgress(ctx, j.ID, store.JobProgress{Total: 10, Done: 5}, nil)
	require.NoError(t, err)
	require.True(t, stop)
	_, ok, err = st.ClaimReindexJob(ctx, j.ID)
	require.NoError(t, err)
	require.False(t, ok)
	ended, err := st.FinishReindexJob(ctx, j.ID, store.JobCancelled, nil, map[string]any{"chunks_embedded": 5})
	require.NoError(t, err)
	require.True(t, ended)
	ended, err = st.FinishReindexJob(ctx, j.ID, store.JobFailed, nil, nil)
	require.NoError(t, err)
	require.False(t, ended, "an ended job stays as it ended")
	got, err := st.GetReindexJob(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, store.JobCancelled, got.Status)
	require.EqualValues(t, 5, got.Result["chunks_embedded"])
	require.NotNil(t, got.FinishedAt)
	_, err = st.RequestReindexCancel(ctx, j.ID)
	require.ErrorIs(t, err, store.ErrConflict)
	stop, err = st.SaveReindexProgress(ctx, j.ID, store.JobProgress{}, nil)
	require.NoError(t, err)
	require.True(t, stop, "an ended job takes no more progress")

	// The kind is free again; a queued job is cancelled at once.
	next, err := st.CreateReindexJob(ctx, store.KindReEmbed, nil, nil)
	require.NoError(t, err)
	c, err = st.RequestReindexCancel(ctx, next.ID)
	require.NoError(t, err)
	require.Equal(t, store.JobCancelled, c.Status)
	require.NotNil(t, c.FinishedAt)

	// A failed job keeps its error.
	_, _, err = st.ClaimReindexJob(ctx, other.ID)
	require.NoError(t, err)
	msg := "boom"
	_, err = st.FinishReindexJob(ctx, other.ID, store.JobFailed, &msg, nil)
	require.NoError(t, err)
	got, err = st.GetReindexJob(ctx, other.ID)
	require.NoError(t, err)
	require.Equal(t, "boom", *got.Error)

	_, err = st.GetReindexJob(ctx, "00000000-0000-0000-0000-000000000001")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = st.RequestReindexCancel(ctx, "00000000-0000-0000-0000-000000000001")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestListReindexJobsPagesNewestFirst(t *testing.T) {
	t.Parallel()
	st := newCommittingStore(t)
	ctx := context.Background()
	var ids []string
	for _, kind := range []string{store.KindACLSync, store.KindVerify, store.KindGroupMigration} {
		j, err := st.CreateReindexJob(ctx, kind, nil, nil)
		require.NoError(t, err)
		ids = append(ids, j.ID)
	}
	page, err := st.ListReindexJobs(ctx, 2, nil)
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.NotNil(t, page.Next)
	cur, err := store.DecodeCursor(*page.Next)
	require.NoError(t, err)
	rest, err := st.ListReindexJobs(ctx, 2, cur)
	require.NoError(t, err)
	require.Len(t, rest.Items, 1)
	require.Nil(t, rest.Next)
	var seen []string
	for _, j := range append(page.Items, rest.Items...) {
		seen = append(seen, j.ID)
	}
	require.ElementsMatch(t, ids, seen)
}

func TestReindexBatchQueries(t *testing.T) {
	t.Parallel()
	st := newCommittingStore(t)
	ctx := context.Background()
	ann, ben := mustUser(t, st, "ann"), mustUser(t, st, "ben")
	gid, err := st.InsertGroup(ctx, "crew", "")
	require.NoError(t, err)
	_, err = st.AddMember(ctx, gid, ben.ID, store.RoleMember)
	require.NoError(t, err)

	users, err := st.UsersWithoutGroup(ctx, "", 10)
	require.NoError(t, err)
	require.Equal(t, []string{ann.ID}, []string{users[0].ID})
	n, err := st.CountUsersWithoutGroup(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)

	_, err = st.PersonalGroupOf(ctx, ann.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	pg, err := st.InsertPersonalGroup(ctx, "ann-personal", ann.ID)
	require.NoError(t, err)
	got, err := st.PersonalGroupOf(ctx, ann.ID)
	require.NoError(t, err)
	require.Equal(t, pg, got)
	_, err = st.InsertPersonalGroup(ctx, "ANN-personal", ben.ID)
	require.ErrorIs(t, err, store.ErrConflict)

	docs, err := st.DocumentsAfter(ctx, store.LiveDocuments, "", 10)
	require.NoError(t, err)
	require.Empty(t, docs)
	moved, err := st.MoveUngroupedDocuments(ctx, ann.ID, pg)
	require.NoError(t, err)
	require.Zero(t, moved)
	chunks, err := st.ReadyChunksAfter(ctx, "", 0, 10)
	require.NoError(t, err)
	require.Empty(t, chunks)
	now, err := st.Now(ctx)
	require.NoError(t, err)
	require.False(t, now.IsZero())
}
