// Package ingest is the ingest worker's job handler: object → parse → chunk → embed
// (batched) → upsert vectors → document ready, with stage and progress recorded as it
// goes; and the purge of deleted documents. Every step is idempotent, so a job that
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

	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/chunk"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// Objects reads and removes the stored bytes of uploads.
type Objects interface {
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	Delete(ctx context.Context, name string) error
}

// Config tunes the worker.
type Config struct {
	Limits parse.Limits
	Chunk  chunk.Options
	// BatchSize is the number of chunks per embedding request.
	BatchSize int
	// EmbedConcurrency bounds the embedding requests of one document in flight.
	EmbedConcurrency int
	// TmpDir holds downloaded objects while they are parsed; "" is the system default.
	TmpDir string
}

// Worker handles ingest and delete jobs.
type Worker struct {
	store   *store.Store
	objects Objects
	index   *index.Index
	cfg     Config
	logger  *slog.Logger
}

// New returns the worker.
func New(st *store.Store, objects Objects, ix *index.Index, cfg Config, logger *slog.Logger) *Worker {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 16
	}
	if cfg.EmbedConcurrency <= 0 {
		cfg.EmbedConcurrency = 4
	}
	return &Worker{store: st, objects: objects, index: ix, cfg: cfg, logger: logger.With("component", "ingest")}
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
	msg := "processing failed repeatedly: " + reason.Error()
	if _, err := w.store.MarkFailed(ctx, j.DocumentID, 0, "worker_gave_up", truncate(msg, 500)); err != nil {
		w.logger.ErrorContext(ctx, "mark document failed", "document_id", j.DocumentID, "error", err)
	}
}

func (w *Worker) ingest(ctx context.Context, id string) error {
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

	parsed, err := w.parse(ctx, doc)
	if err != nil {
		return w.fail(ctx, log, doc, err)
	}
	if err := w.store.SetStage(ctx, id, doc.Generation, "chunking", 0, 0); err != nil {
		return err
	}
	chunks, err := chunk.Split(parsed, w.cfg.Chunk)
	if err != nil {
		return w.fail(ctx, log, doc, &parse.Error{Code: parse.CodeTooLarge, Message: "the document yields more chunks than allowed", Err: err})
	}
	if len(chunks) == 0 {
		return w.fail(ctx, log, doc, parse.Errorf(parse.CodeEmpty, "the document contains no text to index"))
	}
	rows := make([]store.Chunk, len(chunks))
	for i, c := range chunks {
		rows[i] = store.Chunk{DocumentID: id, Index: c.Index, Text: c.Text, HeadingPath: c.HeadingPath, Tokens: c.Tokens}
		if c.Page > 0 {
			page := c.Page
			rows[i].Page = &page
		}
	}
	if err := w.store.InTx(ctx, func(st *store.Store) error { return st.ReplaceChunks(ctx, id, rows) }); err != nil {
		return err
	}
	if err := w.embedAndIndex(ctx, doc, rows); err != nil {
		return err
	}
	if err := w.store.SetStage(ctx, id, doc.Generation, "indexing", len(rows), len(rows)); err != nil {
		return err
	}
	if err := w.index.DeleteStale(ctx, id, len(rows)); err != nil {
		return err
	}
	ready, err := w.store.MarkReady(ctx, id, doc.Generation, len(rows), w.index.Embedder().Identity().String())
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
	log.InfoContext(ctx, "document ready", "chunks", len(rows), "format", doc.Format, "size_bytes", doc.SizeBytes)
	return nil
}

// parse downloads the object to a temporary file (parsers need random access) and
// parses it within the limits.
func (w *Worker) parse(ctx context.Context, doc store.Document) (*parse.Document, error) {
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
	return parse.Parse(ctx, parse.Format(doc.Format), tmp, size, w.cfg.Limits)
}

// fail records a parse-type failure as the document's terminal state. Other errors
// are returned so the queue retries them.
func (w *Worker) fail(ctx context.Context, log *slog.Logger, doc store.Document, err error) error {
	var pe *parse.Error
	if !errors.As(err, &pe) {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: let another worker take it
	}
	log.WarnContext(ctx, "document failed", "code", pe.Code, "error", err)
	if _, err := w.store.MarkFailed(ctx, doc.ID, doc.Generation, pe.Code, pe.Message); err != nil {
		return err
	}
	return nil
}

// embedAndIndex embeds the chunks in batches with bounded concurrency and upserts
// each batch as soon as it is embedded, recording progress.
func (w *Worker) embedAndIndex(ctx context.Context, doc store.Document, rows []store.Chunk) error {
	total := len(rows)
	if err := w.store.SetStage(ctx, doc.ID, doc.Generation, "embedding", 0, total); err != nil {
		return err
	}
	embedder := w.index.Embedder()
	identity := embedder.Identity().String()
	acl := vector.Payload{DocumentID: doc.ID, OwnerID: doc.OwnerID, Private: doc.Private, Embedder: identity, ACLVersion: doc.ACLVersion}
	if doc.GroupID != nil {
		acl.GroupID = *doc.GroupID
	}
	// Buffered for every batch, and drained in one go before each write: an indexed
	// batch never waits for a progress UPDATE, and progress costs one write per
	// round trip to Postgres rather than one per batch.
	progress := make(chan int, (total+w.cfg.BatchSize-1)/w.cfg.BatchSize)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.cfg.EmbedConcurrency + 1)
	g.Go(func() error {
		done := 0
		for n := range progress {
			done += n
		drain:
			for {
				select {
				case m, ok := <-progress:
					if !ok {
						break drain
					}
					done += m
				default:
					break drain
				}
			}
			if err := w.store.SetStage(gctx, doc.ID, doc.Generation, "embedding", done, total); err != nil {
				return err
			}
		}
		return nil
	})
	var work errgroup.Group
	work.SetLimit(w.cfg.EmbedConcurrency)
	for start := 0; start < total; start += w.cfg.BatchSize {
		batch := rows[start:min(start+w.cfg.BatchSize, total)]
		work.Go(func() error {
			if gctx.Err() != nil {
				return gctx.Err()
			}
			texts := make([]string, len(batch))
			for i, c := range batch {
				texts[i] = embedText(c)
			}
			vecs, err := embedder.Embed(gctx, texts)
			if err != nil {
				return fmt.Errorf("embed chunks %d-%d: %w", batch[0].Index, batch[len(batch)-1].Index, err)
			}
			points := make([]vector.Point, len(batch))
			for i, c := range batch {
				p := acl
				p.ChunkIndex = c.Index
				points[i] = vector.Point{ID: vector.PointID(doc.ID, c.Index, identity), Vector: vecs[i], Payload: p}
			}
			if err := w.index.Upsert(gctx, points); err != nil {
				return fmt.Errorf("upsert chunks: %w", err)
			}
			select {
			case progress <- len(batch):
			case <-gctx.Done():
			}
			return nil
		})
	}
	werr := work.Wait()
	close(progress)
	gerr := g.Wait()
	return errors.Join(werr, gerr)
}

// embedText is what the embedder sees: the heading path gives a chunk its context.
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
