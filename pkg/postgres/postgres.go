// Package postgres opens the system of record: the connection pool, schema migrations
// and the schema version check every program runs before it serves.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/youworker/youworker/schema"
)

// versionTable is where tern records the applied migration version.
const versionTable = "schema_version"

// ErrSchemaOutdated means the database is behind the migrations this program carries.
var ErrSchemaOutdated = errors.New("database schema is outdated: run `api migrate`")

// Open connects a pool to url and pings it.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	// The platform's statements are prepared once per connection and look rows
	// up by key, so one generic plan serves every call. PostgreSQL would plan
	// each of the first five calls on every connection anew; on a turn start,
	// that planning was most of the database's time. A URL that sets
	// plan_cache_mode keeps its own choice.
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}

// EnsureDatabase creates the database named in url when it does not exist yet, by
// connecting to the server's maintenance database. Used by the embedded dev mode.
func EnsureDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse database url: %w", err)
	}
	name := cfg.Database
	if name == "" {
		return errors.New("database url names no database")
	}
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to maintenance database: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created concurrently by another process
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}

// Migrate applies every pending migration and returns the versions before and after.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (from, to int32, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	m, err := newMigrator(ctx, conn.Conn())
	if err != nil {
		return 0, 0, err
	}
	if from, err = m.GetCurrentVersion(ctx); err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	m.OnStart = func(seq int32, name, _, _ string) {
		logger.Info("applying migration", "version", seq, "name", name)
	}
	if err := m.Migrate(ctx); err != nil {
		return from, 0, fmt.Errorf("migrate: %w", err)
	}
	to, err = m.GetCurrentVersion(ctx)
	if err != nil {
		return from, 0, fmt.Errorf("read schema version: %w", err)
	}
	return from, to, nil
}

// CheckSchema returns ErrSchemaOutdated (wrapped, with both versions) unless the
// database has every migration this program carries.
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	want, err := LatestVersion()
	if err != nil {
		return err
	}
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", versionTable).Scan(&exists); err != nil {
		return fmt.Errorf("check schema version table: %w", err)
	}
	var have int32
	if exists {
		if err := pool.QueryRow(ctx, "SELECT version FROM "+versionTable).Scan(&have); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
	}
	if have < want {
		return fmt.Errorf("%w (database at version %d, program needs %d)", ErrSchemaOutdated, have, want)
	}
	return nil
}

// LatestVersion is the version of the newest migration embedded in this program.
func LatestVersion() (int32, error) {
	names, err := migrate.FindMigrations(schema.Migrations)
	if err != nil {
		return 0, fmt.Errorf("find migrations: %w", err)
	}
	return int32(len(names)), nil
}

func newMigrator(ctx context.Context, conn *pgx.Conn) (*migrate.Migrator, error) {
	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return nil, fmt.Errorf("create migrator: %w", err)
	}
	if err := m.LoadMigrations(schema.Migrations); err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return m, nil
}
