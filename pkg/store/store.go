// Package store is the persistence API of the system of record. It speaks SQL to
// PostgreSQL through pgx and translates driver errors into ErrNotFound and ErrConflict
// at this boundary, so no caller ever sees a pgx error.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound means the row does not exist (or is not visible to the caller).
var ErrNotFound = errors.New("not found")

// ErrConflict means a uniqueness or state rule refused the write.
var ErrConflict = errors.New("conflict")

// Unavailable reports whether err says the database cannot be reached right
// now — refused or cut connections, a server shutting down or starting up — as
// opposed to a fault of the request: callers may answer "try again shortly".
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: admin shutdown, crash
		// shutdown, cannot connect now.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	// Failed before anything reached the server: a connection found dead.
	return pgconn.SafeToRetry(err)
}

// querier is what both a pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Store runs queries on a pool, or inside one transaction when obtained from InTx.
type Store struct {
	pool *pgxpool.Pool
	db   querier
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool, db: pool} }

// NewTx returns a Store bound to an open transaction (tests use it with pgtest.Tx).
func NewTx(tx pgx.Tx) *Store { return &Store{db: tx} }

// Pool is the underlying pool, for health checks.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// InTx runs fn with a Store bound to one transaction; it commits when fn returns nil.
// Called on a Store that is already in a transaction, fn joins that transaction.
func (s *Store) InTx(ctx context.Context, fn func(*Store) error) error {
	if s.pool == nil {
		return fn(s)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after commit
	if err := fn(&Store{db: tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return translate(fmt.Errorf("commit transaction: %w", err))
	}
	return nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// translate maps driver errors to the package's sentinels, keeping the original text.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505", "23P01": // unique_violation, exclusion_violation
			return fmt.Errorf("%w: %s", ErrConflict, pgErr.ConstraintName)
		case "22P02": // invalid_text_representation, e.g. a malformed uuid
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
	}
	return err
}
