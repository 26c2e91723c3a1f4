package reindex

import (
	"context"
	"fmt"

	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// Phases of a verify.
const (
	phaseDocuments = "documents"
	phaseOrphans   = "orphans"
)

// verify compares Postgres and the index document by document and repairs what
// differs: missing points are embedded again from the chunk text, extra points are
// deleted, wrong payloads are rewritten. Then it removes the points of documents
// that no longer exist.
func (r *Runner) verify(ctx context.Context, t *task) error {
	emb := r.index.Embedder()
	dim, err := r.vectors.CollectionDim(ctx, index.Alias)
	if err != nil {
		return err
	}
	if dim != emb.Identity().Dim {
		return job.Permanent(fmt.Errorf("%w (the index has dimension %d, the embedder %s has %d)",
			index.ErrEmbedderMismatch, dim, emb.Identity(), emb.Identity().Dim))
	}
	if t.cp.Phase == "" {
		total, err := r.store.CountDocuments(ctx, store.ReadyDocuments)
		if err != nil {
			return err
		}
		t.job.Progress = store.JobProgress{Total: total}
		t.zero("documents_checked", "documents_repaired", "points_deleted", "points_embedded", "payloads_fixed", "orphan_documents_removed")
		t.cp.Phase = phaseDocuments
		if err := t.save(ctx); err != nil {
			return err
		}
	}
	for t.cp.Phase == phaseDocuments {
		docs, err := r.store.DocumentsAfter(ctx, store.ReadyDocuments, t.cp.AfterID, r.cfg.DocumentBatch)
		if err != nil {
			return err
		}
		if len(docs) == 0 {
			t.cp.Phase, t.cp.AfterID = phaseOrphans, ""
		} else {
			if err := r.verifyBatch(ctx, t, docs); err != nil {
				return err
			}
			t.job.Progress.Done += int64(len(docs))
			t.job.Progress.Total = max(t.job.Progress.Total, t.job.Progress.Done)
			t.cp.AfterID = docs[len(docs)-1].ID
		}
		if err := t.save(ctx); err != nil {
			return err
		}
	}
	if t.cp.Phase == phaseOrphans {
		n, err := r.sweepOrphans(ctx, index.Alias)
		if err != nil {
			return err
		}
		t.count("orphan_documents_removed", n)
		t.cp.Phase = phaseDone
		return t.save(ctx)
	}
	return nil
}

// expectedPoint is what one chunk's point must be.
type expectedPoint struct {
	doc     store.Document
	index   int
	payload vector.Payload
}

// verifyBatch checks and repairs the points of a batch of ready documents.
func (r *Runner) verifyBatch(ctx context.Context, t *task, docs []store.Document) error {
	identity := r.index.Embedder().Identity().String()
	ids := make([]string, len(docs))
	byID := make(map[string]store.Document, len(docs))
	for i, d := range docs {
		ids[i], byID[d.ID] = d.ID, d
	}
	keys, err := r.store.ChunkKeysOf(ctx, ids)
	if err != nil {
		return err
	}
	expected := map[string]expectedPoint{}
	for _, d := range docs {
		acl := aclOf(d)
		for _, i := range keys[d.ID] {
			expected[vector.PointID(d.ID, i, identity)] = expectedPoint{doc: d, index: i, payload: vector.Payload{
				DocumentID: d.ID, OwnerID: acl.OwnerID, GroupID: acl.GroupID, Private: acl.Private,
				ChunkIndex: i, Embedder: identity, ACLVersion: acl.ACLVersion}}
		}
	}
	present := map[string]vector.Payload{}
	err = r.vectors.ScrollAll(ctx, index.Alias, vector.MatchDocuments(ids...), vector.ScrollOptions{PageSize: 2048}, func(page []vector.Point) error {
		for _, p := range page {
			present[p.ID] = p.Payload
		}
		return nil
	})
	if err != nil {
		return err
	}
	repaired := map[string]bool{}
	var extra, wrong []string
	missing := map[string]map[int]bool{}
	for id, p := range present {
		exp, ok := expected[id]
		switch {
		case !ok:
			extra = append(extra, id)
			repaired[p.DocumentID] = true
		case p != exp.payload:
			wrong = append(wrong, id)
			repaired[exp.doc.ID] = true
		}
	}
	for id, exp := range expected {
		if _, ok := present[id]; !ok {
			if missing[exp.doc.ID] == nil {
				missing[exp.doc.ID] = map[int]bool{}
			}
			missing[exp.doc.ID][exp.index] = true
			repaired[exp.doc.ID] = true
		}
	}
	if len(extra) > 0 {
		if err := r.vectors.DeletePoints(ctx, index.Alias, extra); err != nil {
			return err
		}
		t.count("points_deleted", int64(len(extra)))
	}
	if len(missing) > 0 {
		n, err := r.embedMissing(ctx, missing)
		if err != nil {
			return err
		}
		t.count("points_embedded", n)
	}
	if len(wrong) > 0 {
		n, err := r.fixPayloads(ctx, wrong, expected)
		if err != nil {
			return err
		}
		t.count("payloads_fixed", n)
	}
	t.count("documents_checked", int64(len(docs)))
	t.count("documents_repaired", int64(len(repaired)))
	return nil
}

// embedMissing embeds the missing chunks again from their text in Postgres.
func (r *Runner) embedMissing(ctx context.Context, missing map[string]map[int]bool) (int64, error) {
	docIDs := make([]string, 0, len(missing))
	for id := range missing {
		docIDs = append(docIDs, id)
	}
	all, err := r.store.IndexChunksOf(ctx, docIDs)
	if err != nil {
		return 0, err
	}
	var chunks []store.IndexChunk
	for _, c := range all {
		if missing[c.DocumentID][c.Index] {
			chunks = append(chunks, c)
		}
	}
	points, err := r.embedPoints(ctx, r.index.Embedder(), r.index.Lexical(), chunks)
	if err != nil {
		return 0, err
	}
	if err := r.vectors.Upsert(ctx, index.Alias, points); err != nil {
		return 0, err
	}
	return int64(len(points)), nil
}

// fixPayloads rewrites wrong payloads. The documents are read again first: a sharing
// change that committed after the batch was read is not an error, and its ACL job
// owns those points. Where only access fields differ, the guarded ACL write repairs
// them without ever overwriting a newer version; anything else (a wrong chunk index,
// a version newer than Postgres has) is rewritten whole, keeping the vector.
func (r *Runner) fixPayloads(ctx context.Context, wrong []string, expected map[string]expectedPoint) (int64, error) {
	var docIDs []string
	for _, id := range wrong {
		docIDs = append(docIDs, expected[id].doc.ID)
	}
	current, err := r.store.DocumentsByID(ctx, uniqueIDs(docIDs))
	if err != nil {
		return 0, err
	}
	now := make(map[string]store.Document, len(current))
	for _, d := range current {
		now[d.ID] = d
	}
	points, err := r.vectors.GetPoints(ctx, index.Alias, wrong, true)
	if err != nil {
		return 0, err
	}
	var aclDocs []store.Document
	var rewrite []vector.Point
	for _, p := range points {
		exp := expected[p.ID]
		d, ok := now[exp.doc.ID]
		if !ok || d.DeletedAt != nil {
			continue // deleted meanwhile: the purge removes it
		}
		want := exp.payload
		acl := aclOf(d)
		want.OwnerID, want.GroupID, want.Private, want.ACLVersion = acl.OwnerID, acl.GroupID, acl.Private, acl.ACLVersion
		got := p.Payload
		switch {
		case got == want:
			continue
		case got.DocumentID == want.DocumentID && got.ChunkIndex == want.ChunkIndex && got.Embedder == want.Embedder &&
			got.ACLVersion <= want.ACLVersion:
			aclDocs = append(aclDocs, d)
		default:
			rewrite = append(rewrite, vector.Point{ID: p.ID, Vector: p.Vector, Sparse: p.Sparse, Payload: want})
		}
	}
	if err := r.writeACLs(ctx, index.Alias, aclDocs); err != nil {
		return 0, err
	}
	if err := r.vectors.Upsert(ctx, index.Alias, rewrite); err != nil {
		return 0, err
	}
	return int64(len(wrong)), nil
}
