package reindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/bm25"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/ingest"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// Phases of a re-embed, in order. Until the switch the old collection serves every
// search and a cancel drops the new one; from the switch on the new one serves and
// the job finishes whatever is asked.
const (
	phaseBulk    = "bulk"
	phaseCatchUp = "catch-up"
	phaseSwitch  = "switch"
	phaseSettle  = "settle"
	phaseSweep   = "sweep"
	phaseCleanup = "cleanup"
)

// reEmbed builds a new collection from the chunks in Postgres and switches the alias
// to it in one step.
//
// While it builds, ingestion keeps writing through the alias into the old
// collection, so nothing written meanwhile may be lost:
//
//  1. bulk: every chunk of every ready document is embedded into the new collection;
//  2. catch-up: documents whose row changed since the job started (ingested,
//     re-shared, deleted) are brought up to date in the new collection;
//  3. switch: the alias moves to the new collection, atomically for readers;
//  4. settle: the window between the catch-up and the switch is closed from the
//     other side. Every write after the switch lands in the new collection already.
//     A document ingested in the window changed its row after the catch-up began,
//     so a second catch-up from that moment re-embeds it; one still being ingested
//     at the switch may have written early batches to the old collection, so the job
//     first waits for it to finish, then the same catch-up re-embeds it whole;
//  5. sweep: points of documents deleted and purged during the job (their rows are
//     gone, so no catch-up can see them) are found by scanning the new collection;
//  6. cleanup: the collection before the previous one is dropped; the previous one
//     stays for rollback.
func (r *Runner) reEmbed(ctx context.Context, t *task) (map[string]any, error) {
	emb, built, err := r.targetEmbedder(ctx, t)
	if err != nil {
		return nil, err
	}
	if built {
		defer closeEmbedder(emb)
	}
	id := emb.Identity()
	if t.cp.Phase == "" {
		if err := r.planReEmbed(ctx, t, id); err != nil {
			return nil, err
		}
	} else if t.cp.Embedder != id.String() {
		return nil, job.Permanent(fmt.Errorf("the embedder changed from %s to %s while the job ran", t.cp.Embedder, id))
	}
	extra := map[string]any{"collection": t.cp.Collection, "previous": t.cp.Previous, "embedder": t.cp.Embedder}
	if t.lexical, err = index.LexicalEncoder(t.cp.Lexical); err != nil {
		return extra, job.Permanent(err)
	}
	if t.cp.Lexical != nil {
		extra["lexical_avg_len"] = t.cp.Lexical.AvgLen
	}
	if err := r.ensureCollection(ctx, t, id); err != nil {
		return extra, err
	}
	err = r.buildCollection(ctx, t, emb)
	if errors.Is(err, errCancelled) {
		r.dropCollection(context.WithoutCancel(ctx), t.cp.Collection)
		extra["collection"] = nil
		return extra, err
	}
	if err != nil {
		return extra, err
	}
	if t.cp.Phase == phaseSwitch {
		if err := r.switchIndex(ctx, t, emb); err != nil {
			return extra, err
		}
		t.cp.Phase, t.cp.AfterID = phaseSettle, ""
		if err := t.saveCommitted(ctx); err != nil {
			return extra, err
		}
	}
	if t.cp.Phase == phaseSettle {
		if err := r.settle(ctx, t, emb); err != nil {
			return extra, err
		}
		t.cp.Phase = phaseSweep
		if err := t.saveCommitted(ctx); err != nil {
			return extra, err
		}
	}
	if t.cp.Phase == phaseSweep {
		n, err := r.sweepOrphans(ctx, t.cp.Collection)
		if err != nil {
			return extra, err
		}
		t.count("orphan_documents_removed", n)
		t.cp.Phase = phaseCleanup
		if err := t.saveCommitted(ctx); err != nil {
			return extra, err
		}
	}
	dropped, err := r.dropOlderCollections(ctx, t.cp.Collection, t.cp.Previous)
	extra["dropped"] = dropped
	return extra, err
}

