package legacyimport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The legacy deployment's rows, as its SQLAlchemy models define them
// (packages/db/models.py and the Alembic migration 0001_init of the Python
// product). Every id is an integer.

type legacyUser struct {
	ID         int64
	Username   string
	IsRoot     bool
	APIKeyHash *string
	CreatedAt  time.Time
}

type legacyGroup struct {
	ID          int64
	Name        string
	Description *string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

type legacyMember struct {
	UserID   int64
	GroupID  int64
	Role     string
	JoinedAt time.Time
}

type legacySession struct {
	ID          int64
	ExternalID  *string
	UserID      int64
	Title       *string
	Model       *string
	EnableTools bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

type legacyMessage struct {
	ID        int64
	SessionID int64
	Role      string
	Content   []byte
	CreatedAt time.Time
	TokensIn  *int64
	TokensOut *int64
}

type legacyDocument struct {
	ID        int64
	UserID    int64
	GroupID   *int64
	IsPrivate bool
	URI       *string
	Path      *string
	MIME      *string
	BytesSize *int64
	Source    *string
	PathHash  *string
	CreatedAt time.Time
	Tags      []string
}

// source reads the legacy PostgreSQL database. Every session it opens is read-only,
// so the import cannot change the deployment it reads, whatever goes wrong.
type source struct {
	pool *pgxpool.Pool
	// where names the database without credentials, for reports and job params.
	where string
}

// openSource connects to the legacy database. The legacy deployment's own URL
// (postgresql+asyncpg://…) is accepted as it is written in its environment.
func openSource(ctx context.Context, rawURL string) (*source, error) {
	u, where, err := sourceURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.ConnConfig.RuntimeParams["application_name"] = "youworker-legacy-import"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the legacy database %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to the legacy database %s: %w", where, err)
	}
	var users *string
	if err := pool.QueryRow(ctx, `SELECT to_regclass('users')::text`).Scan(&users); err != nil || users == nil {
		pool.Close()
		return nil, fmt.Errorf("the database %s has no users table: is it the legacy deployment's?", where)
	}
	return &source{pool: pool, where: where}, nil
}

func (s *source) close() { s.pool.Close() }

// sourceURL drops a SQLAlchemy driver suffix from the scheme and returns the URL
// to connect to and the same without user and password.
func sourceURL(raw string) (connect, where string, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "", errors.New("--db is required: the legacy deployment's PostgreSQL URL")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "", "", errors.New("--db must be a URL such as postgres://user:password@host:5432/youworker")
	}
	scheme, _, _ := strings.Cut(u.Scheme, "+")
	switch scheme {
	case "postgres", "postgresql":
	default:
		return "", "", fmt.Errorf("--db: scheme %q is not PostgreSQL", u.Scheme)
	}
	u.Scheme = scheme
	connect = u.String()
	u.User = nil
	u.RawQuery = ""
	return connect, u.String(), nil
}

// fingerprint identifies the legacy deployment by its first user, which it never
// changes: an import resumed against another deployment would map other rows to
// the same ids.
func (s *source) fingerprint(ctx context.Context) (string, error) {
	var id int64
	var name string
	var created time.Time
	err := s.pool.QueryRow(ctx, `SELECT id, username, coalesce(created_at, 'epoch') FROM users ORDER BY id LIMIT 1`).Scan(&id, &name, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return "empty", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the legacy users: %w", err)
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%d\x00%s\x00%s", id, name, created.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:8]), nil
}

func (s *source) users(ctx context.Context) ([]legacyUser, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, username, coalesce(is_root, false), api_key_hash, coalesce(created_at, now())
		FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read the legacy users: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (u legacyUser, err error) {
		err = r.Scan(&u.ID, &u.Username, &u.IsRoot, &u.APIKeyHash, &u.CreatedAt)
		return u, err
	})
}

func (s *source) groups(ctx context.Context) ([]legacyGroup, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, description, coalesce(created_at, now()),
		coalesce(updated_at, created_at, now()) FROM groups ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read the legacy groups: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (g legacyGroup, err error) {
		err = r.Scan(&g.ID, &g.Name, &g.Description, &g.CreatedAt, &g.UpdatedAt)
		return g, err
	})
}

func (s *source) members(ctx context.Context) ([]legacyMember, error) {
	rows, err := s.pool.Query(ctx, `SELECT user_id, group_id, coalesce(role, 'member'), coalesce(joined_at, now())
		FROM user_group_memberships ORDER BY group_id, joined_at, id`)
	if err != nil {
		return nil, fmt.Errorf("read the legacy group memberships: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (m legacyMember, err error) {
		err = r.Scan(&m.UserID, &m.GroupID, &m.Role, &m.JoinedAt)
		return m, err
	})
}

func (s *source) sessions(ctx context.Context) ([]legacySession, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, external_id, user_id, title, model, coalesce(enable_tools, true),
		coalesce(created_at, now()), coalesce(updated_at, created_at, now()) FROM chat_sessions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read the legacy chat sessions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (c legacySession, err error) {
		err = r.Scan(&c.ID, &c.ExternalID, &c.UserID, &c.Title, &c.Model, &c.EnableTools, &c.CreatedAt, &c.UpdatedAt)
		return c, err
	})
}

const messageColumns = `id, session_id, coalesce(role, ''), content, coalesce(created_at, 'epoch'), tokens_in, tokens_out`

func scanMessage(r pgx.Row) (m legacyMessage, err error) {
	err = r.Scan(&m.ID, &m.SessionID, &m.Role, &m.Content, &m.CreatedAt, &m.TokensIn, &m.TokensOut)
	return m, err
}

// messagesOf returns a session's messages in the order the legacy deployment
// showed them.
func (s *source) messagesOf(ctx context.Context, sessionID int64) ([]legacyMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM chat_messages WHERE session_id = $1
		ORDER BY created_at, id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("read the messages of legacy session %d: %w", sessionID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (legacyMessage, error) { return scanMessage(r) })
}

// eachMessage streams every message, session by session.
func (s *source) eachMessage(ctx context.Context, fn func(legacyMessage) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM chat_messages ORDER BY session_id, created_at, id`)
	if err != nil {
		return fmt.Errorf("read the legacy chat messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return fmt.Errorf("read the legacy chat messages: %w", err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the legacy chat messages: %w", err)
	}
	return nil
}

func (s *source) documents(ctx context.Context) ([]legacyDocument, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.id, d.user_id, d.group_id, coalesce(d.is_private, false), d.uri, d.path, d.mime,
		d.bytes_size, d.source, d.path_hash, coalesce(d.created_at, now()),
		coalesce((SELECT array_agg(t.name ORDER BY t.name) FROM document_tags dt JOIN tags t ON t.id = dt.tag_id
		          WHERE dt.document_id = d.id), '{}')
		FROM documents d ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("read the legacy documents: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (d legacyDocument, err error) {
		err = r.Scan(&d.ID, &d.UserID, &d.GroupID, &d.IsPrivate, &d.URI, &d.Path, &d.MIME, &d.BytesSize, &d.Source,
			&d.PathHash, &d.CreatedAt, &d.Tags)
		return d, err
	})
}

// history counts the rows the import leaves behind: tool runs, ingestion runs and
// audit log entries. A table the deployment lacks counts nothing.
func (s *source) history(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, table := range []string{"tool_runs", "ingestion_runs", "audit_logs"} {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil {
			return nil, fmt.Errorf("look for legacy %s: %w", table, err)
		}
		if !exists {
			continue
		}
		var n int64
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			return nil, fmt.Errorf("count legacy %s: %w", table, err)
		}
		out[table] = n
	}
	return out, nil
}
