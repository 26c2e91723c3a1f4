package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEntry is one append-only audit record.
type AuditEntry struct {
	ID            int64
	At            time.Time
	ActorID       *string
	ActorName     string
	Action        string
	TargetType    string
	TargetID      string
	Outcome       string
	CorrelationID string
	ClientIP      string
	Details       map[string]any
}

// AppendAudit writes one audit record.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) error {
	details, err := json.Marshal(e.Details)
	if err != nil || e.Details == nil {
		details = []byte("{}")
	}
	_, err = s.db.Exec(ctx,
		`INSERT INTO audit_log (actor_id, actor_name, action, target_type, target_id, outcome, correlation_id, client_ip, details)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.ActorID, e.ActorName, e.Action, e.TargetType, e.TargetID, e.Outcome, e.CorrelationID, e.ClientIP, details)
	if err != nil {
		return fmt.Errorf("append audit: %w", translate(err))
	}
	return nil
}

// AuditFilter narrows ListAudit.
type AuditFilter struct {
	ActorID  string
	Action   string
	Since    *time.Time
	Limit    int
	BeforeID int64
}

// ListAudit returns audit records newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	q := `SELECT id, at, actor_id::text, actor_name, action, target_type, target_id, outcome, correlation_id, client_ip, details
	      FROM audit_log WHERE ($1 = '' OR actor_id::text = $1) AND ($2 = '' OR action = $2)
	      AND ($3::timestamptz IS NULL OR at >= $3) AND ($4 = 0 OR id < $4)
	      ORDER BY id DESC LIMIT $5`
	rows, err := s.db.Query(ctx, q, f.ActorID, f.Action, f.Since, f.BeforeID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.ActorID, &e.ActorName, &e.Action, &e.TargetType, &e.TargetID,
			&e.Outcome, &e.CorrelationID, &e.ClientIP, &e.Details)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return entries, nil
}