// switchIndex makes the new collection the active one. The recorded state, from
// which every program builds its embedder, is written first and in one transaction
// with the documents' embedder; then the alias moves. A job stopped in between
// redoes both on resume, and a program starting meanwhile points the alias where
// the record says.
func (r *Runner) switchIndex(ctx context.Context, t *task, emb embed.Embedder) error {
	state, err := index.StateOf(t.cp.Collection, emb, t.cp.Lexical)
	if err != nil {
		return job.Permanent(err)
	}
	err = r.store.InTx(ctx, func(st *store.Store) error {
		if _, err := st.SetVectorIndex(ctx, state); err != nil {
			return err
		}
		_, err := st.SetDocumentsEmbedder(ctx, t.cp.Embedder)
		return err
	})
	if err != nil {
		return err
	}
	if err := r.vectors.SwitchAlias(ctx, index.Alias, t.cp.Collection); err != nil {
		return err
	}
	t.log.InfoContext(ctx, "search switched to the new collection", "collection", t.cp.Collection, "previous", t.cp.Previous)
	// This process follows at once; the others within their refresh interval, and
	// their writes are checked against the record meanwhile.
	return r.index.Refresh(ctx)
}

// targetEmbedder is the configured embedder (YW_EMBED_MODEL, not necessarily the
// active one) for a job without embed_model, or one built for the job's
// embed_model; built reports whether the job owns it.
func (r *Runner) targetEmbedder(ctx context.Context, t *task) (embed.Embedder, bool, error) {
	model, _ := t.job.Params["embed_model"].(string)
	if model == "" {
		e, err := r.index.Configured(ctx)
		switch {
		case err == nil:
			return e, false, nil
		case ctx.Err() != nil:
			return nil, false, ctx.Err()
		case errors.Is(err, embed.ErrUnavailable):
			return nil, false, err // Ollama is down: retry later rather than fall back
		}
		return nil, false, job.Permanent(fmt.Errorf("the configured embedding model is not usable: %w", err))
	}
	if r.cfg.Embedders == nil {
		return nil, false, job.Permanent(fmt.Errorf("embedding model %q: this reindexer cannot build embedders (no Ollama configured)", model))
	}
	e, err := r.cfg.Embedders(ctx, model)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		return nil, false, job.Permanent(fmt.Errorf("embedding model %q is not usable: %w", model, err))
	}
	return e, true, nil
}

// planReEmbed picks the new collection's name and records it with the job, so a
// resumed job keeps building the same one.
func (r *Runner) planReEmbed(ctx context.Context, t *task, id embed.Identity) error {
	prev, err := r.vectors.ResolveAlias(ctx, index.Alias)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", index.Alias, err)
	}
	names, err := r.vectors.ListCollections(ctx)
	if err != nil {
		return err
	}
	total, err := r.store.CountReadyChunks(ctx)
	if err != nil {
		return err
	}
	t.cp.Collection = index.CollectionName(id, latestVersion(names)+1)
	t.cp.Previous = prev
	t.cp.Embedder = id.String()
	t.cp.Since = *t.job.StartedAt
	t.cp.Phase = phaseBulk
	if t.cp.Lexical, err = r.measureLexical(ctx); err != nil {
		return err
	}
	t.job.Progress = store.JobProgress{Total: total}
	t.zero("chunks_embedded", "catch_up_documents", "catch_up_chunks", "catch_up_removed", "orphan_documents_removed")
	if t.lexical, err = index.LexicalEncoder(t.cp.Lexical); err != nil {
		return job.Permanent(err)
	}
	if err := r.ensureCollection(ctx, t, id); err != nil {
		return err
	}
	t.log.InfoContext(ctx, "building a new collection", "collection", t.cp.Collection, "previous", prev, "embedder", id.String(),
		"chunks", total, "lexical_avg_len", t.cp.Lexical.AvgLen)
	return t.save(ctx)
}

// ensureCollection creates the collection the job builds: with lexical vectors
// unless the job was planned before they existed.
func (r *Runner) ensureCollection(ctx context.Context, t *task, id embed.Identity) error {
	if t.cp.Lexical == nil {
		return r.vectors.EnsureCollection(ctx, t.cp.Collection, id.Dim, vector.Cosine)
	}
	return r.vectors.EnsureHybridCollection(ctx, t.cp.Collection, id.Dim, vector.Cosine)
}

// lexicalSample is how many chunks measureLexical reads: enough for the average
// to settle, few enough to take well under a second.
const lexicalSample = 5000

