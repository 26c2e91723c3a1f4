package reindex

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

func TestVerifyRepairsWhatDiffersFromPostgres(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{DocumentBatch: 50})
	f.seed(5, 2, 200, 50) // 10,000 chunks
	ctx := context.Background()
	identity := f.emb.Identity().String()
	vs := f.vs

	// A lost point, a corrupted payload, a point past the chunk count, and the points
	// of a document purged while the index was unreachable.
	require.NoError(t, vs.DeletePoints(ctx, index.Alias, []string{vector.PointID(f.docs[7], 3, identity)}))
	one := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword(vector.FieldDocumentID, f.docs[8]),
		qdrant.NewMatchInt(vector.FieldChunkIndex, 4)}}
	require.NoError(t, vs.SetACLByFilter(ctx, index.Alias, one, vector.ACL{OwnerID: f.users[4].ID, GroupID: f.groups[0], ACLVersion: 1}))
	p := f.points(index.Alias)[vector.PointID(f.docs[9], 0, identity)]
	extra, orphan := p, p
	extra.ChunkIndex = 50
	orphan.DocumentID = uuid.NewString()
	vec := make([]float32, testDim)
	vec[0] = 1
	require.NoError(t, f.ix.Upsert(ctx, []vector.Point{
		{ID: vector.PointID(f.docs[9], 50, identity), Vector: vec, Payload: extra},
		{ID: vector.PointID(orphan.DocumentID, 0, identity), Vector: vec, Payload: orphan},
	}))
	require.Len(t, f.points(index.Alias), 10001)

	j := f.run(f.start(store.KindVerify, nil).ID, store.JobCompleted)
	require.Equal(t, store.JobProgress{Total: 200, Done: 200}, j.Progress)
	require.Equal(t, map[string]any{"documents_checked": float64(200), "documents_repaired": float64(3),
		"points_embedded": float64(1), "points_deleted": float64(1), "payloads_fixed": float64(1),
		"orphan_documents_removed": float64(1)}, j.Result)
	f.requireInSync(index.Alias, identity)

	// The re-embedded point is the one ingestion wrote: same vector.
	got, err := vs.GetPoints(ctx, index.Alias, []string{vector.PointID(f.docs[7], 3, identity)}, true)
	require.NoError(t, err)
	chunks, err := f.st.IndexChunksOf(ctx, []string{f.docs[7]})
	require.NoError(t, err)
	want, err := f.runner.embedPoints(ctx, f.emb, f.ix.Lexical(), chunks[3:4])
	require.NoError(t, err)
	require.InDeltaSlice(t, want[0].Vector, got[0].Vector, 1e-6)

	// Nothing left to repair.
	again := f.run(f.start(store.KindVerify, nil).ID, store.JobCompleted)
	require.EqualValues(t, 0, again.Result["documents_repaired"])
}

func TestFailedJobsEndFailedWithTheirError(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.seed(1, 0, 2, 2)
	ctx := context.Background()

	// No embedder factory: a re-embed with a model cannot run.
	j := f.run(f.start(store.KindReEmbed, map[string]any{"embed_model": "m"}).ID, store.JobFailed)
	require.Contains(t, *j.Error, "cannot build embedders")

	// The dead-letter hook marks a job failed with the reason, once.
	v := f.start(store.KindVerify, nil)
	data, err := job.Encode(job.ReindexJob{JobID: v.ID})
	require.NoError(t, err)
	m := &queue.Msg{Subject: job.SubjectReindex, Data: data}
	f.runner.OnDeadLetter(ctx, m, errors.New("vector store unreachable"))
	f.runner.OnDeadLetter(ctx, m, errors.New("second call"))
	got := f.job(v.ID)
	require.Equal(t, store.JobFailed, got.Status)
	require.Contains(t, *got.Error, "vector store unreachable")

	// A redelivered message of an ended job does nothing; one for a missing job neither.
	require.NoError(t, f.handle(ctx, v.ID))
	require.NoError(t, f.handle(ctx, uuid.NewString()))
	require.True(t, job.IsPermanent(f.runner.Handle(ctx, &queue.Msg{Subject: "jobs.unknown"})))
}
