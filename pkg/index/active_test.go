package index_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/bm25"
	"github.com/youworker/youworker/pkg/chunk"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/ingest"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/ollamahttp"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/postgres/privatepg"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/reindex"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The shared test database pool lives for the whole process, and so does
		// a private test server when no PostgreSQL answered.
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreAnyFunction(privatepg.Supervisor),
		// nats.go starts this with the first async publish (object store uploads); when
		// the connection closes before it reads its status channel, the channel is nil
		// and it blocks for good. The connection itself is closed by queuetest.
		goleak.IgnoreAnyFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"))
}

// otherModel is the model a re-embed moves to; the test server answers it with
// another dimension.
const otherModel = "other-embed"

// world is the infrastructure several programs share: one database, one vector
// store, one object store and one Ollama, reached through a switch that can take
// Ollama down and bring it back.
type world struct {
	t       *testing.T
	st      *store.Store
	vs      *vector.Store
	objects *queue.Objects
	llm     *llmtest.Server
	down    atomic.Bool
	ollama  string // the URL programs use, through the switch
	user    access.Principal
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	w := &world{t: t, st: store.New(pool), vs: vectortest.Lite(t), llm: llmtest.New(t)}
	qs := queuetest.Start(t)
	objs, err := queue.NewObjects(ctx, qs.JS)
	require.NoError(t, err)
	w.objects = objs
	target, err := url.Parse(w.llm.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	sw := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if w.down.Load() {
			http.Error(rw, "ollama is down", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(rw, r)
	}))
	t.Cleanup(func() {
		sw.CloseClientConnections()
		sw.Close()
	})
	w.ollama = sw.URL
	u, err := w.st.CreateUser(ctx, "follower", false)
	require.NoError(t, err)
	w.user = access.Principal{UserID: u.ID, Name: u.Name}
	return w
}

// program is what one process of the platform holds: its index, an ingest worker,
// the search service and a reindex runner, all on that one index.
type program struct {
	w        *world
	ix       *index.Index
	initials *atomic.Int32
	worker   *ingest.Worker
	search   *service.Search
	runner   *reindex.Runner
}

// start opens a program configured with the test embedding model, as platform.Open
// does: the first collection is picked by embed.Select (which falls back to the
// lexical embedder when Ollama does not answer), everything else by the record.
func (w *world) start(refreshEvery time.Duration) *program {
	w.t.Helper()
	return w.startWith(refreshEvery, embed.Spec{Provider: embed.ProviderOllama, Model: llmtest.EmbedModel})
}

// startWith is start with another configured embedder (YW_EMBED_MODEL, or none).
func (w *world) startWith(refreshEvery time.Duration, configured embed.Spec) *program {
	w.t.Helper()
	ctx := context.Background()
	ollama := embed.OllamaConfig{URL: w.ollama, Settings: ollamahttp.Settings{MaxRetries: -1}, Timeout: 10 * time.Second}
	initials := &atomic.Int32{}
	ix, err := index.OpenActive(ctx, w.vs, index.Config{
		States:       w.st,
		Ollama:       ollama,
		Configured:   configured,
		RefreshEvery: refreshEvery,
		Initial: func(ctx context.Context) (embed.Embedder, error) {
			initials.Add(1)
			cfg := ollama
			cfg.Model = llmtest.EmbedModel
			return embed.Select(ctx, embed.Config{Ollama: cfg, LexicalDim: 64}, logging.Discard())
		},
	}, logging.Discard())
	require.NoError(w.t, err)
	w.t.Cleanup(ix.Close)
	return &program{
		w: w, ix: ix, initials: initials,
		worker: ingest.New(w.st, w.objects, ix, ingest.Config{
			Limits:    parse.DefaultLimits(),
			Chunk:     chunk.Options{TargetTokens: 40, OverlapTokens: 5, MaxChunks: 1000},
			BatchSize: 4, EmbedConcurrency: 2,
		}, logging.Discard()),
		search: service.NewSearch(w.st, ix),
		runner: reindex.New(w.st, ix, reindex.Config{
			CatchUpMargin: time.Millisecond, PollEvery: 10 * time.Millisecond,
			Embedders: func(ctx context.Context, model string) (embed.Embedder, error) {
				o, err := embed.NewOllama(embed.OllamaConfig{URL: w.ollama, Model: model}, logging.Discard())
				if err != nil {
					return nil, err
				}
				return o, o.Probe(ctx)
			},
		}, logging.Discard()),
	}
}

