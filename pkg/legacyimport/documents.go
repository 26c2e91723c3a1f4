package legacyimport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/uuid"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/chunk"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/ingest"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// importDocuments finishes the documents an earlier run left half done, then
// imports the rest: from their files through the normal upload path when they are
// under the upload root, else from the chunk texts of the legacy collection.
func (im *importer) importDocuments(ctx context.Context, p *plan) error {
	if err := im.finishTextDocuments(ctx, p); err != nil {
		return err
	}
	for _, dp := range p.docs {
		owner, err := p.userID(dp.src.UserID)
		if err != nil {
			return err
		}
		var group *string
		if dp.group != nil {
			gp := p.groupByID[*dp.group]
			group = &gp.target
		}
		var id string
		if dp.mode == modeFile {
			id, err = im.reingest(ctx, p, dp, owner, group)
			if err != nil {
				return err
			}
		}
		if id == "" && len(dp.chunks) > 0 {
			if id, err = im.rebuild(ctx, dp, owner, group); err != nil {
				return err
			}
		}
		if id == "" {
			p.report.problem("document", dp.src.ID, "no text of %s could be recovered: not imported", dp.filename)
			im.count("documents_skipped", 1)
		}
		if err := im.unit(ctx, store.LegacyDocument); err != nil {
			return err
		}
	}
	return nil
}

// reingest stores the document's file as its owner's upload, with its group,
// privacy and tags: a queued document and an ingest job, deduplicated by content
// like any upload. It returns "" when the file cannot be taken (the caller then
// rebuilds the document from its chunk texts).
func (im *importer) reingest(ctx context.Context, p *plan, dp *docPlan, owner string, group *string) (string, error) {
	f, err := os.Open(dp.file)
	if err != nil {
		p.report.problem("document", dp.src.ID, "its file %s cannot be read (%v)", dp.file, err)
		return "", nil
	}
	staged, err := im.t.Documents.Stage(ctx, dp.filename, f)
	f.Close()
	if err != nil {
		if service.ErrorCode(err) == "" {
			return "", err
		}
		p.report.problem("document", dp.src.ID, "its file %s is not taken here: %v", dp.file, err)
		return "", nil
	}
	defer staged.Discard()
	// The owner uploads it, into the document's legacy group even if they are no
	// member of it: the principal holds just that group.
	principal := access.Principal{UserID: owner}
	opts := service.UploadOptions{Private: dp.src.IsPrivate, Tags: dp.tags}
	if group != nil {
		principal.GroupIDs = []string{*group}
		opts.GroupID = *group
	}
	docs, err := im.t.Documents.CommitUpload(ctx, principal, []*service.StagedFile{staged}, opts)
	if err != nil {
		if code := service.ErrorCode(err); code != "" && code != service.CodeStorageFull {
			p.report.problem("document", dp.src.ID, "its file %s is not taken here: %v", dp.file, err)
			return "", nil
		}
		return "", fmt.Errorf("legacy document %d: %w", dp.src.ID, err)
	}
	doc := docs[0]
	if doc.Duplicate {
		p.report.problem("document", dp.src.ID, "%s has the same content as document %s of its owner, which it becomes", dp.filename, doc.ID)
		im.count("documents_duplicate", 1)
	} else if err := im.t.Store.SetDocumentCreatedAt(ctx, doc.ID, dp.src.CreatedAt); err != nil {
		return "", err
	}
	if err := im.t.Store.MapLegacy(ctx, store.LegacyDocument, dp.src.ID, doc.ID); err != nil {
		return "", err
	}
	im.count("documents_from_files", 1)
	return doc.ID, nil
}

