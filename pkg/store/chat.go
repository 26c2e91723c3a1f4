package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/vector"
)

// Turn statuses.
const (
	TurnQueued    = "queued"
	TurnRunning   = "running"
	TurnCompleted = "completed"
	TurnFailed    = "failed"
	TurnCancelled = "cancelled"
)

// ChatSession is a conversation owned by one user.
type ChatSession struct {
	ID        string
	UserID    string
	Title     string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Scope is what the questions asked in the session are grounded in unless
	// they name their own (the zero scope: everything the user may see).
	Scope access.DocumentScope
}

// Message is one message of a session.
type Message struct {
	ID        string
	SessionID string
	Role      string
	Content   string
	TurnID    *string
	CreatedAt time.Time
	// RegenerateOf is the RegenerateOf of the message's turn (ListMessages only).
	RegenerateOf *string
}

// Slot is the place in the chat of a message's turn: the first turn asked there.
// Messages without a turn have none ("").
func (m Message) Slot() string {
	switch {
	case m.RegenerateOf != nil:
		return *m.RegenerateOf
	case m.TurnID != nil:
		return *m.TurnID
	}
	return ""
}

// Citation points an answer's [n] at a passage.
type Citation struct {
	Index      int
	DocumentID string
	Filename   string
	ChunkIndex int
	Score      float32
	// Matched says which retrievers found the passage and at what rank; turns
	// from before hybrid search have none.
	Matched vector.Matched
	// URL is the web page of a web source (web_search, fetch_page); empty for
	// document passages.
	URL string
}

// citationDoc is a Citation as the turns.citations jsonb column holds it. It is
// its own type so that the stored format stays fixed whatever happens to the Go
// names, and so that no row type carries JSON tags.
type citationDoc struct {
	Index      int        `json:"index"`
	DocumentID string     `json:"document_id"`
	Filename   string     `json:"filename"`
	ChunkIndex int        `json:"chunk_index"`
	Score      float32    `json:"score"`
	Matched    matchedDoc `json:"matched"`
	URL        string     `json:"url,omitempty"`
}

// matchedDoc is vector.Matched as stored within a citation.
type matchedDoc struct {
	Dense   *int `json:"dense"`
	Lexical *int `json:"lexical"`
}

func citationDocs(cs []Citation) []citationDoc {
	docs := make([]citationDoc, len(cs))
	for i, c := range cs {
		docs[i] = citationDoc{Index: c.Index, DocumentID: c.DocumentID, Filename: c.Filename, ChunkIndex: c.ChunkIndex,
			Score: c.Score, Matched: matchedDoc{Dense: c.Matched.Dense, Lexical: c.Matched.Lexical}, URL: c.URL}
	}
	return docs
}

func citationsOf(docs []citationDoc) []Citation {
	cs := make([]Citation, len(docs))
	for i, d := range docs {
		cs[i] = Citation{Index: d.Index, DocumentID: d.DocumentID, Filename: d.Filename, ChunkIndex: d.ChunkIndex,
			Score: d.Score, Matched: vector.Matched{Dense: d.Matched.Dense, Lexical: d.Matched.Lexical}, URL: d.URL}
	}
	return cs
}

// ToolRun is one tool call of a turn.
type ToolRun struct {
	ID        string
	CallID    string
	Name      string
	Args      json.RawMessage
	Status    string
	LatencyMS int
	Preview   string
}

// Usage is what a turn cost the model.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
}

// TurnError is why a turn failed.
type TurnError struct {
	Code    string
	Message string
}

// Turn is one run of the agent for a user message.
type Turn struct {
	ID              string
	SessionID       string
	UserID          string
	Status          string
	Answer          *string
	Citations       []Citation
	ToolCalls       []ToolRun
	Error           *TurnError
	Usage           *Usage
	Model           string
	CreatedAt       time.Time
	StartedAt       *time.Time
	FinishedAt      *time.Time
	Attempt         int
	ToolsEnabled    bool
	CancelRequested bool
	// Feedback is the asker's rating of the answer, read by GetUserTurn only.
	Feedback *Feedback
	// RegenerateOf is the first turn of the place in the chat this turn asks again
	// (nil for a turn asked for the first time).
	RegenerateOf *string
	// Scope is what the turn's searches are narrowed to (SetTurnScope).
	Scope access.DocumentScope
}

// Terminal reports whether the turn has ended.
func (t Turn) Terminal() bool {
	return t.Status == TurnCompleted || t.Status == TurnFailed || t.Status == TurnCancelled
}

