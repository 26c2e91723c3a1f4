package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The queries below are the batch reads and writes of the re-index jobs. Every list
// is keyset-paged by id (or by chunk key) so a job can resume after its checkpoint
// and a batch costs the same at the start and at the end of a large table.

// keyAfter turns "" (the start of a list) into the nil UUID, which sorts before every
// generated id, so one query serves the first and every later page.
func keyAfter(id string) string {
	if id == "" {
		return "00000000-0000-0000-0000-000000000000"
	}
	return id
}

// DocumentScope selects the documents a re-index batch reads.
type DocumentScope int

// Document scopes.
const (
	// LiveDocuments are those not deleted, in any status: their payloads follow ACLs.
	LiveDocuments DocumentScope = iota
	// ReadyDocuments are live and ready: their chunks must all be in the index.
	ReadyDocuments
)

func (sc DocumentScope) predicate() string {
	if sc == ReadyDocuments {
		return `d.deleted_at IS NULL AND d.status = 'ready'`
	}
	return `d.deleted_at IS NULL`
}

// CountDocuments counts the documents in scope.
func (s *Store) CountDocuments(ctx context.Context, scope DocumentScope) (int64, error) {
	var n int64
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM documents d WHERE `+scope.predicate()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count documents: %w", err)
	}
	return n, nil
}

// DocumentsAfter returns up to limit documents in scope with an id after afterID
// ("" is the start), by id.
func (s *Store) DocumentsAfter(ctx context.Context, scope DocumentScope, afterID string, limit int) ([]Document, error) {
	docs, err := collectDocuments(s.db.Query(ctx, `SELECT `+documentColumns+` FROM documents d
		WHERE `+scope.predicate()+` AND d.id > $1::uuid ORDER BY d.id LIMIT $2`, keyAfter(afterID), limit))
	if err != nil {
		return nil, fmt.Errorf("list documents after %q: %w", afterID, translate(err))
	}
	return docs, nil
}

// DocumentsChangedSince returns up to limit documents (deleted ones too) whose row
// changed at or after since, with an id after afterID, by id.
func (s *Store) DocumentsChangedSince(ctx context.Context, since time.Time, afterID string, limit int) ([]Document, error) {
	docs, err := collectDocuments(s.db.Query(ctx, `SELECT `+documentColumns+` FROM documents d
		WHERE d.updated_at >= $1 AND d.id > $2::uuid ORDER BY d.id LIMIT $3`, since, keyAfter(afterID), limit))
	if err != nil {
		return nil, fmt.Errorf("list documents changed since %s: %w", since, translate(err))
	}
	return docs, nil
}

// DocumentsByID returns the documents with these ids that still have a row, deleted
// ones included.
func (s *Store) DocumentsByID(ctx context.Context, ids []string) ([]Document, error) {
	docs, err := collectDocuments(s.db.Query(ctx, `SELECT `+documentColumns+` FROM documents d
		WHERE d.id = ANY($1::uuid[]) ORDER BY d.id`, ids))
	if err != nil {
		return nil, fmt.Errorf("get documents by id: %w", translate(err))
	}
	return docs, nil
}

// IndexedDocumentIDs returns which of ids name documents whose vectors belong in the
// index: not deleted, and ready or still being processed. Points of any other id are
// orphans.
func (s *Store) IndexedDocumentIDs(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, err := s.db.Query(ctx, `SELECT id::text FROM documents
		WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL AND status IN ('queued', 'processing', 'ready')`, ids)
	if err != nil {
		return nil, fmt.Errorf("check indexed documents: %w", translate(err))
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("check indexed documents: %w", err)
	}
	out := make(map[string]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

// ProcessingDocumentIDs returns the ids of documents being processed now; with ids
// given, only those of them.
func (s *Store) ProcessingDocumentIDs(ctx context.Context, ids []string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT id::text FROM documents
		WHERE status = 'processing' AND deleted_at IS NULL AND ($1::uuid[] IS NULL OR id = ANY($1::uuid[])) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("list processing documents: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list processing documents: %w", err)
	}
	return out, nil
}

// SetDocumentsEmbedder records which embedder's vectors ready documents have after a
// re-embed switched the index. updated_at stays: the content did not change.
func (s *Store) SetDocumentsEmbedder(ctx context.Context, embedder string) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE documents SET embedder = $1
		WHERE status = 'ready' AND deleted_at IS NULL AND embedder IS DISTINCT FROM $1`, embedder)
	if err != nil {
		return 0, fmt.Errorf("set documents embedder: %w", err)
	}
	return tag.RowsAffected(), nil
}

// IndexChunk is a chunk with the access fields of its document, everything a vector
// point of it carries.
type IndexChunk struct {
	Chunk
	OwnerID    string
	GroupID    *string
	Private    bool
	ACLVersion int64
}

const indexChunkColumns = `c.document_id::text, c.chunk_index, c.text, c.heading_path, c.page, c.token_count,
	d.owner_id::text, d.group_id::text, d.private, d.acl_version`

