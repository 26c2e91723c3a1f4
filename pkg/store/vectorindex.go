package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// VectorIndex is the active state of a vector alias: the collection it points at and
// the embedder whose vectors that collection holds. Programs build their embedder
// from it, so the row, not each program's configuration, decides how text is
// embedded.
type VectorIndex struct {
	Alias      string
	Collection string
	// Embedder is the identity recorded on every point (embed.Identity.String()).
	Embedder string
	// Provider ("lexical" or "ollama"), Model and Dim rebuild the embedder.
	Provider string
	Model    string
	Dim      int
	// Lexical describes the collection's lexical sparse vectors; nil when it has
	// none (built before lexical search existed).
	Lexical    *LexicalIndex
	SwitchedAt time.Time
}

// LexicalIndex is how the lexical vectors of a collection were encoded: the
// encoder's name and the BM25 parameters of their stored weights. Queries and
// new chunks must be encoded with the same ones.
type LexicalIndex struct {
	Encoder string
	K1      float64
	B       float64
	// AvgLen is the collection's average chunk length in terms, measured when
	// the collection was built.
	AvgLen float64
	// Language forces one language's analysis; "" detects it per text.
	Language string
}

// lexicalDoc is a LexicalIndex as the vector_indexes.lexical jsonb column holds
// it; its field names are the stored format, so they stay put whatever the Go
// names become.
type lexicalDoc struct {
	Encoder  string  `json:"encoder"`
	K1       float64 `json:"k1"`
	B        float64 `json:"b"`
	AvgLen   float64 `json:"avg_len"`
	Language string  `json:"language,omitempty"`
}

// lexicalDocOf returns what to store for l; nil (SQL NULL) when there is none.
func lexicalDocOf(l *LexicalIndex) *lexicalDoc {
	if l == nil {
		return nil
	}
	return &lexicalDoc{Encoder: l.Encoder, K1: l.K1, B: l.B, AvgLen: l.AvgLen, Language: l.Language}
}

const vectorIndexColumns = `alias, collection, embedder, provider, model, dim, lexical, switched_at`

func scanVectorIndex(row pgx.Row) (VectorIndex, error) {
	var v VectorIndex
	var lexical *lexicalDoc
	err := row.Scan(&v.Alias, &v.Collection, &v.Embedder, &v.Provider, &v.Model, &v.Dim, &lexical, &v.SwitchedAt)
	if lexical != nil {
		v.Lexical = &LexicalIndex{Encoder: lexical.Encoder, K1: lexical.K1, B: lexical.B, AvgLen: lexical.AvgLen, Language: lexical.Language}
	}
	return v, err
}

// GetVectorIndex returns the state of alias, or ErrNotFound before its first
// collection was recorded.
func (s *Store) GetVectorIndex(ctx context.Context, alias string) (VectorIndex, error) {
	v, err := scanVectorIndex(s.db.QueryRow(ctx, `SELECT `+vectorIndexColumns+` FROM vector_indexes WHERE alias = $1`, alias))
	if err != nil {
		return VectorIndex{}, translate(fmt.Errorf("get vector index %s: %w", alias, err))
	}
	return v, nil
}

// CreateVectorIndex records the first state of an alias unless one exists, and
// returns the state that holds: programs starting together on a fresh store may
// each pick an embedder (one of them may not reach the model), and the first to
// commit decides for all of them.
func (s *Store) CreateVectorIndex(ctx context.Context, v VectorIndex) (VectorIndex, error) {
	created, err := scanVectorIndex(s.db.QueryRow(ctx, `INSERT INTO vector_indexes (alias, collection, embedder, provider, model, dim, lexical)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (alias) DO NOTHING RETURNING `+vectorIndexColumns,
		v.Alias, v.Collection, v.Embedder, v.Provider, v.Model, v.Dim, lexicalDocOf(v.Lexical)))
	if err == nil {
		return created, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return VectorIndex{}, translate(fmt.Errorf("create vector index %s: %w", v.Alias, err))
	}
	return s.GetVectorIndex(ctx, v.Alias)
}

// SetVectorIndex records that alias now points at v's collection, filled by v's
// embedder, and returns the stored row.
func (s *Store) SetVectorIndex(ctx context.Context, v VectorIndex) (VectorIndex, error) {
	stored, err := scanVectorIndex(s.db.QueryRow(ctx, `INSERT INTO vector_indexes (alias, collection, embedder, provider, model, dim, lexical)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (alias) DO UPDATE SET collection = EXCLUDED.collection, embedder = EXCLUDED.embedder,
			provider = EXCLUDED.provider, model = EXCLUDED.model, dim = EXCLUDED.dim, lexical = EXCLUDED.lexical,
			switched_at = now()
		RETURNING `+vectorIndexColumns,
		v.Alias, v.Collection, v.Embedder, v.Provider, v.Model, v.Dim, lexicalDocOf(v.Lexical)))
	if err != nil {
		return VectorIndex{}, translate(fmt.Errorf("set vector index %s: %w", v.Alias, err))
	}
	return stored, nil
}
