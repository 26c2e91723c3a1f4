package app

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/postgres"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
)

// Admin is what the operator commands (users, keys, re-index jobs) stand on: the
// database and the services they call, without NATS or the vector store. The jobs
// they enqueue are published by the relay of a running API or reindexer.
type Admin struct {
	Users   *service.Users
	Reindex *service.Reindex
	pool    *pgxpool.Pool
}

// OpenAdmin connects to a database whose schema is current.
func OpenAdmin(ctx context.Context, cfg config.Config, logger *slog.Logger) (*Admin, error) {
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return nil, err
	}
	if err := postgres.CheckSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	st := store.New(pool)
	audit := service.NewAuditor(st, logger)
	// Commands never delete users, so no document purger is needed.
	users := service.NewUsers(st, audit, nil, logger).
		WithQuotas(service.QuotaDefaults{Bytes: cfg.QuotaBytes, Documents: cfg.QuotaDocuments})
	return &Admin{Users: users, Reindex: service.NewReindex(st, audit, service.ReindexConfig{}, logger), pool: pool}, nil
}

// Close releases the database connections.
func (a *Admin) Close() { a.pool.Close() }