// measureLexical is how the new collection's lexical vectors are encoded: the
// configured parameters, with the average chunk length BM25 normalises against
// measured on a sample of the ready chunks. Chunks come in document id order, and
// ids are random, so the sample spreads over the library.
func (r *Runner) measureLexical(ctx context.Context) (*store.LexicalIndex, error) {
	lexical := r.index.NewLexical(0)
	enc, err := index.LexicalEncoder(lexical)
	if err != nil {
		return nil, job.Permanent(err)
	}
	var sum, n int
	afterID, afterIndex := "", 0
	for n < lexicalSample {
		chunks, err := r.store.ReadyChunksAfter(ctx, afterID, afterIndex, min(r.cfg.ChunkBatch, lexicalSample-n))
		if err != nil {
			return nil, err
		}
		if len(chunks) == 0 {
			break
		}
		for _, c := range chunks {
			sum += enc.Length(ingest.EmbedText(c.Chunk))
		}
		n += len(chunks)
		last := chunks[len(chunks)-1]
		afterID, afterIndex = last.DocumentID, last.Index
	}
	if n > 0 && sum > 0 {
		lexical.AvgLen = float64(sum) / float64(n)
	}
	return lexical, nil
}

// buildCollection runs the phases before the switch, each resumable.
func (r *Runner) buildCollection(ctx context.Context, t *task, emb embed.Embedder) error {
	if t.cp.Phase == phaseBulk {
		if err := r.bulk(ctx, t, emb); err != nil {
			return err
		}
		t.cp.Phase, t.cp.AfterID, t.cp.AfterIndex = phaseCatchUp, "", 0
		if err := t.save(ctx); err != nil {
			return err
		}
	}
	if t.cp.Phase == phaseCatchUp {
		if err := r.catchUp(ctx, t, emb, false); err != nil {
			return err
		}
		t.cp.Phase = phaseSwitch
		return t.save(ctx)
	}
	return nil
}

// saveCommitted saves after the switch, when a cancel can no longer undo the job.
func (t *task) saveCommitted(ctx context.Context) error {
	if err := t.save(ctx); err != nil && !errors.Is(err, errCancelled) {
		return err
	}
	return nil
}

// catchUp brings every document whose row changed since cp.Since up to date in the
// new collection, then moves cp.Since to the start of this pass. live says the
// collection serves searches already: then documents being ingested are left to the
// ingest worker, which writes into it.
func (r *Runner) catchUp(ctx context.Context, t *task, emb embed.Embedder, live bool) error {
	if t.cp.PassStart.IsZero() {
		now, err := r.store.Now(ctx)
		if err != nil {
			return err
		}
		t.cp.PassStart = now
	}
	since := t.cp.Since.Add(-r.cfg.CatchUpMargin)
	for {
		docs, err := r.store.DocumentsChangedSince(ctx, since, t.cp.AfterID, r.cfg.DocumentBatch)
		if err != nil {
			return err
		}
		if len(docs) == 0 {
			break
		}
		if err := r.reconcile(ctx, t, emb, docs, live); err != nil {
			return err
		}
		t.cp.AfterID = docs[len(docs)-1].ID
		save := t.save
		if live {
			save = t.saveCommitted
		}
		if err := save(ctx); err != nil {
			return err
		}
	}
	t.cp.Since, t.cp.PassStart, t.cp.AfterID = t.cp.PassStart, time.Time{}, ""
	return nil
}

