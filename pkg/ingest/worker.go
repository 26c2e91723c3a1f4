// Package ingest is the ingest worker's job handler: object (fetched first, for a
// document from a URL) → parse → chunk → embed (batched) → upsert vectors → document
// ready, with stage and progress recorded as it goes; and the purge of deleted documents. Every step is idempotent, so a job that
// is delivered twice, or taken over after a crash, ends in the same state.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/bm25"
	"github.com/youworker/youworker/pkg/chunk"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/ocr"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/tracing"
	"github.com/youworker/youworker/pkg/vector"
)

// Objects reads and removes the stored bytes of uploads.
type Objects interface {
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	Delete(ctx context.Context, name string) error
}

// Fetcher fetches the bytes of a document that comes from a URL and records them
// (size, hash, type, object key) before it is parsed; ok is false when the
// document moved on meanwhile. An error that says why the document cannot be
// had (see failure) makes the document fail with its code; others are retried.
type Fetcher interface {
	FetchDocument(ctx context.Context, doc store.Document) (_ store.Document, ok bool, err error)
}

// failure is an error that is a document's terminal failure, other than a parse
// error: a URL that may not or could not be fetched.
type failure interface {
	error
	FailureCode() string
	FailureMessage() string
}

// Config tunes the worker.
type Config struct {
	// Fetcher fetches documents from URLs; nil fails them with fetch_failed.
	Fetcher Fetcher
	Limits  parse.Limits
	Chunk   chunk.Options
	// BatchSize is the number of chunks per embedding request.
	BatchSize int
	// EmbedConcurrency bounds the embedding requests in flight across all
	// documents the worker runs at once. One pool rather than a share per job,
	// because a job spends part of its life downloading, parsing and finishing,
	// when a share of its own would sit idle while another document has batches
	// waiting. 0 means 8.
	EmbedConcurrency int
	// TmpDir holds downloaded objects while they are parsed; "" is the system default.
	TmpDir string
	// Metrics records stage durations and document outcomes; nil records nothing.
	Metrics *Metrics
	// EmbedMetrics records the embedding requests; nil records nothing.
	EmbedMetrics *embed.Metrics
	// OCR reads the scanned pages and pictures of documents; nil reads none,
	// and a document whose only text is in them fails with needs_ocr.
	OCR ocr.Reader
	// OCRConcurrency bounds the pages being read at once across all documents
	// of the worker; 0 means 2.
	OCRConcurrency int
}

// Worker handles ingest and delete jobs.
type Worker struct {
	store   *store.Store
	objects Objects
	index   *index.Index
	cfg     Config
	logger  *slog.Logger
	// embedSlots bounds the embedding requests in flight across all documents.
	embedSlots *slotPool
	// ocrSlots bounds the pages being read at once across all documents.
	ocrSlots chan struct{}
}

// New returns the worker.
func New(st *store.Store, objects Objects, ix *index.Index, cfg Config, logger *slog.Logger) *Worker {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 16
	}
	if cfg.EmbedConcurrency <= 0 {
		cfg.EmbedConcurrency = 8
	}
	if cfg.OCRConcurrency <= 0 {
		cfg.OCRConcurrency = 2
	}
	return &Worker{store: st, objects: objects, index: ix, cfg: cfg, logger: logger.With("component", "ingest"),
		embedSlots: newSlotPool(cfg.EmbedConcurrency), ocrSlots: make(chan struct{}, cfg.OCRConcurrency)}
}

// Handle runs one job from the ingest consumer.
func (w *Worker) Handle(ctx context.Context, m *queue.Msg) error {
	switch m.Subject {
	case job.SubjectIngest:
		var j job.IngestJob
		if err := job.Decode(m.Data, &j); err != nil {
			return err
		}
		return w.ingest(ctx, j.DocumentID)
	case job.SubjectDelete:
		var j job.DeleteJob
		if err := job.Decode(m.Data, &j); err != nil {
			return err
		}
		return w.purge(ctx, j.DocumentID)
	}
	return job.Permanent(fmt.Errorf("unexpected subject %q", m.Subject))
}

