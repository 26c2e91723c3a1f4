package app

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/platform"
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
	release func()
}

// OpenAdmin connects to a database whose schema is current: the configured one,
// or the private cluster of `api -dev` (see platform.OperatorDatabase).
func OpenAdmin(ctx context.Context, cfg config.Config, logger *slog.Logger) (*Admin, error) {
	url, release, err := platform.OperatorDatabase(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	pool, err := postgres.Open(ctx, url, 2)
	if err != nil {
		release()
		return nil, err
	}
	if err := postgres.CheckSchema(ctx, pool); err != nil {
		pool.Close()
		release()
		return nil, err
	}
	st := store.New(pool)
	audit := service.NewAuditor(st, logger)
	// Commands never delete users, so no document purger is needed.
	users := service.NewUsers(st, audit, nil, logger).
		WithQuotas(service.QuotaDefaults{Bytes: cfg.QuotaBytes, Documents: cfg.QuotaDocuments})
	return &Admin{Users: users, Reindex: service.NewReindex(st, audit, service.ReindexConfig{}, logger), pool: pool, release: release}, nil
}

// Close releases the database connections, and stops a private server started for them.
func (a *Admin) Close() {
	a.pool.Close()
	a.release()
}
