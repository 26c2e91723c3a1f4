package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// KindLegacyImport is the job that records an import of the legacy deployment. The
// reindexer's command line runs it (it holds the source's addresses and secret);
// it is listed, followed and cancelled like the re-index jobs.
const KindLegacyImport = "legacy-import"

// Kinds of rows the legacy import maps from their legacy integer ids.
const (
	LegacyUser     = "user"
	LegacyGroup    = "group"
	LegacySession  = "session"
	LegacyDocument = "document"
)

// LegacyTargets returns every mapping of kind: legacy id → id here.
func (s *Store) LegacyTargets(ctx context.Context, kind string) (map[int64]string, error) {
	rows, err := s.db.Query(ctx, `SELECT source_id, target_id::text FROM legacy_import_map WHERE kind = $1`, kind)
	if err != nil {
		return nil, fmt.Errorf("read legacy %s mappings: %w", kind, err)
	}
	out := map[int64]string{}
	var src int64
	var dst string
	_, err = pgx.ForEachRow(rows, []any{&src, &dst}, func() error {
		out[src] = dst
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read legacy %s mappings: %w", kind, err)
	}
	return out, nil
}

// LegacyTarget returns the id here of the legacy row of kind, or ErrNotFound.
func (s *Store) LegacyTarget(ctx context.Context, kind string, sourceID int64) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `SELECT target_id::text FROM legacy_import_map WHERE kind = $1 AND source_id = $2`,
		kind, sourceID).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("read legacy %s mapping: %w", kind, translate(err))
	}
	return id, nil
}

// MapLegacy records that the legacy row of kind is targetID here. A row mapped
// already is ErrConflict: the caller's transaction must then roll back, since
// another run imported it first.
func (s *Store) MapLegacy(ctx context.Context, kind string, sourceID int64, targetID string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO legacy_import_map (kind, source_id, target_id) VALUES ($1, $2, $3)`,
		kind, sourceID, targetID)
	if err != nil {
		return fmt.Errorf("map legacy %s %d: %w", kind, sourceID, translate(err))
	}
	return nil
}

// ImportUser creates a user as the legacy deployment had them, with their creation
// time; a taken name is ErrConflict.
func (s *Store) ImportUser(ctx context.Context, name string, isAdmin bool, createdAt time.Time) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx,
		"INSERT INTO users (name, is_admin, created_at) VALUES ($1, $2, $3) RETURNING "+userColumns, name, isAdmin, createdAt))
	if err != nil {
		return User{}, fmt.Errorf("import user: %w", err)
	}
	return u, nil
}

// InsertLegacyCredential stores a legacy user's key hash (the raw SHA-256 of the
// key); a hash another user has already is ErrConflict.
func (s *Store) InsertLegacyCredential(ctx context.Context, userID string, hash []byte) error {
	_, err := s.db.Exec(ctx, `INSERT INTO legacy_credentials (user_id, hash) VALUES ($1, $2)`, userID, hash)
	if err != nil {
		return fmt.Errorf("insert legacy credential: %w", translate(err))
	}
	return nil
}

// LegacyCredentialUser returns the user whose legacy key hashes to hash, or
// ErrNotFound.
func (s *Store) LegacyCredentialUser(ctx context.Context, hash []byte) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userColumns+` FROM users
		WHERE id = (SELECT user_id FROM legacy_credentials WHERE hash = $1)`, hash))
	if err != nil {
		return User{}, fmt.Errorf("find legacy credential: %w", err)
	}
	return u, nil
}

// TakeLegacyCredential removes the legacy credential with hash and reports
// whether it was there: of two requests upgrading the same key at once, one
// takes it.
func (s *Store) TakeLegacyCredential(ctx context.Context, hash []byte) (bool, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM legacy_credentials WHERE hash = $1`, hash)
	if err != nil {
		return false, fmt.Errorf("take legacy credential: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteLegacyCredentialsOf removes the legacy credential of user, if any.
func (s *Store) DeleteLegacyCredentialsOf(ctx context.Context, userID string) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM legacy_credentials WHERE user_id = $1`, userID)
	if err != nil {
		return 0, fmt.Errorf("delete legacy credential: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ImportGroup creates a group as the legacy deployment had it; a taken name is
// ErrConflict.
func (s *Store) ImportGroup(ctx context.Context, name, description string, createdAt, updatedAt time.Time) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO groups (name, description, created_at, updated_at)
		VALUES ($1, $2, $3, $4) RETURNING id::text`, name, description, createdAt, updatedAt).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("import group: %w", translate(err))
	}
	return id, nil
}

// ImportMember adds a membership with the time the legacy deployment recorded.
func (s *Store) ImportMember(ctx context.Context, groupID, userID, role string, joinedAt time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO memberships (group_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)`,
		groupID, userID, role, joinedAt)
	if err != nil {
		return fmt.Errorf("import membership: %w", translate(err))
	}
	return nil
}

// ImportSession creates a chat session with the legacy times.
func (s *Store) ImportSession(ctx context.Context, userID, title string, createdAt, updatedAt time.Time) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO chat_sessions (user_id, title, created_at, updated_at)
		VALUES ($1, $2, $3, $4) RETURNING id::text`, userID, title, createdAt, updatedAt).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("import session: %w", translate(err))
	}
	return id, nil
}

// ImportedTurn is a question and its answer from the legacy deployment, recorded
// as a completed turn.
type ImportedTurn struct {
	SessionID    string
	UserID       string
	Model        string
	ToolsEnabled bool
	Answer       string
	Usage        *Usage
	CreatedAt    time.Time
	FinishedAt   time.Time
}

