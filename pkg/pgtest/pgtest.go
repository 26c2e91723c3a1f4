// Package pgtest gives tests a real PostgreSQL: a per-test transaction that rolls back,
// or a fresh database cloned from a migrated template for tests that commit across
// connections. Production code never imports it.
//
// The server comes from YW_TEST_DATABASE_URL, else is the local server as postgres
// when it answers on 127.0.0.1:5432, else a private server this test process starts
// from the installed PostgreSQL (package privatepg). When none can be had the test is
// skipped, except under CI=true where it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/youworker/youworker/pkg/postgres"
	"github.com/youworker/youworker/schema"
)

// DefaultURL is the server tests use when YW_TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// lockKey serialises template creation across test processes.
const lockKey = 7_384_110_921

var (
	prepareOnce sync.Once
	prepareErr  error
	sharedOnce  sync.Once
	sharedPool  *pgxpool.Pool
	sharedErr   error
	serverOnce  sync.Once
	serverURL   string
	serverErr   error
)

// ServerURL is the maintenance URL of the test server, chosen once per test process.
func ServerURL() string {
	serverOnce.Do(func() { serverURL, serverErr = resolveServer() })
	return serverURL
}

// NewDB creates a fresh, migrated database for t and drops it when t ends.
// It returns the pool and the database URL (for programs started by the test).
func NewDB(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	template := ensureTemplate(t)
	name := "yw_test_" + randomHex(8)
	admin := connectServer(t, ctx)
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, template)); err != nil {
		t.Fatalf("pgtest: create database from template: %v", err)
	}
	url := withDatabase(t, name)
	pool, err := postgres.Open(ctx, url, 20)
	if err != nil {
		t.Fatalf("pgtest: open %s: %v", name, err)
	}
	t.Cleanup(func() {
		pool.Close()
		dropDatabase(t, name)
	})
	return pool, url
}

func dropDatabase(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Logf("pgtest: drop %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Logf("pgtest: drop %s: %v", name, err)
	}
}

// NewEmptyDB creates an empty database (no migrations) for t and returns its URL.
func NewEmptyDB(t testing.TB) string {
	t.Helper()
	ensureTemplate(t) // skips or fails the same way when the server is missing
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "yw_test_" + randomHex(8)
	admin := connectServer(t, ctx)
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() { dropDatabase(t, name) })
	return withDatabase(t, name)
}

// Tx returns a transaction on a shared migrated database that rolls back when t ends,
// so tests that use it can run in parallel without seeing each other's rows.
func Tx(t testing.TB) pgx.Tx {
	t.Helper()
	pool := shared(t)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatalf("pgtest: begin: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

func shared(t testing.TB) *pgxpool.Pool {
	t.Helper()
	template := ensureTemplate(t)
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		name := template + "_shared"
		sharedErr = withLock(ctx, func(conn *pgx.Conn) error {
			if exists, err := databaseExists(ctx, conn, name); err != nil || exists {
				return err
			}
			_, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, template))
			return err
		})
		if sharedErr != nil {
			return
		}
		sharedPool, sharedErr = postgres.Open(ctx, withDatabase(t, name), 20)
	})
	if sharedErr != nil {
		t.Fatalf("pgtest: shared database: %v", sharedErr)
	}
	return sharedPool
}

// ensureTemplate makes sure a migrated template database for the current migrations
// exists and returns its name. The name carries a hash of the migrations, so a
// changed migration gets a new template instead of a stale one.
func ensureTemplate(t testing.TB) string {
	t.Helper()
	name := "yw_tmpl_" + migrationsHash()
	prepareOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		server := ServerURL()
		if serverErr != nil {
			prepareErr = fmt.Errorf("%w: %v", errUnavailable, serverErr)
			return
		}
		probe, err := pgx.Connect(ctx, server)
		if err != nil {
			prepareErr = fmt.Errorf("%w: %v", errUnavailable, err)
			return
		}
		_ = probe.Close(ctx)
		prepareErr = withLock(ctx, func(conn *pgx.Conn) error {
			if exists, err := databaseExists(ctx, conn, name); err != nil || exists {
				return err
			}
			build := name + "_build"
			if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+build+" WITH (FORCE)"); err != nil {
				return err
			}
			if _, err := conn.Exec(ctx, "CREATE DATABASE "+build); err != nil {
				return err
			}
			pool, err := postgres.Open(ctx, withDatabase(t, build), 2)
			if err != nil {
				return err
			}
			_, _, err = postgres.Migrate(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
			pool.Close()
			if err != nil {
				return err
			}
			// Renaming only after a complete migration means a half-built template is never used.
			_, err = conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", build, name))
			return err
		})
	})
	if prepareErr != nil {
		if os.Getenv("CI") != "true" && errors.Is(prepareErr, errUnavailable) {
			t.Skipf("pgtest: PostgreSQL not reachable (set CI=true to fail instead): %v", prepareErr)
		}
		t.Fatalf("pgtest: prepare template: %v", prepareErr)
	}
	return name
}

var errUnavailable = errors.New("postgres unavailable")

func withLock(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return fmt.Errorf("%w: %v", errUnavailable, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return err
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", lockKey) //nolint:errcheck // released on close anyway
	return fn(conn)
}

func databaseExists(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var exists bool
	err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	return exists, err
}

func connectServer(t testing.TB, ctx context.Context) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	return conn
}

func withDatabase(t testing.TB, name string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(ServerURL())
	if err != nil {
		t.Fatalf("pgtest: parse url: %v", err)
	}
	user := cfg.User
	host := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	if cfg.Password != "" {
		return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", user, cfg.Password, host, name)
	}
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", user, host, name)
}

func migrationsHash() string {
	h := sha256.New()
	_ = fs.WalkDir(schema.Migrations, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(schema.Migrations, path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