const sessionColumns = "s.id::text, s.user_id::text, s.title, s.created_at, s.updated_at, s.scope"

func scanSession(row pgx.Row) (ChatSession, error) {
	var s ChatSession
	var scope *scopeDoc
	err := row.Scan(&s.ID, &s.UserID, &s.Title, &s.CreatedAt, &s.UpdatedAt, &scope)
	s.Scope = scope.documentScope()
	return s, translate(err)
}

// CreateSession starts a conversation for user.
func (s *Store) CreateSession(ctx context.Context, userID, title string) (ChatSession, error) {
	cs, err := scanSession(s.db.QueryRow(ctx, `INSERT INTO chat_sessions AS s (user_id, title) VALUES ($1, $2) RETURNING `+sessionColumns, userID, title))
	if err != nil {
		return ChatSession{}, fmt.Errorf("create session: %w", err)
	}
	return cs, nil
}

// GetSession returns user's session; anyone else's is ErrNotFound.
func (s *Store) GetSession(ctx context.Context, userID, id string) (ChatSession, error) {
	cs, err := scanSession(s.db.QueryRow(ctx, `SELECT `+sessionColumns+` FROM chat_sessions s WHERE s.id = $1 AND s.user_id = $2`, id, userID))
	if err != nil {
		return ChatSession{}, fmt.Errorf("get session: %w", err)
	}
	return cs, nil
}

// ListSessions pages through user's sessions, most recently active first.
func (s *Store) ListSessions(ctx context.Context, userID string, limit int, after *Cursor) (Page[ChatSession], error) {
	q := `SELECT ` + sessionColumns + ` FROM chat_sessions s WHERE s.user_id = $1`
	args := []any{userID, limit + 1}
	if after != nil {
		q += ` AND (s.updated_at, s.id) < ($3, $4)`
		args = append(args, after.At, after.ID)
	}
	q += ` ORDER BY s.updated_at DESC, s.id DESC LIMIT $2`
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return Page[ChatSession]{}, fmt.Errorf("list sessions: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChatSession, error) { return scanSession(r) })
	if err != nil {
		return Page[ChatSession]{}, fmt.Errorf("list sessions: %w", err)
	}
	return pageOf(list, limit, func(c ChatSession) Cursor { return Cursor{At: c.UpdatedAt, ID: c.ID} }), nil
}

// RenameSession sets the title of user's session.
func (s *Store) RenameSession(ctx context.Context, userID, id, title string) (ChatSession, error) {
	cs, err := scanSession(s.db.QueryRow(ctx, `UPDATE chat_sessions s SET title = $3, updated_at = now()
		WHERE s.id = $1 AND s.user_id = $2 RETURNING `+sessionColumns, id, userID, title))
	if err != nil {
		return ChatSession{}, fmt.Errorf("rename session: %w", err)
	}
	return cs, nil
}

// DeleteSession removes user's session with its messages and turns.
func (s *Store) DeleteSession(ctx context.Context, userID, id string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM chat_sessions WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return fmt.Errorf("delete session: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete session: %w", ErrNotFound)
	}
	return nil
}

// ListMessages returns a session's messages, oldest first, every answer of a
// regenerated place included.
func (s *Store) ListMessages(ctx context.Context, sessionID string) ([]Message, error) {
	rows, err := s.db.Query(ctx, listMessages, sessionID)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	msgs, err := collectMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return msgs, nil
}

// listMessages lists the messages of session $1 for ListMessages.
const listMessages = `SELECT m.id::text, m.session_id::text, m.role, m.content, m.turn_id::text, m.created_at, t.regenerate_of::text
		FROM messages m LEFT JOIN turns t ON t.id = m.turn_id WHERE m.session_id = $1 ORDER BY m.created_at, m.id`

func collectMessages(rows pgx.Rows) ([]Message, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) {
		var m Message
		err := r.Scan(&m.ID, &m.SessionID, &m.Role, &m.Content, &m.TurnID, &m.CreatedAt, &m.RegenerateOf)
		return m, err
	})
}

const countActiveTurns = `SELECT count(*) FROM turns WHERE user_id = $1 AND status IN ('queued', 'running')`

// CountActiveTurns counts user's queued and running turns.
func (s *Store) CountActiveTurns(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, countActiveTurns, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count active turns: %w", err)
	}
	return n, nil
}

