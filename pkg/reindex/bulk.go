package reindex

import (
	"context"
	"errors"

	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/store"
)

// bulkBatch is one batch of the bulk phase on its way to the vector store.
type bulkBatch struct {
	chunks []store.IndexChunk
	// written receives the outcome of the batch's upsert.
	written chan error
}

// bulk embeds every ready chunk after the checkpoint into the new collection.
//
// Reading from Postgres, embedding and writing to the vector store each wait
// on something else (the database, the model, the store), so they run as a
// pipeline: one goroutine pages the chunks out of Postgres while up to
// WritesInFlight batches are being embedded or written, each batch embedded
// then upserted by a goroutine of its own. The checkpoint advances in
// order, past batches whose points are all written, so a job stopped anywhere
// redoes at most the batches that were in flight, and upserts are idempotent.
func (r *Runner) bulk(ctx context.Context, t *task, emb embed.Embedder) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	pages := make(chan []store.IndexChunk, 1)
	batches := make(chan bulkBatch, r.cfg.WritesInFlight)
	g.Go(func() error {
		defer close(pages)
		afterID, afterIndex := t.cp.AfterID, t.cp.AfterIndex
		for {
			chunks, err := r.store.ReadyChunksAfter(gctx, afterID, afterIndex, r.cfg.ChunkBatch)
			if err != nil || len(chunks) == 0 {
				return err
			}
			select {
			case pages <- chunks:
			case <-gctx.Done():
				return gctx.Err()
			}
			last := chunks[len(chunks)-1]
			afterID, afterIndex = last.DocumentID, last.Index
		}
	})
	g.Go(func() error {
		defer close(batches)
		for chunks := range pages {
			b := bulkBatch{chunks: chunks, written: make(chan error, 1)}
			select {
			case batches <- b:
			case <-gctx.Done():
				return gctx.Err()
			}
			// Batches embed at once, so the model never waits for a batch's
			// slowest request before the next batch's start; embedPoints keeps
			// the requests in flight within EmbedConcurrency.
			g.Go(func() error {
				points, err := r.embedPoints(gctx, emb, t.lexical, chunks)
				if err == nil {
					err = r.vectors.Upsert(gctx, t.cp.Collection, points)
				}
				b.written <- err
				return err
			})
		}
		return nil
	})
	err := r.checkpointBulk(gctx, t, batches)
	if err != nil {
		cancel()
	}
	werr := g.Wait()
	// A stage that failed cancelled the checkpoint: its error is the one to tell.
	if err == nil || (errors.Is(err, context.Canceled) && werr != nil && !errors.Is(werr, context.Canceled)) {
		err = werr
	}
	return err
}

// checkpointBulk records each batch, in order, once its points are written.
func (r *Runner) checkpointBulk(ctx context.Context, t *task, batches <-chan bulkBatch) error {
	for b := range batches {
		var err error
		select {
		case err = <-b.written:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			return err
		}
		last := b.chunks[len(b.chunks)-1]
		t.cp.AfterID, t.cp.AfterIndex = last.DocumentID, last.Index
		t.job.Progress.Done += int64(len(b.chunks))
		t.job.Progress.Total = max(t.job.Progress.Total, t.job.Progress.Done)
		t.count("chunks_embedded", int64(len(b.chunks)))
		if err := t.save(ctx); err != nil {
			return err
		}
	}
	return ctx.Err()
}
