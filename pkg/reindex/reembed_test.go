package reindex

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// fastCatchUp keeps the catch-up windows tight: the tests seed just before the job.
var fastCatchUp = Config{ChunkBatch: 1000, CatchUpMargin: time.Millisecond, PollEvery: 10 * time.Millisecond}

func TestReEmbedResumesAfterACrashAndSwitchesInOneStep(t *testing.T) {
	t.Parallel()
	cfg := fastCatchUp
	lex64, err := embed.NewLexical(64)
	require.NoError(t, err)
	cfg.Embedders = func(_ context.Context, model string) (embed.Embedder, error) {
		if model == "small" {
			return lex64, nil
		}
		return nil, fmt.Errorf("model %q not found", model)
	}
	f := newFixture(t, cfg)
	f.seed(5, 2, 200, 50) // 10,000 chunks
	ctx := context.Background()
	id := f.emb.Identity()
	v1 := f.alias()
	require.Equal(t, index.CollectionName(id, 1), v1)

	// A rebuild, killed after four batches.
	j := f.start(store.KindReEmbed, nil)
	killed, kill := context.WithCancel(ctx)
	saves := 0
	f.runner.afterSave = func(*task) {
		if saves++; saves == 5 {
			kill()
		}
	}
	require.ErrorIs(t, f.handle(killed, j.ID), context.Canceled)
	require.Equal(t, store.JobProgress{Total: 10000, Done: 4000}, f.job(j.ID).Progress)
	require.Equal(t, v1, f.alias(), "search stays on the old collection while the new one builds")

	f.runner.afterSave = nil
	done := f.run(j.ID, store.JobCompleted)
	v2 := index.CollectionName(id, 2)
	require.Equal(t, store.JobProgress{Total: 10000, Done: 10000}, done.Progress)
	require.EqualValues(t, 10000, done.Result["chunks_embedded"], "every chunk counted once across the crash")
	require.Equal(t, v2, done.Result["collection"])
	require.Equal(t, v1, done.Result["previous"])
	require.Equal(t, v2, f.alias())
	f.requireInSync(v2, id.String())
	f.requireInSync(v1, id.String()) // kept for rollback

	// Another model: a third collection; the previous one stays, the first goes.
	j3 := f.run(f.start(store.KindReEmbed, map[string]any{"embed_model": "small"}).ID, store.JobCompleted)
	v3 := index.CollectionName(lex64.Identity(), 3)
	require.Equal(t, v3, f.alias())
	require.Equal(t, []any{v1}, j3.Result["dropped"])
	names, err := f.vs.ListCollections(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{v2, v3}, names)
	f.requireInSync(v3, lex64.Identity().String())
	var stale int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM documents WHERE embedder <> $1`, lex64.Identity().String()).Scan(&stale))
	require.Zero(t, stale, "documents record the embedder of their vectors")

	// A model that cannot be used fails the job and leaves search alone.
	failed := f.run(f.start(store.KindReEmbed, map[string]any{"embed_model": "missing"}).ID, store.JobFailed)
	require.Contains(t, *failed.Error, `model "missing" not found`)
	require.Equal(t, v3, f.alias())
}

func TestReEmbedCancelLeavesTheOldCollectionServing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fastCatchUp)
	f.seed(4, 2, 200, 50)
	ctx := context.Background()
	v1 := f.alias()
	j := f.start(store.KindReEmbed, nil)
	saves := 0
	f.runner.afterSave = func(*task) {
		if saves++; saves == 3 {
			_, err := f.st.RequestReindexCancel(ctx, j.ID)
			require.NoError(t, err)
		}
	}
	done := f.run(j.ID, store.JobCancelled)
	require.Equal(t, int64(3000), done.Progress.Done, "it stopped at the next batch")
	require.Equal(t, v1, f.alias())
	names, err := f.vs.ListCollections(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{v1}, names, "the half-built collection is dropped")

	hits, err := service.NewSearch(f.st, f.ix).Search(ctx, access.Principal{UserID: f.users[3].ID},
		service.SearchRequest{Query: "marker3"})
	require.NoError(t, err)
	require.NotEmpty(t, hits)
	require.Equal(t, f.docs[3], hits[0].DocumentID)

	// A queued job that is cancelled before any worker takes it never runs.
	q := f.start(store.KindReEmbed, nil)
	_, err = f.st.RequestReindexCancel(ctx, q.ID)
	require.NoError(t, err)
	require.Equal(t, store.JobCancelled, f.run(q.ID, store.JobCancelled).Status)
	require.Equal(t, v1, f.alias())
}

func TestSearchStaysCorrectThroughoutAReEmbedWhileDocumentsChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fastCatchUp)
	f.seed(5, 2, 200, 50)
	ctx := context.Background()
	identity := f.emb.Identity().String()
	search := service.NewSearch(f.st, f.ix)
	owner := func(doc int) access.Principal { return access.Principal{UserID: f.users[doc%len(f.users)].ID} }
	find := func(p access.Principal, query string) ([]string, error) {
		hits, err := search.Search(ctx, p, service.SearchRequest{Query: query, Limit: 5})
		var docs []string
		for _, h := range hits {
			docs = append(docs, h.DocumentID)
		}
		return docs, err
	}
	share := func(doc string, group *string) {
		var version int64
		require.NoError(t, f.pool.QueryRow(ctx, `UPDATE documents SET group_id = $2, private = false, acl_version = acl_version + 1,
			updated_at = now() WHERE id = $1 RETURNING acl_version`, doc, group).Scan(&version))
		data, err := job.Encode(job.ACLJob{DocumentID: doc, Version: version})
		require.NoError(t, err)
		require.NoError(t, f.runner.Handle(ctx, &queue.Msg{Subject: job.SubjectACL, Data: data}))
	}

	// A reader searches all along and must always find a document nobody touches.
	stop := make(chan struct{})
	var searches atomic.Int64
	var readerErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			docs, err := find(owner(5), "marker5")
			if err == nil && (len(docs) == 0 || docs[0] != f.docs[5]) {
				err = fmt.Errorf("search for marker5 answered %v", docs)
			}
			if err != nil {
				readerErr = err
				return
			}
			searches.Add(1)
		}
	})

	var added, ingesting string
	var window sync.Once
	var bulk sync.Once
	newColl := index.CollectionName(f.emb.Identity(), 2)
	f.runner.afterSave = func(t *task) {
		switch {
		case t.cp.Phase == phaseBulk && t.job.Progress.Done >= 3000:
			bulk.Do(func() {
				added = f.addDocument(f.users[0], "alphaunique alphaunique alphaunique")
				f.deleteDocument(f.docs[10], true)
				f.deleteDocument(f.docs[11], false)
				share(f.docs[12], nil)
			})
		case t.cp.Phase == phaseSwitch:
			// Between the last catch-up and the switch: the window to close.
			window.Do(func() {
				share(f.docs[13], &f.groups[1])
				ingesting = f.insertDocument(f.users[1], "processing", "epsilonunique one", "epsilonunique two")
				chunks, err := f.st.IndexChunksOf(ctx, []string{ingesting})
				require.NoError(f.t, err)
				points, err := f.runner.embedPoints(ctx, f.emb, f.ix.Lexical(), chunks)
				require.NoError(f.t, err)
				require.NoError(f.t, f.ix.Upsert(ctx, points[:1]), "the first batch lands in the old collection")
				wg.Go(func() { finishIngest(f, newColl, ingesting, points[1:]) })
				added += "," + f.addDocument(f.users[2], "deltaunique deltaunique")
			})
		}
	}
	j := f.run(f.start(store.KindReEmbed, nil).ID, store.JobCompleted)
	close(stop)
	wg.Wait()
	require.NoError(t, readerErr)
	require.Positive(t, searches.Load())
	require.Equal(t, newColl, f.alias())
	require.NotEmpty(t, ingesting)
	require.Positive(t, j.Result["catch_up_documents"])

	// The new collection holds exactly what Postgres says: the documents added in the
	// bulk phase and in the window, the one ingested across the switch, none of the
	// deleted ones, and the sharing changes.
	f.requireInSync(newColl, identity)
	for query, p := range map[string]access.Principal{"alphaunique": {UserID: f.users[0].ID},
		"deltaunique": {UserID: f.users[2].ID}, "epsilonunique": {UserID: f.users[1].ID}} {
		docs, err := find(p, query)
		require.NoError(t, err)
		require.NotEmpty(t, docs, query)
	}
	for _, gone := range f.docs[10:12] {
		n, err := f.vs.Count(ctx, newColl, vector.MatchDocument(gone))
		require.NoError(t, err)
		require.Zero(t, n)
	}
}

// finishIngest completes a document whose ingestion straddles the switch: once search
// uses the new collection it writes the rest through the alias and marks it ready.
func finishIngest(f *fixture, newColl, doc string, rest []vector.Point) {
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cur, err := f.vs.ResolveAlias(ctx, index.Alias); err == nil && cur == newColl {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling the alias with a deadline, not synchronising on time
	}
	if err := f.ix.Upsert(ctx, rest); err != nil {
		f.t.Error(err)
		return
	}
	if _, err := f.pool.Exec(ctx, `UPDATE documents SET status = 'ready', ready_at = now(), updated_at = now() WHERE id = $1`, doc); err != nil {
		f.t.Error(err)
	}
}
