package service

import (
	"context"
	"log/slog"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/store"
)

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeDenied  = "denied"
	OutcomeFailure = "failure"
)

// Auditor appends audit records; a failed append is logged, never hidden.
type Auditor struct {
	store  *store.Store
	logger *slog.Logger
}

// NewAuditor returns an Auditor writing to st.
func NewAuditor(st *store.Store, logger *slog.Logger) *Auditor {
	return &Auditor{store: st, logger: logger.With("component", "audit")}
}

// Record writes one audit entry for actor: a user, or access.System for the
// command line, the bootstrap and background jobs.
func (a *Auditor) Record(ctx context.Context, st *store.Store, actor access.Principal, action, targetType, targetID, outcome string, details map[string]any) {
	if st == nil {
		st = a.store
	}
	e := store.AuditEntry{
		ActorName: actor.Name, Action: action, TargetType: targetType, TargetID: targetID, Outcome: outcome,
		CorrelationID: logging.CorrelationID(ctx), ClientIP: ClientIP(ctx), Details: details,
	}
	switch {
	case actor.IsUser():
		id := actor.UserID
		e.ActorID = &id
	case !actor.IsSystem():
		// Nobody should act unnamed; if somebody does, the log must not credit System.
		e.ActorName = "unknown"
	}
	if err := st.AppendAudit(ctx, e); err != nil {
		a.logger.ErrorContext(ctx, "audit append failed", "action", action, "error", err)
	}
}