func collectIndexChunks(rows pgx.Rows, err error) ([]IndexChunk, error) {
	if err != nil {
		return nil, translate(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (IndexChunk, error) {
		var c IndexChunk
		err := r.Scan(&c.DocumentID, &c.Index, &c.Text, &c.HeadingPath, &c.Page, &c.Tokens,
			&c.OwnerID, &c.GroupID, &c.Private, &c.ACLVersion)
		return c, err
	})
}

// CountReadyChunks counts the chunks of ready, live documents: what a re-embed embeds.
func (s *Store) CountReadyChunks(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE d.deleted_at IS NULL AND d.status = 'ready'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count ready chunks: %w", err)
	}
	return n, nil
}

// ReadyChunksAfter returns up to limit chunks of ready, live documents after the key
// (afterDoc "" is the start), by document id and chunk index.
func (s *Store) ReadyChunksAfter(ctx context.Context, afterDoc string, afterIndex, limit int) ([]IndexChunk, error) {
	q := `SELECT ` + indexChunkColumns + ` FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE d.deleted_at IS NULL AND d.status = 'ready'`
	args := []any{limit}
	if afterDoc != "" {
		q += ` AND (c.document_id, c.chunk_index) > ($2::uuid, $3)`
		args = append(args, afterDoc, afterIndex)
	}
	chunks, err := collectIndexChunks(s.db.Query(ctx, q+` ORDER BY c.document_id, c.chunk_index LIMIT $1`, args...))
	if err != nil {
		return nil, fmt.Errorf("list ready chunks: %w", err)
	}
	return chunks, nil
}

// IndexChunksOf returns every chunk of the given documents with their access fields,
// by document and index.
func (s *Store) IndexChunksOf(ctx context.Context, documentIDs []string) ([]IndexChunk, error) {
	chunks, err := collectIndexChunks(s.db.Query(ctx, `SELECT `+indexChunkColumns+`
		FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE c.document_id = ANY($1::uuid[]) ORDER BY c.document_id, c.chunk_index`, documentIDs))
	if err != nil {
		return nil, fmt.Errorf("list chunks of documents: %w", err)
	}
	return chunks, nil
}

// ChunkKeysOf returns the chunk indexes of each of the given documents.
func (s *Store) ChunkKeysOf(ctx context.Context, documentIDs []string) (map[string][]int, error) {
	rows, err := s.db.Query(ctx, `SELECT document_id::text, chunk_index FROM chunks
		WHERE document_id = ANY($1::uuid[]) ORDER BY document_id, chunk_index`, documentIDs)
	if err != nil {
		return nil, fmt.Errorf("list chunk keys: %w", translate(err))
	}
	out := map[string][]int{}
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		var doc string
		var idx int
		err := r.Scan(&doc, &idx)
		out[doc] = append(out[doc], idx)
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("list chunk keys: %w", err)
	}
	return out, nil
}

// needsPersonalGroup selects the users the group migration gives a personal group:
// those who belong to no group, and those imported from the legacy deployment who
// own an imported document in no group (they may belong to legacy groups already,
// yet their ungrouped documents must land in a group of their own).
const needsPersonalGroup = `(NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id)
	OR EXISTS (SELECT 1 FROM documents d JOIN legacy_import_map l ON l.kind = 'document' AND l.target_id = d.id
		WHERE d.owner_id = u.id AND d.group_id IS NULL AND d.deleted_at IS NULL))`

// UsersWithoutGroup returns up to limit users who need a personal group (see
// needsPersonalGroup), with an id after afterID, by id.
func (s *Store) UsersWithoutGroup(ctx context.Context, afterID string, limit int) ([]User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+userColumns+` FROM users u
		WHERE `+needsPersonalGroup+`
		AND u.id > $1::uuid ORDER BY u.id LIMIT $2`, keyAfter(afterID), limit)
	if err != nil {
		return nil, fmt.Errorf("list users without group: %w", translate(err))
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("list users without group: %w", err)
	}
	return users, nil
}

// CountUsersWithoutGroup counts the users who need a personal group.
func (s *Store) CountUsersWithoutGroup(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM users u WHERE `+needsPersonalGroup).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count users without group: %w", err)
	}
	return n, nil
}

// PersonalGroupOf returns the id of the personal group made for user, or ErrNotFound.
func (s *Store) PersonalGroupOf(ctx context.Context, userID string) (string, error) {
	var id string
	if err := s.db.QueryRow(ctx, `SELECT id::text FROM groups WHERE personal_of = $1`, userID).Scan(&id); err != nil {
		return "", fmt.Errorf("get personal group: %w", translate(err))
	}
	return id, nil
}

// InsertPersonalGroup creates the personal group of user and returns its id; a taken
// name is ErrConflict.
func (s *Store) InsertPersonalGroup(ctx context.Context, name, userID string) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO groups (name, description, personal_of)
		VALUES ($1, 'Personal group created by the group migration', $2) RETURNING id::text`, name, userID).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("insert personal group: %w", translate(err))
	}
	return id, nil
}

// MoveUngroupedDocuments puts the owner's live documents that are in no group into
// the group, shared (not private), bumping their ACL version. It returns how many
// moved.
func (s *Store) MoveUngroupedDocuments(ctx context.Context, ownerID, groupID string) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE documents SET group_id = $2, private = false,
		acl_version = acl_version + 1, updated_at = now()
		WHERE owner_id = $1 AND group_id IS NULL AND deleted_at IS NULL`, ownerID, groupID)
	if err != nil {
		return 0, fmt.Errorf("move ungrouped documents: %w", translate(err))
	}
	return tag.RowsAffected(), nil
}