// upload stores a text file as the API does and returns its document id.
func (p *program) upload(name, text string) string {
	p.w.t.Helper()
	ctx := context.Background()
	docs := service.NewDocuments(p.w.st, p.w.objects, service.NewAuditor(p.w.st, logging.Discard()),
		service.DocumentsConfig{MaxUploadBytes: 1 << 20, TmpDir: p.w.t.TempDir()}, logging.Discard())
	staged, err := docs.Stage(ctx, name, bytes.NewReader([]byte(text)))
	require.NoError(p.w.t, err)
	defer staged.Discard()
	out, err := docs.CommitUpload(ctx, p.w.user, []*service.StagedFile{staged}, service.UploadOptions{})
	require.NoError(p.w.t, err)
	return out[0].ID
}

// ingest delivers the document's ingest job to the worker, as the queue would.
func (p *program) ingest(id string) error {
	p.w.t.Helper()
	data, err := job.Encode(job.IngestJob{DocumentID: id})
	require.NoError(p.w.t, err)
	return p.worker.Handle(context.Background(), &queue.Msg{Subject: job.SubjectIngest, Data: data, Delivery: 1, MaxDeliver: 5})
}

// reEmbed runs a re-embed job through the runner to completion.
func (p *program) reEmbed(params map[string]any) store.ReindexJob {
	p.w.t.Helper()
	ctx := context.Background()
	j, err := p.w.st.CreateReindexJob(ctx, store.KindReEmbed, params, nil)
	require.NoError(p.w.t, err)
	data, err := job.Encode(job.ReindexJob{JobID: j.ID})
	require.NoError(p.w.t, err)
	require.NoError(p.w.t, p.runner.Handle(ctx, &queue.Msg{Subject: job.SubjectReindex, Data: data, Delivery: 1, MaxDeliver: 5}))
	j, err = p.w.st.GetReindexJob(ctx, j.ID)
	require.NoError(p.w.t, err)
	require.Equal(p.w.t, store.JobCompleted, j.Status, "error: %v", j.Error)
	return j
}

// points returns the document's points behind the alias, with their vectors.
func (w *world) points(documentID string) []vector.Point {
	w.t.Helper()
	var out []vector.Point
	err := w.vs.ScrollAll(context.Background(), index.Alias, vector.MatchDocument(documentID),
		vector.ScrollOptions{WithVectors: true}, func(page []vector.Point) error {
			out = append(out, page...)
			return nil
		})
	require.NoError(w.t, err)
	return out
}

// requireEmbeddedBy requires the document to be ready with every point made by id.
func (w *world) requireEmbeddedBy(documentID string, id embed.Identity) {
	w.t.Helper()
	doc, err := w.st.GetDocument(context.Background(), documentID)
	require.NoError(w.t, err)
	require.Equal(w.t, store.StatusReady, doc.Status)
	pts := w.points(documentID)
	require.Len(w.t, pts, doc.ChunkCount)
	for _, p := range pts {
		require.Equal(w.t, id.String(), p.Payload.Embedder)
		require.Len(w.t, p.Vector, id.Dim)
	}
}

func (w *world) state() store.VectorIndex {
	w.t.Helper()
	s, err := w.st.GetVectorIndex(context.Background(), index.Alias)
	require.NoError(w.t, err)
	return s
}

const volcanoText = "The volcano erupted and basalt lava flowed into the valley. Geologists measured the lava temperature."
const glacierText = "The glacier retreated and meltwater carved a fjord. Surveyors mapped the glacier moraine."

