package store

import (
	"context"
	"fmt"

	"github.com/youworker/youworker/pkg/access"
)

// FindDocumentByURL returns the owner's live document fetched from url.
func (s *Store) FindDocumentByURL(ctx context.Context, ownerID, url string) (Document, error) {
	d, err := scanDocument(s.db.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents d
		WHERE d.owner_id = $1 AND d.source_url = $2 AND d.deleted_at IS NULL`, ownerID, url))
	if err != nil {
		return Document{}, fmt.Errorf("find document by url: %w", err)
	}
	return d, nil
}

// Fetched is what the ingest worker learnt by fetching a document's URL.
type Fetched struct {
	Filename  string
	MIME      string
	Format    string
	SizeBytes int64
	SHA256    string
	ObjectKey string
}

// RecordFetched stores what a fetch of this generation found, while the document
// is being processed. Another live document of the owner with the same bytes is
// ErrConflict; a document that moved on meanwhile (deleted, re-queued) is
// ErrNotFound.
func (s *Store) RecordFetched(ctx context.Context, id string, generation int, f Fetched) (Document, error) {
	d, err := scanDocument(s.db.QueryRow(ctx, `UPDATE documents d SET filename = $3, mime = $4, format = $5,
		size_bytes = $6, sha256 = $7, object_key = $8, updated_at = now()
		WHERE d.id = $1 AND d.generation = $2 AND d.status = 'processing' AND d.deleted_at IS NULL
		RETURNING `+documentColumns, id, generation, f.Filename, f.MIME, f.Format, f.SizeBytes, f.SHA256, f.ObjectKey))
	if err != nil {
		return Document{}, fmt.Errorf("record fetched document: %w", err)
	}
	return d, nil
}

// RequeueFetch moves a ready or failed document p may modify (its owner), fetched
// from a URL, back to queued under a new generation, so the worker fetches it
// again; anything else is ErrNotFound.
func (s *Store) RequeueFetch(ctx context.Context, p access.Principal, id string) (Document, error) {
	d, err := scanDocument(s.db.QueryRow(ctx, `UPDATE documents d SET status = 'queued', stage = NULL,
		error_code = NULL, error_message = NULL, chunks_done = 0, chunks_total = 0, generation = generation + 1, updated_at = now()
		WHERE d.id = $1 AND d.source_url IS NOT NULL AND d.status IN ('ready', 'failed') AND `+access.ModifyDocumentPredicate("d", 2)+
		` RETURNING `+documentColumns, append([]any{id}, access.DocumentArgs(p)...)...))
	if err != nil {
		return Document{}, fmt.Errorf("requeue fetch: %w", err)
	}
	return d, nil
}
