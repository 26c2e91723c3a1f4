package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutboxMessage is a job waiting to be published to the queue.
type OutboxMessage struct {
	ID            int64
	Subject       string
	MsgID         string
	Payload       []byte
	CorrelationID string
	// TraceParent is the W3C traceparent of the request that enqueued the job, or "".
	TraceParent string
	Attempts    int
}

// EnqueueOutbox records a job to publish. Call it in the same transaction as the row
// the job belongs to, so the two are written together or not at all. traceParent
// may be "" (no trace), stored as NULL.
func (s *Store) EnqueueOutbox(ctx context.Context, subject, msgID string, payload []byte, correlationID, traceParent string) error {
	_, err := s.db.Exec(ctx,
		"INSERT INTO outbox (subject, msg_id, payload, correlation_id, traceparent) VALUES ($1, $2, $3, $4, NULLIF($5, ''))",
		subject, msgID, payload, correlationID, traceParent)
	if err != nil {
		return fmt.Errorf("enqueue outbox: %w", translate(err))
	}
	return nil
}

// EnqueueOutboxAfter is EnqueueOutbox for a message its writer publishes
// itself once the transaction commits: relays leave it alone for delay, and
// take it only if it is still there then. It returns the row's id.
func (s *Store) EnqueueOutboxAfter(ctx context.Context, subject, msgID string, payload []byte, correlationID, traceParent string, delay time.Duration) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx,
		`INSERT INTO outbox (subject, msg_id, payload, correlation_id, traceparent, available_at)
		 VALUES ($1, $2, $3, $4, NULLIF($5, ''), clock_timestamp() + make_interval(secs => $6)) RETURNING id`,
		subject, msgID, payload, correlationID, traceParent, delay.Seconds()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("enqueue outbox: %w", translate(err))
	}
	return id, nil
}

// OutboxDueNow makes messages due for the relays at once.
func (s *Store) OutboxDueNow(ctx context.Context, ids []int64) error {
	if _, err := s.db.Exec(ctx, "UPDATE outbox SET available_at = clock_timestamp() WHERE id = ANY($1)", ids); err != nil {
		return fmt.Errorf("outbox due now: %w", err)
	}
	return nil
}

// ClaimOutbox locks up to limit due messages for the rest of the transaction; other
// relays skip them. Use it inside InTx and delete or reschedule each one. With
// subjects, only messages on those subjects are claimed; without, every one.
func (s *Store) ClaimOutbox(ctx context.Context, limit int, subjects ...string) ([]OutboxMessage, error) {
	var only []string // NULL: every subject
	if len(subjects) > 0 {
		only = subjects
	}
	rows, err := s.db.Query(ctx,
		`SELECT id, subject, msg_id, payload, correlation_id, COALESCE(traceparent, ''), attempts FROM outbox
		 WHERE available_at <= clock_timestamp() AND ($2::text[] IS NULL OR subject = ANY($2))
		 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit, only)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxMessage, error) {
		var m OutboxMessage
		err := r.Scan(&m.ID, &m.Subject, &m.MsgID, &m.Payload, &m.CorrelationID, &m.TraceParent, &m.Attempts)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return msgs, nil
}

// DeleteOutbox removes published messages.
func (s *Store) DeleteOutbox(ctx context.Context, ids []int64) error {
	if _, err := s.db.Exec(ctx, "DELETE FROM outbox WHERE id = ANY($1)", ids); err != nil {
		return fmt.Errorf("delete outbox: %w", err)
	}
	return nil
}

// RescheduleOutbox records a failed publish and makes the message due again after delay.
func (s *Store) RescheduleOutbox(ctx context.Context, id int64, delay time.Duration, reason string) error {
	_, err := s.db.Exec(ctx,
		`UPDATE outbox SET attempts = attempts + 1, last_error = $2,
		 available_at = clock_timestamp() + make_interval(secs => $3) WHERE id = $1`, id, reason, delay.Seconds())
	if err != nil {
		return fmt.Errorf("reschedule outbox: %w", err)
	}
	return nil
}

// OutboxBacklog counts messages not yet published.
func (s *Store) OutboxBacklog(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRow(ctx, "SELECT count(*) FROM outbox").Scan(&n); err != nil {
		return 0, fmt.Errorf("count outbox: %w", err)
	}
	return n, nil
}