func TestReEmbedToAnotherModelIsFollowedWithoutRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	first := embed.Identity{Name: "ollama:" + llmtest.EmbedModel, Dim: llmtest.DefaultEmbedDim}
	api := w.start(time.Hour) // refreshes only when told to, or on a write

	// The first open records the first collection, with what rebuilds its embedder.
	s1 := w.state()
	require.Equal(t, store.VectorIndex{Alias: index.Alias, Collection: index.CollectionName(first, 1), Embedder: first.String(),
		Provider: embed.ProviderOllama, Model: llmtest.EmbedModel, Dim: first.Dim, Lexical: defaultLexical(), SwitchedAt: s1.SwitchedAt}, s1)
	volcano := api.upload("volcano.txt", volcanoText)
	require.NoError(t, api.ingest(volcano))
	w.requireEmbeddedBy(volcano, first)

	// A worker in another process, which will not have looked at the record when
	// the switch happens.
	other := w.start(time.Hour)
	require.Equal(t, first, other.ix.Embedder().Identity())

	// Re-embed with another model, of another dimension, through the real job.
	w.llm.AddModel(otherModel)
	w.llm.SetEmbedDim(48)
	next := embed.Identity{Name: "ollama:" + otherModel, Dim: 48}
	done := api.reEmbed(map[string]any{"embed_model": otherModel})
	require.Equal(t, index.CollectionName(next, 2), done.Result["collection"])

	// The switch recorded the new state in the same step.
	// The new collection's lexical vectors are normalised against the average
	// length of the chunks the job measured, not the default.
	s2 := w.state()
	require.NotNil(t, s2.Lexical)
	require.InDelta(t, float64(len(strings.Fields(volcanoText)))/2, s2.Lexical.AvgLen, 8, "about half the words are stop words")
	require.Equal(t, store.VectorIndex{Alias: index.Alias, Collection: index.CollectionName(next, 2), Embedder: next.String(),
		Provider: embed.ProviderOllama, Model: otherModel, Dim: 48, SwitchedAt: s2.SwitchedAt,
		Lexical: &store.LexicalIndex{Encoder: bm25.Name, K1: bm25.DefaultK1, B: bm25.DefaultB, AvgLen: s2.Lexical.AvgLen}}, s2)
	require.True(t, s2.SwitchedAt.After(s1.SwitchedAt))

	// The process that ran the job searches and ingests with the new model at once.
	require.Equal(t, next, api.ix.Embedder().Identity())
	hits, err := api.search.Search(ctx, w.user, service.SearchRequest{Query: "volcano lava"})
	require.NoError(t, err)
	require.NotEmpty(t, hits)
	require.Equal(t, volcano, hits[0].DocumentID)
	w.requireEmbeddedBy(volcano, next)
	glacier := api.upload("glacier.txt", glacierText)
	require.NoError(t, api.ingest(glacier))
	w.requireEmbeddedBy(glacier, next)
	doc, err := w.st.GetDocument(ctx, glacier)
	require.NoError(t, err)
	require.Equal(t, next.String(), *doc.Embedder)

	// The other process still holds the old embedder. A query it embedded with the
	// old model fails as unavailable (a 503 to retry) and the retry uses the new one.
	require.Equal(t, first, other.ix.Embedder().Identity())
	_, err = other.ix.Search(ctx, llmtest.Vector("glacier", first.Dim), nil, 5)
	require.ErrorIs(t, err, index.ErrEmbedderChanged)
	require.ErrorIs(t, err, embed.ErrUnavailable)
	require.Equal(t, next, other.ix.Embedder().Identity())
	hits, err = other.search.Search(ctx, w.user, service.SearchRequest{Query: "glacier fjord"})
	require.NoError(t, err)
	require.NotEmpty(t, hits)
	require.Equal(t, glacier, hits[0].DocumentID)

	// Neither process started the embedder selection again.
	require.EqualValues(t, 1, api.initials.Load())
	require.Zero(t, other.initials.Load())

	// A restart picks up the recorded state, not the configured model.
	restarted := w.start(time.Hour)
	require.Equal(t, next, restarted.ix.Embedder().Identity())
	require.Zero(t, restarted.initials.Load())
	hits, err = restarted.search.Search(ctx, w.user, service.SearchRequest{Query: "volcano lava"})
	require.NoError(t, err)
	require.Equal(t, volcano, hits[0].DocumentID)
}

func TestStaleWriterIsRefusedAndRetriesWithTheNewEmbedder(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	api := w.start(time.Hour)
	worker := w.start(time.Hour)
	first := worker.ix.Embedder()

	// Same dimension, another model: the vector store alone would take the old
	// model's vectors into the new collection.
	w.llm.AddModel(otherModel)
	api.reEmbed(map[string]any{"embed_model": otherModel})
	next := embed.Identity{Name: "ollama:" + otherModel, Dim: llmtest.DefaultEmbedDim}

	doc := worker.upload("volcano.txt", volcanoText)
	vecs, err := first.Embed(ctx, []string{volcanoText})
	require.NoError(t, err)
	stale := []vector.Point{{ID: vector.PointID(doc, 0, first.Identity().String()), Vector: vecs[0],
		Payload: vector.Payload{DocumentID: doc, OwnerID: w.user.UserID, Embedder: first.Identity().String()}}}
	err = worker.ix.Upsert(ctx, stale)
	require.ErrorIs(t, err, index.ErrEmbedderChanged)
	require.ErrorIs(t, err, embed.ErrUnavailable)
	require.Empty(t, w.points(doc))

	// The refused write refreshed the worker: the retry of the job succeeds.
	require.Equal(t, next, worker.ix.Embedder().Identity())
	require.NoError(t, worker.ingest(doc))
	w.requireEmbeddedBy(doc, next)
}

func TestWatchFollowsASwitchMadeElsewhere(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	api := w.start(time.Hour)
	watcher := w.start(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		watcher.ix.Watch(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})

	w.llm.AddModel(otherModel)
	w.llm.SetEmbedDim(40)
	api.reEmbed(map[string]any{"embed_model": otherModel})
	next := embed.Identity{Name: "ollama:" + otherModel, Dim: 40}
	require.Eventually(t, func() bool { return watcher.ix.Embedder().Identity() == next }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, watcher.ix.CheckEmbedder(context.Background()), "readiness checks the active embedder")
}