// CreateTurn records a user message and its queued turn, which asks again at the
// place of turn regenerateOf when that is not nil. A session that already has an
// active turn is ErrConflict.
func (s *Store) CreateTurn(ctx context.Context, sessionID, userID, content, model string, tools bool, regenerateOf *string) (Message, Turn, error) {
	// One statement, not four: the turn, its question, the session's activity
	// and the turn as read back all cost a round trip each inside the caller's
	// transaction, which holds the user's turn lock meanwhile.
	var m Message
	t, err := scanTurn(s.db.QueryRow(ctx, `WITH t AS (
			INSERT INTO turns (session_id, user_id, model, tools_enabled, regenerate_of) VALUES ($1, $2, $3, $4, $5) RETURNING *
		), m AS (
			INSERT INTO messages (session_id, turn_id, role, content) SELECT $1, t.id, 'user', $6 FROM t
			RETURNING id::text, session_id::text, role, content, turn_id::text, created_at
		), touched AS (
			UPDATE chat_sessions SET updated_at = now() WHERE id = $1
		)
		SELECT `+turnColumns+`, m.id, m.session_id, m.role, m.content, m.turn_id, m.created_at FROM t, m`,
		sessionID, userID, model, tools, regenerateOf, content),
		&m.ID, &m.SessionID, &m.Role, &m.Content, &m.TurnID, &m.CreatedAt)
	if err != nil {
		return Message{}, Turn{}, fmt.Errorf("create turn: %w", err)
	}
	m.RegenerateOf = regenerateOf
	return m, t, nil
}

const turnColumns = `t.id::text, t.session_id::text, t.user_id::text, t.status, t.answer, t.citations, t.error_code, t.error_message,
	t.prompt_tokens, t.completion_tokens, t.model, t.created_at, t.started_at, t.finished_at, t.attempt, t.tools_enabled, t.cancel_requested,
	t.regenerate_of::text, t.scope`

// scanTurn scans turnColumns, then extra columns a query adds after them into extra.
func scanTurn(row pgx.Row, extra ...any) (Turn, error) {
	var t Turn
	var code, msg *string
	var pt, ct *int
	var citations []citationDoc
	var scope *scopeDoc
	err := row.Scan(append([]any{&t.ID, &t.SessionID, &t.UserID, &t.Status, &t.Answer, &citations, &code, &msg, &pt, &ct,
		&t.Model, &t.CreatedAt, &t.StartedAt, &t.FinishedAt, &t.Attempt, &t.ToolsEnabled, &t.CancelRequested, &t.RegenerateOf, &scope}, extra...)...)
	if err != nil {
		return Turn{}, translate(err)
	}
	t.Scope = scope.documentScope()
	if code != nil {
		t.Error = &TurnError{Code: *code}
		if msg != nil {
			t.Error.Message = *msg
		}
	}
	if pt != nil || ct != nil {
		t.Usage = &Usage{}
		if pt != nil {
			t.Usage.PromptTokens = *pt
		}
		if ct != nil {
			t.Usage.CompletionTokens = *ct
		}
	}
	t.Citations = citationsOf(citations)
	t.ToolCalls = []ToolRun{}
	return t, nil
}

// GetTurn returns a turn regardless of who asks (workers only).
func (s *Store) GetTurn(ctx context.Context, id string) (Turn, error) {
	t, err := scanTurn(s.db.QueryRow(ctx, `SELECT `+turnColumns+` FROM turns t WHERE t.id = $1`, id))
	if err != nil {
		return Turn{}, fmt.Errorf("get turn: %w", err)
	}
	return t, nil
}

// LastSlot returns the place in the chat of the session's latest turn: its first
// turn. A session without turns is ErrNotFound.
func (s *Store) LastSlot(ctx context.Context, sessionID string) (string, error) {
	var slot string
	err := s.db.QueryRow(ctx, `SELECT coalesce(regenerate_of, id)::text FROM turns WHERE session_id = $1
		ORDER BY created_at DESC, id DESC LIMIT 1`, sessionID).Scan(&slot)
	if err != nil {
		return "", fmt.Errorf("last slot: %w", translate(err))
	}
	return slot, nil
}

// TurnQuestion returns the user message that asked turnID.
func (s *Store) TurnQuestion(ctx context.Context, turnID string) (string, error) {
	var content string
	err := s.db.QueryRow(ctx, `SELECT content FROM messages WHERE turn_id = $1 AND role = 'user'`, turnID).Scan(&content)
	if err != nil {
		return "", fmt.Errorf("turn question: %w", translate(err))
	}
	return content, nil
}

