package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/chunk"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/ingest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/outbox"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

// rig is the ingestion path of one worker process on real infrastructure: a fresh
// database, an embedded JetStream with the production streams, the embedded vector
// store, the upload service and outbox relay in front of the queue.
type rig struct {
	t       *testing.T
	store   *store.Store
	queue   *queuetest.Server
	objects *queue.Objects
	index   *index.Index
	worker  *ingest.Worker
	docs    *service.Documents
	relay   *outbox.Relay
	user    access.Principal
	cfg     ingest.Config
}

func newRig(t *testing.T, embedder embed.Embedder, opts ...queuetest.Option) *rig {
	t.Helper()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	qs := queuetest.Start(t, opts...)
	objs, err := queue.NewObjects(ctx, qs.JS)
	require.NoError(t, err)
	if embedder == nil {
		embedder, err = embed.NewLexical(0)
		require.NoError(t, err)
	}
	ix, err := index.Open(ctx, vectortest.Lite(t), embedder, logging.Discard())
	require.NoError(t, err)
	u, err := st.CreateUser(ctx, "ingest-tester", false)
	require.NoError(t, err)
	r := &rig{t: t, store: st, queue: qs, objects: objs, index: ix, user: access.Principal{UserID: u.ID, Name: u.Name}}
	r.reconfigure(func(c *ingest.Config) {
		*c = ingest.Config{
			Limits:    parse.DefaultLimits(),
			Chunk:     chunk.Options{TargetTokens: 500, OverlapTokens: 60, MaxChunks: 50000},
			BatchSize: 16, EmbedConcurrency: 4,
		}
	})
	r.docs = service.NewDocuments(st, objs, service.NewAuditor(st, logging.Discard()),
		service.DocumentsConfig{MaxUploadBytes: 64 << 20, TmpDir: t.TempDir()}, logging.Discard())
	r.relay = outbox.NewRelay(st, queue.NewPublisher(qs.JS, nil), time.Second, logging.Discard())
	return r
}

// reconfigure changes the worker's configuration (before start).
func (r *rig) reconfigure(change func(*ingest.Config)) {
	change(&r.cfg)
	r.worker = ingest.New(r.store, r.objects, r.index, r.cfg, logging.Discard())
}

// upload stores a file through the upload service and publishes its job; it
// returns the stored row, which the worker's tests look into.
func (r *rig) upload(name string, data []byte) store.Document {
	r.t.Helper()
	ctx := context.Background()
	staged, err := r.docs.Stage(ctx, name, bytes.NewReader(data))
	require.NoError(r.t, err)
	defer staged.Discard()
	docs, err := r.docs.CommitUpload(ctx, r.user, []*service.StagedFile{staged}, service.UploadOptions{})
	require.NoError(r.t, err)
	_, err = r.relay.Flush(ctx)
	require.NoError(r.t, err)
	doc, err := r.store.GetDocument(ctx, docs[0].ID)
	require.NoError(r.t, err)
	return doc
}

// runner is one queue.Run of the ingest consumer.
type runner struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// start runs the ingest consumer with the worker until stop (or the test's end).
func (r *rig) start(opts queue.RunOptions) *runner {
	r.t.Helper()
	if opts.Concurrency == 0 {
		opts.Concurrency = 2
	}
	opts.FetchWait = 200 * time.Millisecond
	opts.OnDeadLetter = r.worker.OnDeadLetter
	ctx, cancel := context.WithCancel(context.Background())
	run := &runner{cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- queue.Run(ctx, r.queue.JS, queue.ConsumerIngest, r.worker.Handle, opts) }()
	r.t.Cleanup(func() { _ = run.stop() })
	return run
}

// stop cancels the runner and waits for it to return.
func (run *runner) stop() error {
	run.once.Do(func() {
		run.cancel()
		select {
		case run.err = <-run.done:
		case <-time.After(30 * time.Second):
			run.err = errors.New("runner did not stop within 30s")
		}
	})
	return run.err
}

// wait polls a document until cond holds, failing after timeout.
func (r *rig) wait(id string, timeout time.Duration, cond func(store.Document) bool) store.Document {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		doc, err := r.store.GetDocument(context.Background(), id)
		require.NoError(r.t, err)
		if cond(doc) {
			return doc
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("document %s still %s (stage %v, progress %+v, error %+v) after %s", id, doc.Status, doc.Stage, doc.Progress, doc.Error, timeout)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

func finished(d store.Document) bool {
	return d.Status == store.StatusReady || d.Status == store.StatusFailed
}

// requireIndexed asserts a ready document has exactly one chunk row and one point
// per chunk.
func (r *rig) requireIndexed(doc store.Document) {
	r.t.Helper()
	ctx := context.Background()
	require.Equal(r.t, store.StatusReady, doc.Status, "error: %+v", doc.Error)
	require.Positive(r.t, doc.ChunkCount)
	n, err := r.index.CountDocument(ctx, doc.ID)
	require.NoError(r.t, err)
	require.EqualValues(r.t, doc.ChunkCount, n, "one point per chunk, no duplicates")
	chunks, err := r.store.ListChunks(ctx, doc.ID, 0, doc.ChunkCount+10)
	require.NoError(r.t, err)
	require.Len(r.t, chunks, doc.ChunkCount)
	for i, c := range chunks {
		require.Equal(r.t, i, c.Index)
	}
}

// largeText is n bytes of varied prose, so it splits into many chunks.
func largeText(n int) []byte {
	words := strings.Fields(`alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november
		oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu harbour lantern meadow river
		summit valley glacier canyon prairie tundra savanna forest orchard vineyard`)
	var b bytes.Buffer
	for p := 0; b.Len() < n; p++ {
		fmt.Fprintf(&b, "Section %d.\n\n", p)
		for s := range 6 {
			fmt.Fprintf(&b, "Sentence %d of paragraph %d mentions", s, p)
			for w := range 12 {
				b.WriteByte(' ')
				b.WriteString(words[(p*7+s*13+w*5)%len(words)])
			}
			b.WriteString(". ")
		}
		b.WriteString("\n\n")
	}
	return b.Bytes()[:n]
}