func TestOllamaDownAtStartDoesNotFallBackToLexical(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	first := embed.Identity{Name: "ollama:" + llmtest.EmbedModel, Dim: llmtest.DefaultEmbedDim}
	before := w.start(time.Hour)
	volcano := before.upload("volcano.txt", volcanoText)
	require.NoError(t, before.ingest(volcano))

	// A worker (re)starts while Ollama is down: embed.Select would pick the lexical
	// embedder, but the record says the collection holds Ollama vectors.
	w.down.Store(true)
	worker := w.start(time.Hour)
	require.Zero(t, worker.initials.Load(), "the configured model decides only the first collection")
	require.Equal(t, first, worker.ix.Embedder().Identity())
	require.ErrorIs(t, worker.ix.CheckEmbedder(ctx), embed.ErrUnavailable, "readiness reports the active embedder")

	// Ingestion fails with a retryable error and writes nothing.
	glacier := worker.upload("glacier.txt", glacierText)
	err := worker.ingest(glacier)
	require.ErrorIs(t, err, embed.ErrUnavailable)
	require.False(t, job.IsPermanent(err), "the queue retries it later")
	require.Empty(t, w.points(glacier))
	var lexical int
	err = w.vs.ScrollAll(ctx, index.Alias, nil, vector.ScrollOptions{}, func(page []vector.Point) error {
		for _, p := range page {
			if p.Payload.Embedder != first.String() {
				lexical++
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Zero(t, lexical, "no vectors of another embedder in the collection")

	// Search degrades to the lexical index; dense search answers 503 with a clear
	// message.
	hits, err := worker.search.Search(ctx, w.user, service.SearchRequest{Query: "volcano"})
	require.NoError(t, err)
	require.NotEmpty(t, hits)
	require.Nil(t, hits[0].Matched.Dense)
	_, err = worker.search.Search(ctx, w.user, service.SearchRequest{Query: "volcano", Mode: "dense"})
	require.Equal(t, service.CodeUnavailable, service.ErrorCode(err), "error: %v", err)
	var se *service.Error
	require.ErrorAs(t, err, &se)
	require.Contains(t, se.Message, "embedding model")

	// Ollama is back: the retry succeeds with the Ollama embedder.
	w.down.Store(false)
	require.NoError(t, worker.ingest(glacier))
	w.requireEmbeddedBy(glacier, first)
	require.NoError(t, worker.ix.CheckEmbedder(ctx))
}

func TestFirstOpenWithoutOllamaRecordsTheLexicalCollection(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.down.Store(true)
	p := w.start(time.Hour)
	lexical := embed.Identity{Name: "lexical-v1", Dim: 64}
	require.Equal(t, lexical, p.ix.Embedder().Identity())
	s := w.state()
	require.Equal(t, store.VectorIndex{Alias: index.Alias, Collection: index.CollectionName(lexical, 1), Embedder: lexical.String(),
		Provider: embed.ProviderLexical, Dim: 64, Lexical: defaultLexical(), SwitchedAt: s.SwitchedAt}, s)

	// Ollama comes up later; the lexical collection stays until a re-embed, and a
	// re-embed without embed_model builds with the configured model.
	w.down.Store(false)
	again := w.start(time.Hour)
	require.Equal(t, lexical, again.ix.Embedder().Identity())
	done := again.reEmbed(nil)
	configured := embed.Identity{Name: "ollama:" + llmtest.EmbedModel, Dim: llmtest.DefaultEmbedDim}
	require.Equal(t, index.CollectionName(configured, 2), done.Result["collection"])
	require.Equal(t, configured, again.ix.Embedder().Identity())
	require.Equal(t, configured.String(), w.state().Embedder)
}

func TestOpenPointsTheAliasAtTheRecordedCollection(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	p := w.start(time.Hour)
	recorded := w.state().Collection

	// A re-embed stopped between writing the record and moving the alias.
	require.NoError(t, w.vs.EnsureCollection(ctx, "yw_chunks_stray_v9", 8, vector.Cosine))
	require.NoError(t, w.vs.SwitchAlias(ctx, index.Alias, "yw_chunks_stray_v9"))
	w.start(time.Hour)
	target, err := w.vs.ResolveAlias(ctx, index.Alias)
	require.NoError(t, err)
	require.Equal(t, recorded, target)
	require.Equal(t, llmtest.DefaultEmbedDim, p.ix.Embedder().Identity().Dim)
}

// defaultLexical is how a first collection's lexical vectors are encoded.
func defaultLexical() *store.LexicalIndex {
	return &store.LexicalIndex{Encoder: bm25.Name, K1: bm25.DefaultK1, B: bm25.DefaultB, AvgLen: bm25.DefaultAvgLen}
}