// ListSessionTurns returns a session's turns, oldest first, without their tool calls.
func (s *Store) ListSessionTurns(ctx context.Context, sessionID string) ([]Turn, error) {
	rows, err := s.db.Query(ctx, `SELECT `+turnColumns+` FROM turns t WHERE t.session_id = $1 ORDER BY t.created_at, t.id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("list session turns: %w", err)
	}
	turns, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Turn, error) { return scanTurn(r) })
	if err != nil {
		return nil, fmt.Errorf("list session turns: %w", err)
	}
	return turns, nil
}

// GetUserTurn returns user's turn with its tool calls and feedback; anyone else's
// is ErrNotFound.
func (s *Store) GetUserTurn(ctx context.Context, userID, id string) (Turn, error) {
	// Every feedback column is NULL when there is none (the left join).
	var rating, comment *string
	var created, updated *time.Time
	t, err := scanTurn(s.db.QueryRow(ctx, `SELECT `+turnColumns+`, f.rating, f.comment, f.created_at, f.updated_at
		FROM turns t LEFT JOIN turn_feedback f ON f.turn_id = t.id WHERE t.id = $1 AND t.user_id = $2`, id, userID),
		&rating, &comment, &created, &updated)
	if err != nil {
		return Turn{}, fmt.Errorf("get turn: %w", err)
	}
	if rating != nil {
		t.Feedback = &Feedback{Rating: *rating, Comment: comment, CreatedAt: *created, UpdatedAt: *updated}
	}
	rows, err := s.db.Query(ctx, `SELECT id::text, call_id, name, args, status, latency_ms, result_preview FROM tool_runs
		WHERE turn_id = $1 AND attempt = $2 ORDER BY created_at, id`, id, t.Attempt)
	if err != nil {
		return Turn{}, fmt.Errorf("list tool runs: %w", err)
	}
	t.ToolCalls, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ToolRun, error) {
		var tr ToolRun
		err := r.Scan(&tr.ID, &tr.CallID, &tr.Name, &tr.Args, &tr.Status, &tr.LatencyMS, &tr.Preview)
		return tr, err
	})
	if err != nil {
		return Turn{}, fmt.Errorf("list tool runs: %w", err)
	}
	if t.ToolCalls == nil {
		t.ToolCalls = []ToolRun{}
	}
	return t, nil
}

// ErrFenced means another worker took the turn over: this attempt may write nothing more.
var ErrFenced = errors.New("turn taken over by a newer attempt")

// ClaimTurn starts a new attempt of a queued or interrupted turn and returns it. ok
// is false when the turn has ended (or was cancelled before it ran).
func (s *Store) ClaimTurn(ctx context.Context, id string) (Turn, bool, error) {
	t, err := scanTurn(s.db.QueryRow(ctx, claimTurn, id))
	if errors.Is(err, ErrNotFound) {
		return Turn{}, false, nil
	}
	if err != nil {
		return Turn{}, false, fmt.Errorf("claim turn: %w", err)
	}
	return t, true, nil
}

// claimTurn starts a new attempt of turn $1 if it is queued or running.
const claimTurn = `UPDATE turns t SET status = 'running', attempt = attempt + 1,
		started_at = coalesce(started_at, now()) WHERE t.id = $1 AND t.status IN ('queued', 'running') RETURNING ` + turnColumns

// CheckFence returns ErrFenced unless attempt is still the turn's current running attempt,
// and reports whether cancellation was requested.
func (s *Store) CheckFence(ctx context.Context, id string, attempt int) (cancel bool, err error) {
	err = s.db.QueryRow(ctx, `SELECT cancel_requested FROM turns WHERE id = $1 AND attempt = $2 AND status = 'running'`, id, attempt).Scan(&cancel)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, ErrFenced
	}
	if err != nil {
		return false, fmt.Errorf("check turn fence: %w", err)
	}
	return cancel, nil
}

// RecordToolRun stores one tool call of an attempt, unless the attempt is fenced out.
func (s *Store) RecordToolRun(ctx context.Context, turnID string, attempt int, tr ToolRun) error {
	args := tr.Args
	if len(args) == 0 || !json.Valid(args) {
		args = json.RawMessage(`{}`)
	}
	tag, err := s.db.Exec(ctx, `INSERT INTO tool_runs (turn_id, attempt, call_id, name, args, status, result_preview, latency_ms)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM turns WHERE id = $1 AND attempt = $2 AND status = 'running')`,
		turnID, attempt, tr.CallID, tr.Name, args, tr.Status, tr.Preview, tr.LatencyMS)
	if err != nil {
		return fmt.Errorf("record tool run: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return ErrFenced
	}
	return nil
}

// TurnOutcome is how an attempt ends.
type TurnOutcome struct {
	Status    string
	Answer    string
	Citations []Citation
	Usage     *Usage
	Error     *TurnError
	// SaveMessage stores the answer as the session's assistant message.
	SaveMessage bool
}

// FinishTurn ends the attempt's turn and stores the assistant message, both or
// neither; ErrFenced when a newer attempt owns the turn. It returns the message id.
func (s *Store) FinishTurn(ctx context.Context, id string, attempt int, o TurnOutcome) (string, error) {
	var messageID string
	err := s.InTx(ctx, func(st *Store) error {
		var sessionID string
		var pt, ct *int
		if o.Usage != nil {
			pt, ct = &o.Usage.PromptTokens, &o.Usage.CompletionTokens
		}
		var code, msg *string
		if o.Error != nil {
			code, msg = &o.Error.Code, &o.Error.Message
		}
		citations := citationDocs(o.Citations)
		err := st.db.QueryRow(ctx, `UPDATE turns SET status = $3, answer = $4, citations = $5, prompt_tokens = $6,
			completion_tokens = $7, error_code = $8, error_message = $9, finished_at = now()
			WHERE id = $1 AND attempt = $2 AND status = 'running' RETURNING session_id::text`,
			id, attempt, o.Status, o.Answer, citations, pt, ct, code, msg).Scan(&sessionID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrFenced
		}
		if err != nil {
			return fmt.Errorf("finish turn: %w", err)
		}
		if !o.SaveMessage {
			return nil
		}
		err = st.db.QueryRow(ctx, `INSERT INTO messages (session_id, turn_id, role, content) VALUES ($1, $2, 'assistant', $3) RETURNING id::text`,
			sessionID, id, o.Answer).Scan(&messageID)
		if err != nil {
			return fmt.Errorf("store answer: %w", translate(err))
		}
		_, err = st.db.Exec(ctx, `UPDATE chat_sessions SET updated_at = now() WHERE id = $1`, sessionID)
		return err
	})
	return messageID, err
}

// RequestCancel flags user's active turn for cancellation. A turn that has not
// started yet is cancelled at once (cancelledNow). Ended turns are left alone.
func (s *Store) RequestCancel(ctx context.Context, userID, id string) (t Turn, cancelledNow bool, err error) {
	t, err = scanTurn(s.db.QueryRow(ctx, `UPDATE turns t SET cancel_requested = true,
		status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
		finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END,
		answer = CASE WHEN status = 'queued' THEN '' ELSE answer END
		WHERE t.id = $1 AND t.user_id = $2 RETURNING `+turnColumns, id, userID))
	if err != nil {
		return Turn{}, false, fmt.Errorf("cancel turn: %w", err)
	}
	return t, t.Status == TurnCancelled && t.Attempt == 0, nil
}

// FailTurn marks a turn failed whatever its attempt (the dead-letter path).
func (s *Store) FailTurn(ctx context.Context, id, code, message string) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE turns SET status = 'failed', error_code = $2, error_message = $3, finished_at = now()
		WHERE id = $1 AND status IN ('queued', 'running')`, id, code, message)
	if err != nil {
		return false, fmt.Errorf("fail turn: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteSessionsOf removes every session of user with its messages and turns, and
// says how many went.
func (s *Store) DeleteSessionsOf(ctx context.Context, userID string) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM chat_sessions WHERE user_id = $1`, userID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions: %w", translate(err))
	}
	return tag.RowsAffected(), nil
}

// LimitTurnGroups records that turn id was asked with a key limited to groupIDs, so
// the worker searches only those (access.Principal.Limit).
func (s *Store) LimitTurnGroups(ctx context.Context, id string, groupIDs []string) error {
	if groupIDs == nil {
		groupIDs = []string{} // limited to no group is a limit too
	}
	if _, err := s.db.Exec(ctx, `UPDATE turns SET key_group_ids = $2::uuid[] WHERE id = $1`, id, groupIDs); err != nil {
		return fmt.Errorf("limit turn groups: %w", translate(err))
	}
	return nil
}

// TurnGroupLimit returns the groups turn id is limited to, or nil when it is not
// limited (LimitTurnGroups).
func (s *Store) TurnGroupLimit(ctx context.Context, id string) ([]string, error) {
	var groups []string
	if err := s.db.QueryRow(ctx, `SELECT key_group_ids::text[] FROM turns WHERE id = $1`, id).Scan(&groups); err != nil {
		return nil, fmt.Errorf("turn group limit: %w", translate(err))
	}
	return groups, nil
}