// reconcile makes the new collection hold exactly the current chunks and access
// fields of each document: ready ones are re-embedded from Postgres, deleted and
// failed ones are removed.
func (r *Runner) reconcile(ctx context.Context, t *task, emb embed.Embedder, docs []store.Document, live bool) error {
	var ready []store.Document
	var gone []string
	for _, d := range docs {
		switch {
		case d.DeletedAt != nil || d.Status == store.StatusFailed:
			gone = append(gone, d.ID)
		case d.Status == store.StatusReady:
			ready = append(ready, d)
		case !live:
			gone = append(gone, d.ID) // half ingested into the old collection; settle redoes it
		}
	}
	coll := t.cp.Collection
	if len(gone) > 0 {
		if err := r.vectors.DeleteByFilter(ctx, coll, vector.MatchDocuments(gone...)); err != nil {
			return err
		}
		t.count("catch_up_removed", int64(len(gone)))
	}
	if len(ready) == 0 {
		return nil
	}
	ids := make([]string, len(ready))
	for i, d := range ready {
		ids[i] = d.ID
	}
	chunks, err := r.store.IndexChunksOf(ctx, ids)
	if err != nil {
		return err
	}
	points, err := r.embedPoints(ctx, emb, t.lexical, chunks)
	if err != nil {
		return err
	}
	if err := r.vectors.Upsert(ctx, coll, points); err != nil {
		return err
	}
	identity := emb.Identity().String()
	for _, d := range ready {
		if err := r.deleteStale(ctx, coll, d.ID, d.ChunkCount, identity); err != nil {
			return err
		}
	}
	// The upsert wrote the access fields read above. A sharing change that committed
	// since then has its ACL job, which may already have run against these points:
	// write what Postgres holds now, guarded by version, so the newer state wins.
	current, err := r.store.DocumentsByID(ctx, ids)
	if err != nil {
		return err
	}
	if err := r.writeACLs(ctx, coll, current); err != nil {
		return err
	}
	t.count("catch_up_documents", int64(len(ready)))
	t.count("catch_up_chunks", int64(len(chunks)))
	return nil
}

// deleteStale removes a document's points past its chunk count or from another
// embedder, after the current ones were written.
func (r *Runner) deleteStale(ctx context.Context, collection, documentID string, chunkCount int, embedder string) error {
	filter := &qdrant.Filter{
		Must: []*qdrant.Condition{qdrant.NewMatchKeyword(vector.FieldDocumentID, documentID)},
		Should: []*qdrant.Condition{
			qdrant.NewRange(vector.FieldChunkIndex, &qdrant.Range{Gte: qdrant.PtrOf(float64(chunkCount))}),
			qdrant.NewFilterAsCondition(&qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewMatchKeyword(vector.FieldEmbedder, embedder)}}),
		},
	}
	if err := r.vectors.DeleteByFilter(ctx, collection, filter); err != nil {
		return fmt.Errorf("delete stale points of %s: %w", documentID, err)
	}
	return nil
}

// settle runs after the switch: it waits for documents being ingested at the switch
// to finish, then catches up everything that changed since the last pass began.
func (r *Runner) settle(ctx context.Context, t *task, emb embed.Embedder) error {
	pending, err := r.store.ProcessingDocumentIDs(ctx, nil)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(r.cfg.SettleTimeout)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			t.job.Progress.Failed += int64(len(pending))
			t.count("unsettled_documents", int64(len(pending)))
			t.log.WarnContext(ctx, "documents still processing after the settle timeout; run a verify job once they are ready",
				"documents", len(pending), "settle_timeout", r.cfg.SettleTimeout)
			break
		}
		timer := time.NewTimer(r.cfg.PollEvery)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		if pending, err = r.store.ProcessingDocumentIDs(ctx, pending); err != nil {
			return err
		}
	}
	return r.catchUp(ctx, t, emb, true)
}

