package reindex

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

func TestACLSyncCorrectsStalePayloadsAndResumesAfterACrash(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{DocumentBatch: 20})
	f.seed(6, 3, 200, 50) // 10,000 chunks
	ctx := context.Background()
	identity := f.emb.Identity().String()
	f.requireInSync(index.Alias, identity)

	// Sharing changes that never reached the index: 40 documents move group or
	// privacy in Postgres only, and one point is corrupted under the current version.
	_, err := f.pool.Exec(ctx, `UPDATE documents SET group_id = $1, private = NOT private, acl_version = acl_version + 1
		WHERE id = ANY($2::uuid[])`, f.groups[0], f.docs[:40])
	require.NoError(t, err)
	require.NoError(t, f.vs.SetACLByFilter(ctx, index.Alias, vector.MatchDocument(f.docs[100]),
		vector.ACL{OwnerID: f.users[0].ID, GroupID: f.groups[2], Private: false, ACLVersion: 1}))
	stale := f.points(index.Alias)
	require.Equal(t, f.docs[0], stale[vector.PointID(f.docs[0], 0, identity)].DocumentID)
	require.Equal(t, int64(1), stale[vector.PointID(f.docs[0], 0, identity)].ACLVersion, "the index is stale")

	// The reindexer is killed after three batches.
	j := f.start(store.KindACLSync, nil)
	killed, kill := context.WithCancel(ctx)
	saves := 0
	f.runner.afterSave = func(t *task) {
		if saves++; saves == 4 {
			kill()
		}
	}
	require.ErrorIs(t, f.handle(killed, j.ID), context.Canceled)
	mid := f.job(j.ID)
	require.Equal(t, store.JobRunning, mid.Status)
	require.Equal(t, store.JobProgress{Total: 200, Done: 60}, mid.Progress)

	// Redelivered, it resumes from the checkpoint and counts every document once.
	f.runner.afterSave = nil
	done := f.run(j.ID, store.JobCompleted)
	require.Equal(t, store.JobProgress{Total: 200, Done: 200}, done.Progress)
	require.EqualValues(t, 200, done.Result["documents_synced"])
	require.NotNil(t, done.FinishedAt)
	f.requireInSync(index.Alias, identity)
}

func TestACLJobSyncsTheCurrentStateAndNeverAnOlderOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.seed(2, 2, 3, 4)
	ctx := context.Background()
	identity := f.emb.Identity().String()
	acl := func(docID string, version int64) error {
		data, err := job.Encode(job.ACLJob{DocumentID: docID, Version: version})
		require.NoError(t, err)
		return f.runner.Handle(ctx, &queue.Msg{Subject: job.SubjectACL, Data: data})
	}

	// Two sharing changes in a row; the job of the first runs late and syncs the second.
	doc := f.docs[1]
	_, err := f.pool.Exec(ctx, `UPDATE documents SET group_id = NULL, private = true, acl_version = 2 WHERE id = $1`, doc)
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, `UPDATE documents SET group_id = $2, private = false, acl_version = 3 WHERE id = $1`, doc, f.groups[1])
	require.NoError(t, err)
	require.NoError(t, acl(doc, 2))
	p := f.points(index.Alias)[vector.PointID(doc, 2, identity)]
	require.Equal(t, int64(3), p.ACLVersion)
	require.Equal(t, f.groups[1], p.GroupID)
	require.False(t, p.Private)

	// A payload already newer than Postgres's view at job time is left alone.
	require.NoError(t, f.vs.SetACLByFilter(ctx, index.Alias, vector.MatchDocument(doc),
		vector.ACL{OwnerID: p.OwnerID, Private: true, ACLVersion: 9}))
	require.NoError(t, acl(doc, 3))
	require.Equal(t, int64(9), f.points(index.Alias)[vector.PointID(doc, 0, identity)].ACLVersion)

	// Deleted and purged documents need nothing; an undecodable job is permanent.
	f.deleteDocument(f.docs[2], true)
	require.NoError(t, acl(f.docs[2], 5))
	require.True(t, job.IsPermanent(f.runner.Handle(ctx, &queue.Msg{Subject: job.SubjectACL, Data: []byte("{")})))
}

func TestGroupMigrationGivesEveryUserAGroupAndIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{DocumentBatch: 50})
	f.seed(8, 0, 200, 50) // no groups at all: every document is ungrouped
	ctx := context.Background()
	identity := f.emb.Identity().String()
	// user3's natural name is taken; a user already in a group keeps everything.
	_, err := f.st.InsertGroup(ctx, "user3-personal", "")
	require.NoError(t, err)
	team, err := f.st.InsertGroup(ctx, "team", "")
	require.NoError(t, err)
	_, err = f.st.AddMember(ctx, team, f.users[7].ID, store.RoleMember)
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, `UPDATE documents SET private = true WHERE owner_id = $1`, f.users[1].ID)
	require.NoError(t, err)

	j := f.run(f.start(store.KindGroupMigration, nil).ID, store.JobCompleted)
	require.EqualValues(t, 7, j.Result["groups_created"])
	require.EqualValues(t, 175, j.Result["documents_moved"], "every document but user7's")
	require.Equal(t, store.JobProgress{Total: 7 + 200, Done: 7 + 200}, j.Progress)

	for i, u := range f.users[:7] {
		gid, err := f.st.PersonalGroupOf(ctx, u.ID)
		require.NoError(t, err)
		g, err := f.st.GroupFor(ctx, gid, u.ID)
		require.NoError(t, err, "user%d is the admin of their personal group", i)
		require.Equal(t, store.RoleAdmin, g.Role)
		want := u.Name + "-personal"
		if i == 3 {
			want = "user3-personal-2"
		}
		require.Equal(t, want, g.Name)
		var ungrouped, private int
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE group_id IS DISTINCT FROM $2),
			count(*) FILTER (WHERE private) FROM documents WHERE owner_id = $1`, u.ID, gid).Scan(&ungrouped, &private))
		require.Zero(t, ungrouped)
		require.Zero(t, private, "moved documents are shared with the personal group")
	}
	var untouched int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM documents WHERE owner_id = $1 AND group_id IS NULL AND acl_version = 1`,
		f.users[7].ID).Scan(&untouched))
	require.Equal(t, 25, untouched)
	f.requireInSync(index.Alias, identity)

	// A second run changes nothing.
	var versions int64
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT sum(acl_version) FROM documents`).Scan(&versions))
	again := f.run(f.start(store.KindGroupMigration, nil).ID, store.JobCompleted)
	require.EqualValues(t, 0, again.Result["groups_created"])
	require.EqualValues(t, 0, again.Result["documents_moved"])
	var after int64
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT sum(acl_version) FROM documents`).Scan(&after))
	require.Equal(t, versions, after)
	f.requireInSync(index.Alias, identity)
}