// ImportTurn records a completed turn and returns its id.
func (s *Store) ImportTurn(ctx context.Context, t ImportedTurn) (string, error) {
	var pt, ct *int
	if t.Usage != nil {
		pt, ct = &t.Usage.PromptTokens, &t.Usage.CompletionTokens
	}
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO turns (session_id, user_id, status, model, tools_enabled, answer,
		prompt_tokens, completion_tokens, created_at, started_at, finished_at)
		VALUES ($1, $2, 'completed', $3, $4, $5, $6, $7, $8, $8, $9) RETURNING id::text`,
		t.SessionID, t.UserID, t.Model, t.ToolsEnabled, t.Answer, pt, ct, t.CreatedAt, t.FinishedAt).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("import turn: %w", translate(err))
	}
	return id, nil
}

// ImportMessage adds a message with its legacy time; turnID may be nil.
func (s *Store) ImportMessage(ctx context.Context, sessionID string, turnID *string, role, content string, createdAt time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO messages (session_id, turn_id, role, content, created_at) VALUES ($1, $2, $3, $4, $5)`,
		sessionID, turnID, role, content, createdAt)
	if err != nil {
		return fmt.Errorf("import message: %w", translate(err))
	}
	return nil
}

// ImportTextDocument records a document whose original file is not available and
// whose chunks the caller writes from recovered text: it starts processing, at
// the embedding stage, and MarkReady finishes it. The same text for the same owner
// (not deleted) is ErrConflict.
func (s *Store) ImportTextDocument(ctx context.Context, n NewDocument, createdAt time.Time) (Document, error) {
	if n.Tags == nil {
		n.Tags = []string{}
	}
	d, err := scanDocument(s.db.QueryRow(ctx, `INSERT INTO documents AS d
		(id, owner_id, group_id, private, filename, mime, format, size_bytes, sha256, object_key, tags,
		 status, stage, original_available, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'processing', 'embedding', false, $12, $12)
		RETURNING `+documentColumns,
		n.ID, n.OwnerID, n.GroupID, n.Private, n.Filename, n.MIME, n.Format, n.SizeBytes, n.SHA256, n.ObjectKey, n.Tags, createdAt))
	if err != nil {
		return Document{}, fmt.Errorf("import document: %w", err)
	}
	return d, nil
}

// SetDocumentCreatedAt dates a document as the legacy deployment did, so usage
// analytics count it on the day it was first added rather than the day of the
// import.
func (s *Store) SetDocumentCreatedAt(ctx context.Context, id string, createdAt time.Time) error {
	if _, err := s.db.Exec(ctx, `UPDATE documents SET created_at = $2 WHERE id = $1`, id, createdAt); err != nil {
		return fmt.Errorf("date document: %w", err)
	}
	return nil
}

// LegacyDocumentsInProgress counts the imported documents still queued or being
// processed: the re-ingested files the ingest workers have not finished.
func (s *Store) LegacyDocumentsInProgress(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM documents d
		JOIN legacy_import_map l ON l.kind = 'document' AND l.target_id = d.id
		WHERE d.status IN ('queued', 'processing') AND d.original_available AND d.deleted_at IS NULL`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count imported documents in progress: %w", err)
	}
	return n, nil
}

// LegacyDocumentsFailed counts the imported documents whose re-ingested file failed
// to process.
func (s *Store) LegacyDocumentsFailed(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM documents d
		JOIN legacy_import_map l ON l.kind = 'document' AND l.target_id = d.id
		WHERE d.status = 'failed' AND d.deleted_at IS NULL`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count imported documents that failed: %w", err)
	}
	return n, nil
}

// LegacyImportJobs returns the legacy-import jobs, newest first.
func (s *Store) LegacyImportJobs(ctx context.Context) ([]ReindexJob, error) {
	rows, err := s.db.Query(ctx, `SELECT `+reindexColumns+` FROM reindex_jobs j WHERE j.kind = $1
		ORDER BY j.created_at DESC, j.id DESC`, KindLegacyImport)
	if err != nil {
		return nil, fmt.Errorf("list legacy-import jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReindexJob, error) { return scanReindexJob(r) })
	if err != nil {
		return nil, fmt.Errorf("list legacy-import jobs: %w", err)
	}
	return jobs, nil
}

// ActiveReindexJob returns the queued or running job of kind, or ErrNotFound.
func (s *Store) ActiveReindexJob(ctx context.Context, kind string) (ReindexJob, error) {
	j, err := scanReindexJob(s.db.QueryRow(ctx, `SELECT `+reindexColumns+` FROM reindex_jobs j
		WHERE j.kind = $1 AND j.status IN ('queued', 'running')`, kind))
	if err != nil {
		return ReindexJob{}, fmt.Errorf("find active %s job: %w", kind, err)
	}
	return j, nil
}

// TryImportLock takes the session-level advisory lock that lets one legacy import
// run at a time, on a connection of its own that the returned release gives back.
// ok is false when another import holds it. A crashed importer's connection closes
// and so frees the lock.
func (s *Store) TryImportLock(ctx context.Context) (release func(), ok bool, err error) {
	if s.pool == nil {
		return nil, false, errors.New("import lock: needs the pool, not a transaction")
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("import lock: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, importLockKey).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("import lock: %w", err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, importLockKey)
		conn.Release()
	}, true, nil
}

// importLockKey is the advisory lock of the legacy import ("ywlegacy" in ASCII).
const importLockKey int64 = 0x79776c6567616379
