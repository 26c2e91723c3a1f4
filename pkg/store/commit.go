package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A commit waits for the write-ahead log to reach the disk: about 10 ms on a
// busy disk, and a turn start used to wait for four in a row (claim, model
// queue, rebalance, outbox) before its model request went out; the claim's is
// the one left. Writes whose
// loss in a database crash costs nothing commit without that wait. The database
// stays consistent either way: an asynchronous commit can only be lost
// entirely, with the last fraction of a second of such commits, never torn;
// and any later synchronous commit makes it durable too.
//
// That holds for what is soft state or repeated anyway: the model queue
// (leases run out, waiting turns re-check) and the outbox relay's deletions (a
// job published again is dropped by the stream's de-duplication or finds its
// work done). Never use it for what a client was told is stored, nor for a
// turn's claim (see StartTurn).
const asyncCommit = `SELECT set_config('synchronous_commit', 'off', true)`

// softBatch queues asyncCommit first in b when the store is not inside a
// caller's transaction (whose commit is the caller's to decide).
func (s *Store) softBatch(b *pgx.Batch) *pgx.Batch {
	if s.pool != nil {
		b.Queue(asyncCommit)
	}
	return b
}

// skipSoft reads asyncCommit's result if softBatch queued it.
func (s *Store) skipSoft(br pgx.BatchResults) error {
	if s.pool == nil {
		return nil
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("asynchronous commit: %w", err)
	}
	return nil
}

// softExec runs one statement in a transaction of its own that commits without
// waiting for the disk (see asyncCommit).
func (s *Store) softExec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	b := s.softBatch(&pgx.Batch{})
	b.Queue(sql, args...)
	br := s.db.SendBatch(ctx, b)
	var tag pgconn.CommandTag
	err := s.skipSoft(br)
	if err == nil {
		tag, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// AsyncCommit lets the transaction the store is in commit without waiting for
// the disk (see asyncCommit). Outside a transaction it does nothing.
func (s *Store) AsyncCommit(ctx context.Context) error {
	if s.pool != nil {
		return nil
	}
	if _, err := s.db.Exec(ctx, asyncCommit); err != nil {
		return fmt.Errorf("asynchronous commit: %w", err)
	}
	return nil
}
