package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/youworker/youworker/pkg/access"
)

// Document statuses.
const (
	StatusQueued     = "queued"
	StatusProcessing = "processing"
	StatusReady      = "ready"
	StatusFailed     = "failed"
	StatusDeleting   = "deleting"
)

// Progress counts chunks embedded and indexed so far, and the pages OCR has
// read of those it has to (zero when it has none).
type Progress struct {
	ChunksDone  int
	ChunksTotal int
	PagesDone   int
	PagesTotal  int
}

// DocError is why a document failed.
type DocError struct {
	Code    string
	Message string
}

// Document is an uploaded file and its processing state.
type Document struct {
	ID         string
	Filename   string
	MIME       string
	SizeBytes  int64
	SHA256     string
	OwnerID    string
	GroupID    *string
	Private    bool
	Tags       []string
	Status     string
	Stage      *string
	Progress   Progress
	ChunkCount int
	Error      *DocError
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ReadyAt    *time.Time

	Format     string
	ObjectKey  string
	Generation int
	ACLVersion int64
	Embedder   *string
	DeletedAt  *time.Time
	// SourceURL is where the document is fetched from; nil for uploads. Until
	// the ingest worker has fetched it, SHA256 is "" and no bytes are stored.
	SourceURL *string
	// OriginalAvailable is false for a document imported from the legacy vector
	// index's text: it has chunks but no original bytes.
	OriginalAvailable bool
}

// Fetched reports whether the document's bytes are stored: always for uploads,
// once fetched for documents from a URL.
func (d Document) Fetched() bool { return d.SHA256 != "" }

const documentColumns = `d.id::text, d.filename, d.mime, d.size_bytes, coalesce(d.sha256, ''), d.owner_id::text, d.group_id::text, d.private,
	d.tags, d.status, d.stage, d.chunks_done, d.chunks_total, d.pages_done, d.pages_total, d.chunk_count, d.error_code, d.error_message,
	d.created_at, d.updated_at, d.ready_at, d.format, d.object_key, d.generation, d.acl_version, d.embedder, d.deleted_at, d.original_available,
	d.source_url`

func scanDocument(row pgx.Row) (Document, error) {
	var d Document
	var code, msg *string
	err := row.Scan(&d.ID, &d.Filename, &d.MIME, &d.SizeBytes, &d.SHA256, &d.OwnerID, &d.GroupID, &d.Private,
		&d.Tags, &d.Status, &d.Stage, &d.Progress.ChunksDone, &d.Progress.ChunksTotal, &d.Progress.PagesDone, &d.Progress.PagesTotal,
		&d.ChunkCount, &code, &msg,
		&d.CreatedAt, &d.UpdatedAt, &d.ReadyAt, &d.Format, &d.ObjectKey, &d.Generation, &d.ACLVersion, &d.Embedder, &d.DeletedAt, &d.OriginalAvailable,
		&d.SourceURL)
	if err != nil {
		return Document{}, translate(err)
	}
	if code != nil {
		d.Error = &DocError{Code: *code}
		if msg != nil {
			d.Error.Message = *msg
		}
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	return d, nil
}

func collectDocuments(rows pgx.Rows, err error) ([]Document, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Document, error) { return scanDocument(r) })
}

// NewDocument is what an upload records.
type NewDocument struct {
	ID        string
	OwnerID   string
	GroupID   *string
	Private   bool
	Filename  string
	MIME      string
	Format    string
	SizeBytes int64
	SHA256    string
	ObjectKey string
	Tags      []string
	// SourceURL is set for a document to fetch; SHA256 is "" then, and MIME,
	// Format and SizeBytes are filled in by RecordFetched.
	SourceURL *string
}

// InsertDocument records an upload (or a URL to fetch) as queued. The same bytes,
// or the same URL, for the same owner (not deleted) are ErrConflict.
func (s *Store) InsertDocument(ctx context.Context, n NewDocument) (Document, error) {
	if n.Tags == nil {
		n.Tags = []string{}
	}
	d, err := scanDocument(s.db.QueryRow(ctx, `INSERT INTO documents AS d
		(id, owner_id, group_id, private, filename, mime, format, size_bytes, sha256, object_key, tags, source_url)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, ''), $10, $11, $12) RETURNING `+documentColumns,
		n.ID, n.OwnerID, n.GroupID, n.Private, n.Filename, n.MIME, n.Format, n.SizeBytes, n.SHA256, n.ObjectKey, n.Tags, n.SourceURL))
	if err != nil {
		return Document{}, fmt.Errorf("insert document: %w", err)
	}
	return d, nil
}