// sweepOrphans deletes the points of documents that no longer belong in the index
// (purged, deleted or failed), found by scanning the collection, and returns how many
// documents it cleaned.
func (r *Runner) sweepOrphans(ctx context.Context, collection string) (int64, error) {
	seen := map[string]bool{}
	err := r.vectors.ScrollAll(ctx, collection, nil, vector.ScrollOptions{PageSize: 2048, PayloadFields: []string{vector.FieldDocumentID}}, func(page []vector.Point) error {
		for _, p := range page {
			seen[p.Payload.DocumentID] = true
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	var valid, orphans []string
	for id := range seen {
		if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
			orphans = append(orphans, id)
			continue
		}
		valid = append(valid, id)
	}
	valid = uniqueIDs(valid)
	for start := 0; start < len(valid); start += 1000 {
		part := valid[start:min(start+1000, len(valid))]
		keep, err := r.store.IndexedDocumentIDs(ctx, part)
		if err != nil {
			return 0, err
		}
		for _, id := range part {
			if !keep[id] {
				orphans = append(orphans, id)
			}
		}
	}
	for start := 0; start < len(orphans); start += 500 {
		part := orphans[start:min(start+500, len(orphans))]
		if err := r.vectors.DeleteByFilter(ctx, collection, vector.MatchDocuments(part...)); err != nil {
			return 0, err
		}
	}
	return int64(len(orphans)), nil
}

// embedPoints embeds chunks in requests of EmbedBatch texts, at most
// EmbedConcurrency in flight across every call of the runner, and returns their
// points with deterministic ids, with lexical vectors when lexical is not nil.
func (r *Runner) embedPoints(ctx context.Context, emb embed.Embedder, lexical *bm25.Encoder, chunks []store.IndexChunk) ([]vector.Point, error) {
	identity := emb.Identity().String()
	points := make([]vector.Point, len(chunks))
	g, gctx := errgroup.WithContext(ctx)
	for start := 0; start < len(chunks) && gctx.Err() == nil; start += r.cfg.EmbedBatch {
		select {
		case r.embedSlots <- struct{}{}:
		case <-gctx.Done():
			continue
		}
		batch := chunks[start:min(start+r.cfg.EmbedBatch, len(chunks))]
		g.Go(func() error {
			defer func() { <-r.embedSlots }()
			texts := make([]string, len(batch))
			for i, c := range batch {
				texts[i] = ingest.EmbedText(c.Chunk)
			}
			vecs, err := r.cfg.EmbedMetrics.Embed(gctx, emb, texts)
			if err != nil {
				return fmt.Errorf("embed %d chunks: %w", len(texts), err)
			}
			for i, c := range batch {
				points[start+i] = vector.Point{ID: vector.PointID(c.DocumentID, c.Index, identity), Vector: vecs[i],
					Sparse: ingest.LexicalVector(lexical, texts[i]), Payload: payloadOf(c, identity)}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return points, nil
}

// payloadOf is the payload of a chunk's point, as ingestion writes it.
func payloadOf(c store.IndexChunk, embedder string) vector.Payload {
	p := vector.Payload{DocumentID: c.DocumentID, OwnerID: c.OwnerID, Private: c.Private, ChunkIndex: c.Index,
		Embedder: embedder, ACLVersion: c.ACLVersion}
	if c.GroupID != nil {
		p.GroupID = *c.GroupID
	}
	return p
}

var versionSuffix = regexp.MustCompile(`_v(\d+)$`)

// latestVersion is the highest n among the chunk collections, whatever their
// embedder, so every new collection gets a number never used before.
func latestVersion(names []string) int {
	n := 0
	for _, name := range names {
		if !strings.HasPrefix(name, index.Alias+"_") {
			continue
		}
		if m := versionSuffix.FindStringSubmatch(name); m != nil {
			if v, err := strconv.Atoi(m[1]); err == nil {
				n = max(n, v)
			}
		}
	}
	return n
}

// dropOlderCollections deletes every chunk collection but the active one and the one
// kept for rollback: the collection of the re-embed before, and the leftovers of
// failed ones.
func (r *Runner) dropOlderCollections(ctx context.Context, active, previous string) ([]string, error) {
	names, err := r.vectors.ListCollections(ctx)
	if err != nil {
		return nil, err
	}
	dropped := []string{}
	for _, name := range names {
		if !strings.HasPrefix(name, index.Alias+"_") || name == active || name == previous {
			continue
		}
		if err := r.vectors.DeleteCollection(ctx, name); err != nil && !errors.Is(err, vector.ErrNotFound) {
			return dropped, err
		}
		dropped = append(dropped, name)
	}
	return dropped, nil
}

// dropCollection deletes a collection a cancelled re-embed was building, unless
// search already uses it.
func (r *Runner) dropCollection(ctx context.Context, name string) {
	if name == "" {
		return
	}
	if cur, err := r.vectors.ResolveAlias(ctx, index.Alias); err != nil || cur == name {
		return
	}
	if err := r.vectors.DeleteCollection(ctx, name); err != nil && !errors.Is(err, vector.ErrNotFound) {
		r.logger.WarnContext(ctx, "drop the collection of a cancelled re-embed", "collection", name, "error", err)
	}
}

// dropBuild drops what a re-embed cancelled before it could resume had built.
func (r *Runner) dropBuild(ctx context.Context, j store.ReindexJob) {
	var cp checkpoint
	if len(j.Checkpoint) == 0 || json.Unmarshal(j.Checkpoint, &cp) != nil {
		return
	}
	if cp.Phase == phaseBulk || cp.Phase == phaseCatchUp || cp.Phase == phaseSwitch {
		r.dropCollection(ctx, cp.Collection)
	}
}
