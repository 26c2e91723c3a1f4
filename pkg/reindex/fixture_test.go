package reindex

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/postgres/privatepg"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

func TestMain(m *testing.M) {
	// The shared test database pool lives for the whole process.
	// The shared test database pool lives for the whole process, and so does a
	// private test server when no PostgreSQL answered.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreAnyFunction(privatepg.Supervisor))
}

// testDim keeps vectors small so 10k-chunk tests stay fast.
const testDim = 128

// fixture is a real Postgres database, an embedded vector store with the chunk index
// on it, the lexical embedder and a runner.
type fixture struct {
	t      testing.TB
	pool   *pgxpool.Pool
	st     *store.Store
	vs     *vector.Store
	emb    embed.Embedder
	ix     *index.Index
	runner *Runner
	users  []store.User
	groups []string
	docs   []string
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	return newFixtureDim(t, cfg, testDim)
}

// newFixtureDim is a fixture whose lexical embedder has dim dimensions.
func newFixtureDim(t testing.TB, cfg Config, dim int) *fixture {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	vs := vectortest.Lite(t)
	emb, err := embed.NewLexical(dim)
	require.NoError(t, err)
	ix, err := index.Open(context.Background(), vs, emb, logging.Discard())
	require.NoError(t, err)
	st := store.New(pool)
	return &fixture{t: t, pool: pool, st: st, vs: vs, emb: emb, ix: ix, runner: New(st, ix, cfg, logging.Discard())}
}

// seed creates owners, groups and docs×chunks ready documents directly in Postgres,
// and fills the index through the alias the way ingestion does. Chunk 0 of document i
// carries the word marker<i> so tests can find a document by search.
func (f *fixture) seed(users, groups, docs, chunksPer int) {
	t, ctx := f.t, context.Background()
	for i := range users {
		u, err := f.st.CreateUser(ctx, fmt.Sprintf("user%d", i), false)
		require.NoError(t, err)
		f.users = append(f.users, u)
	}
	for g := range groups {
		id, err := f.st.InsertGroup(ctx, fmt.Sprintf("group%d", g), "")
		require.NoError(t, err)
		for i, u := range f.users {
			if i%groups == g {
				_, err := f.st.AddMember(ctx, id, u.ID, store.RoleMember)
				require.NoError(t, err)
			}
		}
		f.groups = append(f.groups, id)
	}
	var docRows, chunkRows [][]any
	start := len(f.docs)
	for i := range docs {
		id := uuid.NewString()
		n := start + i
		owner := f.users[n%len(f.users)]
		var group *string
		if len(f.groups) > 0 && n%3 != 0 {
			g := f.groups[(n%len(f.users))%len(f.groups)]
			group = &g
		}
		sum := sha256.Sum256([]byte(id))
		docRows = append(docRows, []any{id, owner.ID, group, n%7 == 0, fmt.Sprintf("doc%d.txt", n), "text/plain", "text",
			int64(100), hex.EncodeToString(sum[:]), "documents/" + id, "ready", chunksPer, f.emb.Identity().String()})
		for c := range chunksPer {
			text := fmt.Sprintf("document %d part %d about topic%d and subject%d", n, c, c%17, (n+c)%29)
			if c == 0 {
				text = fmt.Sprintf("marker%d marker%d introduction", n, n)
			}
			chunkRows = append(chunkRows, []any{id, c, text, []string{}, 8})
		}
		f.docs = append(f.docs, id)
	}
	_, err := f.pool.CopyFrom(ctx, pgx.Identifier{"documents"}, []string{"id", "owner_id", "group_id", "private", "filename",
		"mime", "format", "size_bytes", "sha256", "object_key", "status", "chunk_count", "embedder"}, pgx.CopyFromRows(docRows))
	require.NoError(t, err)
	_, err = f.pool.CopyFrom(ctx, pgx.Identifier{"chunks"}, []string{"document_id", "chunk_index", "text", "heading_path", "token_count"},
		pgx.CopyFromRows(chunkRows))
	require.NoError(t, err)
	// A long-running database has statistics; a freshly loaded one needs them now.
	_, err = f.pool.Exec(ctx, `ANALYZE documents, chunks`)
	require.NoError(t, err)
	f.indexDocuments(f.docs[start:]...)
}

// indexDocuments writes the documents' points through the alias, as ingestion does.
func (f *fixture) indexDocuments(ids ...string) {
	f.t.Helper()
	ctx := context.Background()
	for start := 0; start < len(ids); start += 200 {
		chunks, err := f.st.IndexChunksOf(ctx, ids[start:min(start+200, len(ids))])
		require.NoError(f.t, err)
		points, err := f.runner.embedPoints(ctx, f.emb, f.ix.Lexical(), chunks)
		require.NoError(f.t, err)
		require.NoError(f.t, f.ix.Upsert(ctx, points))
	}
}

// addDocument records a ready document with the given chunk texts and indexes it
// through the alias, like an upload that finished ingesting.
func (f *fixture) addDocument(owner store.User, texts ...string) string {
	f.t.Helper()
	id := f.insertDocument(owner, "ready", texts...)
	f.indexDocuments(id)
	return id
}

