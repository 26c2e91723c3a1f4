package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/youworker/youworker/pkg/access"
)

// Chunk is a piece of a document's text, the unit of retrieval.
type Chunk struct {
	DocumentID  string
	Index       int
	Text        string
	HeadingPath []string
	Page        *int
	Tokens      int
}

// ReplaceChunks stores the chunks of a document, replacing any from an earlier attempt.
func (s *Store) ReplaceChunks(ctx context.Context, documentID string, chunks []Chunk) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM chunks WHERE document_id = $1`, documentID); err != nil {
		return fmt.Errorf("clear chunks: %w", err)
	}
	rows := make([][]any, len(chunks))
	for i, c := range chunks {
		hp := c.HeadingPath
		if hp == nil {
			hp = []string{}
		}
		rows[i] = []any{documentID, c.Index, c.Text, hp, c.Page, c.Tokens}
	}
	copier, ok := s.db.(interface {
		CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error)
	})
	if !ok {
		return errors.New("replace chunks: database handle cannot copy")
	}
	_, err := copier.CopyFrom(ctx, pgx.Identifier{"chunks"},
		[]string{"document_id", "chunk_index", "text", "heading_path", "page", "token_count"}, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("copy chunks: %w", translate(err))
	}
	return nil
}

// ListChunks returns a document's chunks in order, from index from, at most limit.
func (s *Store) ListChunks(ctx context.Context, documentID string, from, limit int) ([]Chunk, error) {
	rows, err := s.db.Query(ctx, `SELECT document_id::text, chunk_index, text, heading_path, page, token_count
		FROM chunks WHERE document_id = $1 AND chunk_index >= $2 ORDER BY chunk_index LIMIT $3`, documentID, from, limit)
	if err != nil {
		return nil, fmt.Errorf("list chunks: %w", err)
	}
	return collectChunks(rows)
}

func collectChunks(rows pgx.Rows) ([]Chunk, error) {
	chunks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Chunk, error) {
		var c Chunk
		err := r.Scan(&c.DocumentID, &c.Index, &c.Text, &c.HeadingPath, &c.Page, &c.Tokens)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read chunks: %w", err)
	}
	return chunks, nil
}

// ChunkKey names one chunk.
type ChunkKey struct {
	DocumentID string
	Index      int
}

// VisibleChunk is a chunk that passed the access re-check, with its document's name.
type VisibleChunk struct {
	Chunk
	Filename string
	GroupID  *string
}

// VisibleChunks re-checks vector hits against Postgres: it returns only those chunks
// whose documents p may see now and that are ready, keyed by ChunkKey.
func (s *Store) VisibleChunks(ctx context.Context, p access.Principal, keys []ChunkKey) (map[ChunkKey]VisibleChunk, error) {
	if len(keys) == 0 {
		return map[ChunkKey]VisibleChunk{}, nil
	}
	docIDs := make([]string, len(keys))
	idx := make([]int32, len(keys))
	for i, k := range keys {
		docIDs[i], idx[i] = k.DocumentID, int32(k.Index)
	}
	rows, err := s.db.Query(ctx, `SELECT c.document_id::text, c.chunk_index, c.text, c.heading_path, c.page, c.token_count, d.filename, d.group_id::text
		FROM unnest($1::uuid[], $2::int[]) AS k(document_id, chunk_index)
		JOIN chunks c ON c.document_id = k.document_id AND c.chunk_index = k.chunk_index
		JOIN documents d ON d.id = c.document_id
		WHERE d.status = 'ready' AND `+access.DocumentPredicate("d", 3), append([]any{docIDs, idx}, access.DocumentArgs(p)...)...)
	if err != nil {
		return nil, fmt.Errorf("check chunks: %w", translate(err))
	}
	out := make(map[ChunkKey]VisibleChunk, len(keys))
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		var v VisibleChunk
		err := r.Scan(&v.DocumentID, &v.Index, &v.Text, &v.HeadingPath, &v.Page, &v.Tokens, &v.Filename, &v.GroupID)
		out[ChunkKey{v.DocumentID, v.Index}] = v
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("check chunks: %w", err)
	}
	return out, nil
}