// FindDocumentBySHA returns the owner's live document with these bytes.
func (s *Store) FindDocumentBySHA(ctx context.Context, ownerID, sha string) (Document, error) {
	d, err := scanDocument(s.db.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents d
		WHERE d.owner_id = $1 AND d.sha256 = $2 AND d.deleted_at IS NULL`, ownerID, sha))
	if err != nil {
		return Document{}, fmt.Errorf("find document by hash: %w", err)
	}
	return d, nil
}

// GetDocument returns a document regardless of who asks (workers only).
func (s *Store) GetDocument(ctx context.Context, id string) (Document, error) {
	d, err := scanDocument(s.db.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents d WHERE d.id = $1`, id))
	if err != nil {
		return Document{}, fmt.Errorf("get document: %w", err)
	}
	return d, nil
}

// GetVisibleDocument returns the document when p may see it, else ErrNotFound.
func (s *Store) GetVisibleDocument(ctx context.Context, p access.Principal, id string) (Document, error) {
	d, err := scanDocument(s.db.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents d
		WHERE d.id = $1 AND `+access.DocumentPredicate("d", 2), append([]any{id}, access.DocumentArgs(p)...)...))
	if err != nil {
		return Document{}, fmt.Errorf("get document: %w", err)
	}
	return d, nil
}

// DocumentFilter narrows ListVisibleDocuments.
type DocumentFilter struct {
	Status  string
	GroupID string
}

// ListVisibleDocuments pages through the documents p may see, newest first.
func (s *Store) ListVisibleDocuments(ctx context.Context, p access.Principal, f DocumentFilter, limit int, after *Cursor) (Page[Document], error) {
	q := `SELECT ` + documentColumns + ` FROM documents d WHERE ` + access.DocumentPredicate("d", 4) + `
		AND ($1 = '' OR d.status = $1) AND ($2 = '' OR d.group_id::text = $2)`
	args := append([]any{f.Status, f.GroupID, limit + 1}, access.DocumentArgs(p)...)
	if after != nil {
		q += ` AND (d.created_at, d.id) < ($6, $7)`
		args = append(args, after.At, after.ID)
	}
	q += ` ORDER BY d.created_at DESC, d.id DESC LIMIT $3`
	docs, err := collectDocuments(s.db.Query(ctx, q, args...))
	if err != nil {
		return Page[Document]{}, fmt.Errorf("list documents: %w", err)
	}
	return pageOf(docs, limit, func(d Document) Cursor { return Cursor{At: d.CreatedAt, ID: d.ID} }), nil
}

// StartProcessing moves a queued (or interrupted) document of this generation to
// processing at the parsing stage. ok is false when the job is stale: the document
// was deleted, re-queued under a newer generation, or already finished.
func (s *Store) StartProcessing(ctx context.Context, id string, generation int) (Document, bool, error) {
	d, err := scanDocument(s.db.QueryRow(ctx, `UPDATE documents d SET status = 'processing', stage = 'parsing',
		chunks_done = 0, chunks_total = 0, pages_done = 0, pages_total = 0, error_code = NULL, error_message = NULL, updated_at = now()
		WHERE d.id = $1 AND d.generation = $2 AND d.status IN ('queued', 'processing') AND d.deleted_at IS NULL
		RETURNING `+documentColumns, id, generation))
	if err != nil {
		if isNotFound(err) {
			return Document{}, false, nil
		}
		return Document{}, false, fmt.Errorf("start processing: %w", err)
	}
	return d, true, nil
}

// SetStage records the stage and progress of a document being processed.
func (s *Store) SetStage(ctx context.Context, id string, generation int, stage string, done, total int) error {
	_, err := s.db.Exec(ctx, `UPDATE documents SET stage = $3, chunks_done = $4, chunks_total = $5, updated_at = now()
		WHERE id = $1 AND generation = $2 AND status = 'processing'`, id, generation, stage, done, total)
	if err != nil {
		return fmt.Errorf("set stage: %w", err)
	}
	return nil
}

// SetPages records how many pages OCR has read of the total it has to, in the
// parsing stage.
func (s *Store) SetPages(ctx context.Context, id string, generation int, done, total int) error {
	_, err := s.db.Exec(ctx, `UPDATE documents SET pages_done = $3, pages_total = $4, updated_at = now()
		WHERE id = $1 AND generation = $2 AND status = 'processing'`, id, generation, done, total)
	if err != nil {
		return fmt.Errorf("set pages: %w", err)
	}
	return nil
}

// MarkReady finishes processing. It reports false when the document moved on meanwhile.
func (s *Store) MarkReady(ctx context.Context, id string, generation, chunkCount int, embedder string) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE documents SET status = 'ready', stage = NULL, chunk_count = $3,
		chunks_done = $3, chunks_total = $3, embedder = $4, ready_at = now(), updated_at = now()
		WHERE id = $1 AND generation = $2 AND status = 'processing' AND deleted_at IS NULL`, id, generation, chunkCount, embedder)
	if err != nil {
		return false, fmt.Errorf("mark ready: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// MarkFailed records why processing failed. generation 0 matches any generation (the
// dead-letter path knows only the document). Ready and deleted documents stay as they are.
func (s *Store) MarkFailed(ctx context.Context, id string, generation int, code, message string) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE documents SET status = 'failed', stage = NULL, error_code = $3,
		error_message = $4, updated_at = now()
		WHERE id = $1 AND ($2 = 0 OR generation = $2) AND status IN ('queued', 'processing') AND deleted_at IS NULL`,
		id, generation, code, message)
	if err != nil {
		return false, fmt.Errorf("mark failed: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// RequeueDocument moves a failed document p may modify (its owner, see
// access.CanModifyDocument) back to queued under a new generation and returns it;
// anything else is ErrNotFound.
func (s *Store) RequeueDocument(ctx context.Context, p access.Principal, id string) (Document, error) {
	d, err := scanDocument(s.db.QueryRow(ctx, `UPDATE documents d SET status = 'queued', stage = NULL,
		error_code = NULL, error_message = NULL, chunks_done = 0, chunks_total = 0, pages_done = 0, pages_total = 0,
		generation = generation + 1, updated_at = now()
		WHERE d.id = $1 AND d.status = 'failed' AND `+access.ModifyDocumentPredicate("d", 2)+` RETURNING `+documentColumns, append([]any{id}, access.DocumentArgs(p)...)...))
	if err != nil {
		return Document{}, fmt.Errorf("requeue document: %w", err)
	}
	return d, nil
}

// SoftDeleteDocument hides a document p may modify at once and marks it for
// purging.
func (s *Store) SoftDeleteDocument(ctx context.Context, p access.Principal, id string) (Document, error) {
	d, err := scanDocument(s.db.QueryRow(ctx, `UPDATE documents d SET status = 'deleting', stage = NULL,
		deleted_at = now(), updated_at = now()
		WHERE d.id = $1 AND `+access.ModifyDocumentPredicate("d", 2)+` RETURNING `+documentColumns, append([]any{id}, access.DocumentArgs(p)...)...))
	if err != nil {
		return Document{}, fmt.Errorf("delete document: %w", err)
	}
	return d, nil
}

// SoftDeleteDocumentsOf hides every document of owner and returns them, for purging.
func (s *Store) SoftDeleteDocumentsOf(ctx context.Context, ownerID string) ([]Document, error) {
	docs, err := collectDocuments(s.db.Query(ctx, `UPDATE documents d SET status = 'deleting', stage = NULL,
		deleted_at = coalesce(deleted_at, now()), updated_at = now() WHERE d.owner_id = $1 RETURNING `+documentColumns, ownerID))
	if err != nil {
		return nil, fmt.Errorf("delete documents of user: %w", err)
	}
	return docs, nil
}

// PurgeDocument removes the row and its chunks for good.
func (s *Store) PurgeDocument(ctx context.Context, id string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM documents WHERE id = $1`, id); err != nil {
		return fmt.Errorf("purge document: %w", err)
	}
	return nil
}

// UpdateSharing changes group and privacy of a document p may modify and bumps its
// ACL version, so an older payload sync can never overwrite a newer state.
func (s *Store) UpdateSharing(ctx context.Context, p access.Principal, id string, groupID *string, private bool) (Document, error) {
	args := append([]any{id, groupID, private}, access.DocumentArgs(p)...)
	d, err := scanDocument(s.db.QueryRow(ctx, `UPDATE documents d SET group_id = $2, private = $3,
		acl_version = acl_version + 1, updated_at = now()
		WHERE d.id = $1 AND `+access.ModifyDocumentPredicate("d", 4)+` RETURNING `+documentColumns, args...))
	if err != nil {
		return Document{}, fmt.Errorf("update sharing: %w", err)
	}
	return d, nil
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// TransferSharedDocuments gives each live document of userID shared with a group
// (a group set, not private) to the longest-standing other admin of that group,
// bumping its ACL version so the vector payloads follow. A document stays with
// userID when its group has no other admin, or when the heir already owns the same
// content (an owner holds each content once).
func (s *Store) TransferSharedDocuments(ctx context.Context, userID string) ([]Document, error) {
	rows, err := s.db.Query(ctx, `UPDATE documents d SET owner_id = heir.user_id,
			acl_version = d.acl_version + 1, updated_at = now()
		FROM (
			SELECT DISTINCT ON (m.group_id) m.group_id, m.user_id
			FROM memberships m
			WHERE m.user_id <> $1 AND m.role = 'admin'
			ORDER BY m.group_id, m.joined_at, m.user_id
		) heir
		WHERE d.owner_id = $1 AND d.deleted_at IS NULL AND NOT d.private AND d.group_id = heir.group_id
		  AND NOT EXISTS (SELECT 1 FROM documents o
		                  WHERE o.owner_id = heir.user_id AND o.sha256 = d.sha256 AND o.deleted_at IS NULL)
		RETURNING `+documentColumns, userID)
	if err != nil {
		return nil, fmt.Errorf("transfer shared documents: %w", err)
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Document, error) { return scanDocument(r) })
	if err != nil {
		return nil, fmt.Errorf("transfer shared documents: %w", err)
	}
	return docs, nil
}