func (f *fixture) insertDocument(owner store.User, status string, texts ...string) string {
	f.t.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	sum := sha256.Sum256([]byte(id))
	_, err := f.pool.Exec(ctx, `INSERT INTO documents (id, owner_id, filename, mime, format, size_bytes, sha256, object_key,
		status, chunk_count, embedder) VALUES ($1, $2, 'added.txt', 'text/plain', 'text', 10, $3, $4, $5, $6, $7)`,
		id, owner.ID, hex.EncodeToString(sum[:]), "documents/"+id, status, len(texts), f.emb.Identity().String())
	require.NoError(f.t, err)
	rows := make([]store.Chunk, len(texts))
	for i, text := range texts {
		rows[i] = store.Chunk{DocumentID: id, Index: i, Text: text, Tokens: 3}
	}
	require.NoError(f.t, f.st.InTx(ctx, func(st *store.Store) error { return st.ReplaceChunks(ctx, id, rows) }))
	return id
}

// deleteDocument deletes a document the way the API and the purge job do: hidden at
// once, vectors removed through the alias, and (purge) the row removed.
func (f *fixture) deleteDocument(id string, purge bool) {
	f.t.Helper()
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `UPDATE documents SET deleted_at = now(), status = 'deleting', updated_at = now() WHERE id = $1`, id)
	require.NoError(f.t, err)
	require.NoError(f.t, f.ix.DeleteDocument(ctx, id))
	if purge {
		require.NoError(f.t, f.st.PurgeDocument(ctx, id))
	}
}

// start records a queued job of kind.
func (f *fixture) start(kind string, params map[string]any) store.ReindexJob {
	f.t.Helper()
	j, err := f.st.CreateReindexJob(context.Background(), kind, params, nil)
	require.NoError(f.t, err)
	return j
}

// handle delivers the job's message to the runner, as the queue would.
func (f *fixture) handle(ctx context.Context, jobID string) error {
	data, err := job.Encode(job.ReindexJob{JobID: jobID})
	require.NoError(f.t, err)
	return f.runner.Handle(ctx, &queue.Msg{Subject: job.SubjectReindex, Data: data, Delivery: 1, MaxDeliver: 5})
}

// run delivers the job and requires it to end with status; only a failed job tells
// the queue so.
func (f *fixture) run(jobID, status string) store.ReindexJob {
	f.t.Helper()
	err := f.handle(context.Background(), jobID)
	if status == store.JobFailed {
		require.True(f.t, job.IsPermanent(err), "a failed job is not retried: %v", err)
	} else {
		require.NoError(f.t, err)
	}
	j := f.job(jobID)
	require.Equal(f.t, status, j.Status, "error: %v", j.Error)
	return j
}

func (f *fixture) job(id string) store.ReindexJob {
	f.t.Helper()
	j, err := f.st.GetReindexJob(context.Background(), id)
	require.NoError(f.t, err)
	return j
}

// points returns every point of a collection (or alias) by id.
func (f *fixture) points(collection string) map[string]vector.Payload {
	f.t.Helper()
	out := map[string]vector.Payload{}
	err := f.vs.ScrollAll(context.Background(), collection, nil, vector.ScrollOptions{PageSize: 4096}, func(page []vector.Point) error {
		for _, p := range page {
			out[p.ID] = p.Payload
		}
		return nil
	})
	require.NoError(f.t, err)
	return out
}

// expected is what the index must hold according to Postgres: one point per chunk of
// every ready, live document, with its access fields.
func (f *fixture) expected(embedder string) map[string]vector.Payload {
	f.t.Helper()
	ctx := context.Background()
	out := map[string]vector.Payload{}
	after := ""
	for {
		docs, err := f.st.DocumentsAfter(ctx, store.ReadyDocuments, after, 500)
		require.NoError(f.t, err)
		if len(docs) == 0 {
			return out
		}
		ids := make([]string, len(docs))
		for i, d := range docs {
			ids[i] = d.ID
		}
		chunks, err := f.st.IndexChunksOf(ctx, ids)
		require.NoError(f.t, err)
		for _, c := range chunks {
			out[vector.PointID(c.DocumentID, c.Index, embedder)] = payloadOf(c, embedder)
		}
		after = docs[len(docs)-1].ID
	}
}

// requireInSync requires the collection to hold exactly what Postgres says.
func (f *fixture) requireInSync(collection, embedder string) {
	f.t.Helper()
	want, got := f.expected(embedder), f.points(collection)
	require.Equal(f.t, len(want), len(got), "point count of %s", collection)
	for id, p := range want {
		require.Equal(f.t, p, got[id], "point %s (document %s chunk %d)", id, p.DocumentID, p.ChunkIndex)
	}
}

// alias is the collection search uses now.
func (f *fixture) alias() string {
	f.t.Helper()
	c, err := f.vs.ResolveAlias(context.Background(), index.Alias)
	require.NoError(f.t, err)
	return c
}