// OnDeadLetter marks the document of a job that exhausted its deliveries as failed,
// so nothing stays processing forever.
func (w *Worker) OnDeadLetter(ctx context.Context, m *queue.Msg, reason error) {
	if m.Subject != job.SubjectIngest {
		w.logger.ErrorContext(ctx, "job dead-lettered", "subject", m.Subject, "error", reason)
		return
	}
	var j job.IngestJob
	if err := job.Decode(m.Data, &j); err != nil || j.DocumentID == "" {
		w.logger.ErrorContext(ctx, "undecodable ingest job dead-lettered", "error", reason)
		return
	}
	// The reason is internal (a store or model error): the log keeps it, with the
	// correlation id, and the owner reads a sentence.
	w.logger.ErrorContext(ctx, "ingest job dead-lettered: the document is marked failed", "document_id", j.DocumentID, "error", reason)
	msg := "processing failed repeatedly; try again later, and if it fails again ask an administrator to look at the server log"
	switch {
	case errors.Is(reason, embed.ErrUnavailable):
		msg = "the embedding model did not answer; try again when it is back"
	case errors.Is(reason, ocr.ErrUnavailable):
		msg = "the model that reads scanned pages and pictures did not answer; try again when it is back"
	}
	if _, err := w.store.MarkFailed(ctx, j.DocumentID, 0, "worker_gave_up", msg); err != nil {
		w.logger.ErrorContext(ctx, "mark document failed", "document_id", j.DocumentID, "error", err)
	}
}

func (w *Worker) ingest(ctx context.Context, id string) (err error) {
	doc, err := w.store.GetDocument(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted and purged already
	}
	if err != nil {
		return err
	}
	doc, ok, err := w.store.StartProcessing(ctx, id, doc.Generation)
	if err != nil || !ok {
		return err // !ok: ready, failed, deleted or re-queued meanwhile; nothing to do
	}
	log := queue.Logger(ctx, w.logger).With("document_id", id, "generation", doc.Generation)
	clock := w.cfg.Metrics.clock()
	defer func() {
		if err != nil {
			w.cfg.Metrics.document(OutcomeError, doc.Format)
		}
	}()
	if doc.SourceURL != nil {
		// Fetched within the parsing stage, so a document from a URL goes through
		// the same stages as an upload. Every delivery fetches again: a job taken
		// over after a crash records the same bytes, or the page as it is now.
		if w.cfg.Fetcher == nil {
			return w.fail(ctx, log, doc, parse.Errorf(fetchFailed, "this worker does not fetch documents from URLs"))
		}
		fetched, ok, err := w.cfg.Fetcher.FetchDocument(ctx, doc)
		if err != nil {
			return w.fail(ctx, log, doc, err)
		}
		if !ok {
			return nil // deleted or re-queued meanwhile
		}
		doc = fetched
	}

	parsed, err := w.parse(ctx, doc, clock)
	if err != nil {
		return w.fail(ctx, log, doc, err)
	}
	if err := w.readScans(ctx, log, doc, parsed, clock); err != nil {
		return w.fail(ctx, log, doc, err)
	}
	if err := w.store.SetStage(ctx, id, doc.Generation, "chunking", 0, 0); err != nil {
		return err
	}
	_, chunkSpan := tracing.Start(ctx, "ingest.chunk")
	chunks, err := chunk.Split(parsed, w.cfg.Chunk)
	chunkSpan.SetAttributes(attribute.Int("ingest.chunks", len(chunks)))
	chunkSpan.End()
	if err != nil {
		return w.fail(ctx, log, doc, &parse.Error{Code: parse.CodeTooLarge, Message: "the document yields more chunks than allowed", Err: err})
	}
	if len(chunks) == 0 {
		return w.fail(ctx, log, doc, parse.Errorf(parse.CodeEmpty, "the document contains no text to index"))
	}
	clock.lap(StageChunk)
	rows := make([]store.Chunk, len(chunks))
	for i, c := range chunks {
		rows[i] = store.Chunk{DocumentID: id, Index: c.Index, Text: c.Text, HeadingPath: c.HeadingPath, Tokens: c.Tokens}
		if c.Page > 0 {
			page := c.Page
			rows[i].Page = &page
		}
	}
	// The chunk rows, the removal of stale points and the new points are
	// independent until the document is marked ready: stale points are those
	// past the new chunk count or of another embedder, never one this run
	// writes, and nothing reads a document's chunks or points before it is
	// ready. So the two round trips run while the embedder works rather than
	// before or after it, where they would leave it idle.
	// One embedder for the whole document, so the identity recorded as ready is the
	// one its points carry even when a re-embed switches the index meanwhile.
	embedder, lexical := w.index.Embedder(), w.index.Lexical()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return w.store.InTx(gctx, func(st *store.Store) error { return st.ReplaceChunks(gctx, id, rows) })
	})
	g.Go(func() error { return w.index.DeleteStale(gctx, id, len(rows)) })
	g.Go(func() error { return w.embedAndIndex(gctx, doc, rows, embedder, lexical, clock) })
	if err := g.Wait(); err != nil {
		if errors.Is(err, index.ErrEmbedderChanged) {
			return job.RetryAfter(time.Second, err) // the index moved to a new embedder: redo with it
		}
		return err
	}
	ready, err := w.store.MarkReady(ctx, id, doc.Generation, len(rows), embedder.Identity().String())
	if err != nil {
		return err
	}
	if !ready {
		// Deleted (or re-queued) while we worked: make sure no vectors of ours outlive it.
		if cur, err := w.store.GetDocument(ctx, id); errors.Is(err, store.ErrNotFound) || (err == nil && cur.DeletedAt != nil) {
			return w.index.DeleteDocument(ctx, id)
		}
		return nil
	}
	clock.lap(StageIndex)
	w.cfg.Metrics.document(OutcomeReady, doc.Format)
	log.InfoContext(ctx, "document ready", "chunks", len(rows), "format", doc.Format, "size_bytes", doc.SizeBytes)
	return nil
}