// rebuild records the document from the texts of its chunks in the legacy
// collection — ready, flagged as having no original file — and embeds them with the
// current embedder. The same text for the same owner becomes that document.
func (im *importer) rebuild(ctx context.Context, dp *docPlan, owner string, group *string) (string, error) {
	texts, err := fetchTexts(ctx, im.vs, im.opts.collection(), dp.chunks)
	if err != nil {
		return "", err
	}
	var chunks []store.Chunk
	for _, t := range texts {
		t = cleanText([]byte(strings.TrimSpace(t)))
		if t == "" {
			continue
		}
		chunks = append(chunks, store.Chunk{Index: len(chunks), Text: t, HeadingPath: []string{}, Tokens: chunk.CountTokens(t)})
	}
	if len(chunks) == 0 {
		return "", nil
	}
	parts := make([]string, len(chunks))
	for i, c := range chunks {
		parts[i] = c.Text
	}
	text := strings.Join(parts, "\n\n")
	sum := sha256.Sum256([]byte(text))
	sha := hex.EncodeToString(sum[:])
	mime := strings.TrimSpace(deref(dp.src.MIME))
	format := formatOf(mime)
	if mime == "" {
		mime = format.MIME()
	}
	id := uuid.NewString()
	var doc store.Document
	duplicate := false
	err = im.t.Store.InTx(ctx, func(tx *store.Store) error {
		existing, err := tx.FindDocumentBySHA(ctx, owner, sha)
		if err == nil {
			doc, duplicate = existing, true
			return tx.MapLegacy(ctx, store.LegacyDocument, dp.src.ID, existing.ID)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		doc, err = tx.ImportTextDocument(ctx, store.NewDocument{ID: id, OwnerID: owner, GroupID: group, Private: dp.src.IsPrivate,
			Filename: dp.filename, MIME: mime, Format: string(format), SizeBytes: int64(len(text)), SHA256: sha,
			ObjectKey: "documents/" + id, Tags: dp.tags}, dp.src.CreatedAt)
		if err != nil {
			return fmt.Errorf("legacy document %d: %w", dp.src.ID, err)
		}
		for i := range chunks {
			chunks[i].DocumentID = id
		}
		if err := tx.ReplaceChunks(ctx, id, chunks); err != nil {
			return err
		}
		return tx.MapLegacy(ctx, store.LegacyDocument, dp.src.ID, id)
	})
	if err != nil {
		return "", err
	}
	if duplicate {
		im.count("documents_duplicate", 1)
		return doc.ID, nil
	}
	if err := im.index(ctx, doc, chunks); err != nil {
		return "", fmt.Errorf("legacy document %d: %w", dp.src.ID, err)
	}
	im.count("documents_from_text", 1)
	im.count("chunks", len(chunks))
	return doc.ID, nil
}

// finishTextDocuments indexes the documents rebuilt from text that an earlier run
// recorded but did not get to mark ready: their chunks are in PostgreSQL.
func (im *importer) finishTextDocuments(ctx context.Context, p *plan) error {
	ids := make([]string, 0, len(p.mappedDocs))
	for _, id := range p.mappedDocs {
		ids = append(ids, id)
	}
	const batch = 500
	for start := 0; start < len(ids); start += batch {
		docs, err := im.t.Store.DocumentsByID(ctx, ids[start:min(start+batch, len(ids))])
		if err != nil {
			return err
		}
		for _, d := range docs {
			if d.OriginalAvailable || d.Status != store.StatusProcessing || d.DeletedAt != nil {
				continue
			}
			var chunks []store.Chunk
			for from := 0; ; from += batch {
				page, err := im.t.Store.ListChunks(ctx, d.ID, from, batch)
				if err != nil {
					return err
				}
				chunks = append(chunks, page...)
				if len(page) < batch {
					break
				}
			}
			im.log.InfoContext(ctx, "finishing a document an earlier run left half imported", "document_id", d.ID)
			if err := im.index(ctx, d, chunks); err != nil {
				return err
			}
			im.count("documents_from_text", 1)
			im.count("chunks", len(chunks))
		}
	}
	return nil
}

// index embeds a document's chunks with the index's embedder, writes their points
// (deterministic ids, so a repeat overwrites) and marks the document ready.
func (im *importer) index(ctx context.Context, doc store.Document, chunks []store.Chunk) error {
	for attempt := 0; ; attempt++ {
		err := im.indexWith(ctx, doc, chunks)
		if errors.Is(err, index.ErrEmbedderChanged) && attempt < 2 {
			continue // a re-embed switched the index meanwhile: again, with the new embedder
		}
		return err
	}
}

func (im *importer) indexWith(ctx context.Context, doc store.Document, chunks []store.Chunk) error {
	embedder, lexical := im.t.Index.Embedder(), im.t.Index.Lexical()
	identity := embedder.Identity().String()
	payload := vector.Payload{DocumentID: doc.ID, OwnerID: doc.OwnerID, Private: doc.Private, Embedder: identity, ACLVersion: doc.ACLVersion}
	if doc.GroupID != nil {
		payload.GroupID = *doc.GroupID
	}
	const batch = 32
	for start := 0; start < len(chunks); start += batch {
		part := chunks[start:min(start+batch, len(chunks))]
		texts := make([]string, len(part))
		for i, c := range part {
			texts[i] = ingest.EmbedText(c)
		}
		vecs, err := im.t.EmbedMetrics.Embed(ctx, embedder, texts)
		if err != nil {
			return fmt.Errorf("embed chunks: %w", err)
		}
		points := make([]vector.Point, len(part))
		for i, c := range part {
			pl := payload
			pl.ChunkIndex = c.Index
			points[i] = vector.Point{ID: vector.PointID(doc.ID, c.Index, identity), Vector: vecs[i],
				Sparse: ingest.LexicalVector(lexical, texts[i]), Payload: pl}
		}
		if err := im.t.Index.Upsert(ctx, points); err != nil {
			return fmt.Errorf("index chunks: %w", err)
		}
	}
	if _, err := im.t.Store.MarkReady(ctx, doc.ID, doc.Generation, len(chunks), identity); err != nil {
		return err
	}
	return nil
}