// parse downloads the object to a temporary file (parsers need random access) and
// parses it within the limits.
func (w *Worker) parse(ctx context.Context, doc store.Document, clock *stageClock) (_ *parse.Document, err error) {
	ctx, span := tracing.Start(ctx, "ingest.parse", attribute.String("document.format", doc.Format), attribute.Int64("document.size_bytes", doc.SizeBytes))
	defer tracing.End(span, &err)
	rc, err := w.objects.Get(ctx, doc.ObjectKey)
	if err != nil {
		return nil, fmt.Errorf("open object: %w", err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(w.cfg.TmpDir, "yw-ingest-*")
	if err != nil {
		return nil, fmt.Errorf("create temp file: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	size, err := io.Copy(tmp, rc)
	if err != nil {
		return nil, fmt.Errorf("download object: %w", err)
	}
	clock.lap(StageFetch)
	parsed, err := parse.Parse(ctx, parse.Format(doc.Format), tmp, size, w.cfg.Limits)
	if err == nil {
		clock.lap(StageParse)
	}
	return parsed, err
}

// fetchFailed is the failure code of a document whose URL could not be fetched.
const fetchFailed = "fetch_failed"

// fail records a parse-type failure, or a fetch failure, as the document's
// terminal state. Other errors are returned so the queue retries them.
func (w *Worker) fail(ctx context.Context, log *slog.Logger, doc store.Document, err error) error {
	var code, msg string
	var pe *parse.Error
	var f failure
	switch {
	case errors.As(err, &pe):
		code, msg = pe.Code, pe.Message
	case errors.As(err, &f):
		code, msg = f.FailureCode(), f.FailureMessage()
	default:
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: let another worker take it
	}
	log.WarnContext(ctx, "document failed", "code", code, "error", err)
	if _, err := w.store.MarkFailed(ctx, doc.ID, doc.Generation, code, msg); err != nil {
		return err
	}
	w.cfg.Metrics.document(OutcomeFailed, doc.Format)
	return nil
}

// maxUpsert bounds the points of one vector upsert. Embedding requests stay
// small (BatchSize texts, the embedder's sweet spot) while upserts are large:
// each upsert is a durable write to the vector store, so its fixed cost (an
// fsync, a progress UPDATE) is paid once per up to maxUpsert chunks.
const maxUpsert = 256

// embedAndIndex embeds the chunks in batches with bounded concurrency and hands
// the vectors to an indexer, which upserts whatever has been embedded whenever
// an upsert may start; progress is recorded after each upsert. Each point also
// carries the chunk's lexical vector when the index has them (lexical not nil).
//
// Memory stays bounded: embedders block once the indexer is a channel's worth of
// batches behind. Point ids are deterministic, so a job cut short and redone
// overwrites what it had written.
func (w *Worker) embedAndIndex(ctx context.Context, doc store.Document, rows []store.Chunk, embedder embed.Embedder, lexical *bm25.Encoder, clock *stageClock) (err error) {
	ctx, span := tracing.Start(ctx, "ingest.embed", attribute.String("embed.model", embedder.Identity().String()), attribute.Int("ingest.chunks", len(rows)))
	defer tracing.End(span, &err)
	total := len(rows)
	identity := embedder.Identity().String()
	acl := vector.Payload{DocumentID: doc.ID, OwnerID: doc.OwnerID, Private: doc.Private, Embedder: identity, ACLVersion: doc.ACLVersion}
	if doc.GroupID != nil {
		acl.GroupID = *doc.GroupID
	}
	size := w.cfg.BatchSize
	embedded := make(chan []vector.Point, max(1, maxUpsert/size))
	// One send per upsert, and there are at most as many upserts as batches:
	// the indexer never waits for a progress UPDATE.
	progress := make(chan int, (total+size-1)/size)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.recordProgress(gctx, doc, progress, total) })
	g.Go(func() error {
		defer close(progress)
		return w.indexPoints(gctx, embedded, progress, maxUpsert-size)
	})
	g.Go(func() error {
		defer close(embedded)
		// A document may use every slot of the pool, but holds one only for
		// the request itself: a batch waiting for this document's indexer
		// gives its slot to whichever document can use it. local bounds the
		// batches this document has started and not yet handed over, so its
		// memory stays bounded however far the indexer falls behind.
		local := make(chan struct{}, w.cfg.EmbedConcurrency)
		var work errgroup.Group
		wctx, cancel := context.WithCancelCause(gctx)
		defer cancel(nil)
		fail := func(err error) error { cancel(err); return err }
	batches:
		for start := 0; start < total; start += size {
			select {
			case local <- struct{}{}:
			case <-wctx.Done():
				break batches
			}
			if w.embedSlots.acquire(wctx, total-start) != nil {
				break batches
			}
			batch := rows[start:min(start+size, total)]
			work.Go(func() error {
				defer func() { <-local }()
				texts := make([]string, len(batch))
				for i, c := range batch {
					texts[i] = embedText(c)
				}
				vecs, err := w.cfg.EmbedMetrics.Embed(wctx, embedder, texts)
				w.embedSlots.release()
				if err != nil {
					return fail(fmt.Errorf("embed chunks %d-%d: %w", batch[0].Index, batch[len(batch)-1].Index, err))
				}
				points := make([]vector.Point, len(batch))
				for i, c := range batch {
					p := acl
					p.ChunkIndex = c.Index
					points[i] = vector.Point{ID: vector.PointID(doc.ID, c.Index, identity), Vector: vecs[i],
						Sparse: LexicalVector(lexical, texts[i]), Payload: p}
				}
				select {
				case embedded <- points:
					return nil
				case <-wctx.Done():
					return context.Cause(wctx)
				}
			})
		}
		if err := work.Wait(); err != nil {
			return err
		}
		if err := context.Cause(wctx); err != nil {
			return err
		}
		clock.lap(StageEmbed)
		return nil
	})
	return g.Wait()
}

// upsertsInFlight is how many upserts of one document may run at once. Two
// let a large upsert start while a small first one is still waiting for its
// fsync, and both then share one (the vector store commits concurrent writes
// together), instead of paying for two in a row.
const upsertsInFlight = 2

// indexPoints upserts embedded batches until in is closed, sending the number
// of chunks indexed so far after each upsert. Once an upsert may start, it
// waits for one batch, then takes every batch already waiting while the upsert
// has room (fill is the size past which another batch might not fit), so
// upserts grow when the vector store is the slower side and stay prompt when it
// is not.
func (w *Worker) indexPoints(ctx context.Context, in <-chan []vector.Point, progress chan<- int, fill int) error {
	g, gctx := errgroup.WithContext(ctx)
	slots := make(chan struct{}, upsertsInFlight)
	var mu sync.Mutex // orders progress sends, so counts only grow
	done := 0
	upsert := func(points []vector.Point) error {
		defer func() { <-slots }()
		if err := w.index.Upsert(gctx, points); err != nil {
			return fmt.Errorf("upsert chunks: %w", err)
		}
		mu.Lock()
		done += len(points)
		progress <- done
		mu.Unlock()
		return nil
	}
	// gctx ends when an upsert fails or ctx does.
	stopped := func() error {
		if err := g.Wait(); err != nil {
			return err
		}
		return ctx.Err()
	}
	for {
		// Take a slot before collecting: batches embedded while both slots
		// were busy join this upsert.
		select {
		case slots <- struct{}{}:
		case <-gctx.Done():
			return stopped()
		}
		var buf []vector.Point
		select {
		case batch, ok := <-in:
			if !ok {
				return g.Wait()
			}
			buf = append(make([]vector.Point, 0, maxUpsert), batch...)
		case <-gctx.Done():
			return stopped()
		}
	collect:
		for len(buf) <= fill {
			select {
			case batch, ok := <-in:
				if !ok {
					break collect // the next receive sees the close
				}
				buf = append(buf, batch...)
			default:
				break collect
			}
		}
		g.Go(func() error { return upsert(buf) })
	}
}

// recordProgress enters the embedding stage, then writes the latest count of
// indexed chunks whenever it changes, skipping counts superseded while the
// previous UPDATE ran: one write per round trip to Postgres, however fast the
// indexer goes. The first write runs alongside the first embedding requests
// rather than delaying them.
func (w *Worker) recordProgress(ctx context.Context, doc store.Document, progress <-chan int, total int) error {
	if err := w.store.SetStage(ctx, doc.ID, doc.Generation, "embedding", 0, total); err != nil {
		return err
	}
	for done := range progress {
		done = newest(progress, done)
		stage := "embedding"
		if done == total {
			// Every chunk is indexed; what is left is finishing the document.
			stage = "indexing"
		}
		if err := w.store.SetStage(ctx, doc.ID, doc.Generation, stage, done, total); err != nil {
			return err
		}
	}
	return nil
}

// newest returns the last count already waiting in progress, or done when none
// is: a count superseded while the previous UPDATE ran is not written.
func newest(progress <-chan int, done int) int {
	for {
		select {
		case d, ok := <-progress:
			if !ok {
				return done
			}
			done = d
		default:
			return done
		}
	}
}

// embedText is what the embedder sees: the heading path gives a chunk its context.
// LexicalVector is the lexical vector of a chunk's text, or nil without an
// encoder (an index without lexical vectors).
func LexicalVector(enc *bm25.Encoder, text string) *vector.SparseVector {
	if enc == nil {
		return nil
	}
	v, _ := enc.Document(text)
	return &vector.SparseVector{Indices: v.Indices, Values: v.Values}
}

func embedText(c store.Chunk) string {
	if len(c.HeadingPath) == 0 {
		return c.Text
	}
	return strings.Join(c.HeadingPath, " › ") + "\n" + c.Text
}

// purge removes a deleted document's vectors, bytes and rows; safe to repeat.
func (w *Worker) purge(ctx context.Context, id string) error {
	doc, err := w.store.GetDocument(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return w.index.DeleteDocument(ctx, id) // rows gone already; make sure vectors are too
	}
	if err != nil {
		return err
	}
	if doc.DeletedAt == nil {
		return job.Permanent(fmt.Errorf("document %s is not deleted", id))
	}
	if err := w.index.DeleteDocument(ctx, id); err != nil {
		return err
	}
	if err := w.objects.Delete(ctx, doc.ObjectKey); err != nil && !errors.Is(err, queue.ErrObjectNotFound) {
		return err
	}
	return w.store.PurgeDocument(ctx, id)
}
