package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/outbox"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/turnevent"
)

// TurnEvents is the per-turn event log.
type TurnEvents interface {
	PublishEvent(ctx context.Context, turnID, eventType string, data []byte) (uint64, error)
	Events(ctx context.Context, turnID string, afterSeq uint64) (<-chan queue.Event, error)
}

// ChatConfig configures the chat service.
type ChatConfig struct {
	DefaultModel string
	// Models are the models a message may name; nil allows any.
	Models *Models
	// MaxActiveTurns is how many turns one user may have queued or running at
	// once (default 4); Submit enforces it atomically, whatever the concurrency.
	MaxActiveTurns int
	// TurnsPerMinute and TokensPerMinute cap one user's turns started and model
	// tokens spent in the last minute (0: no cap).
	TurnsPerMinute  int
	TokensPerMinute int
	MaxMessageRunes int
	// Notify wakes the outbox relay after a turn's job is written.
	Notify func()
	// Send, when set, publishes a turn's job as soon as its transaction
	// commits, instead of waking the relay to find it (outbox.Relay.Send).
	Send func(ctx context.Context, job outbox.Pending)
	// Cancel tells the worker running a turn to stop now.
	Cancel func(ctx context.Context, turnID string) error
}

// Chat is the chat service: sessions, messages, turns and their event streams.
type Chat struct {
	store  *store.Store
	events TurnEvents
	cfg    ChatConfig
	logger *slog.Logger
}

// NewChat returns the chat service.
func NewChat(st *store.Store, events TurnEvents, cfg ChatConfig, logger *slog.Logger) *Chat {
	if cfg.MaxActiveTurns <= 0 {
		cfg.MaxActiveTurns = 4
	}
	if cfg.MaxMessageRunes <= 0 {
		cfg.MaxMessageRunes = 32000
	}
	if cfg.Notify == nil {
		cfg.Notify = func() {}
	}
	if cfg.Cancel == nil {
		cfg.Cancel = func(context.Context, string) error { return nil }
	}
	return &Chat{store: st, events: events, cfg: cfg, logger: logger.With("component", "chat")}
}

func validTitle(title string) (string, error) {
	title = strings.TrimSpace(title)
	if utf8.RuneCountInString(title) > 200 {
		return "", &Error{Code: CodeInvalid, Message: "title: at most 200 characters",
			Fields: []FieldError{{Field: "title", Message: "at most 200 characters"}}}
	}
	return title, nil
}

func notFoundAs(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return Errorf(CodeNotFound, "%s not found", what)
	}
	return err
}

// CreateSession starts a conversation.
func (c *Chat) CreateSession(ctx context.Context, p access.Principal, title string) (Session, error) {
	title, err := validTitle(title)
	if err != nil {
		return Session{}, err
	}
	s, err := c.store.CreateSession(ctx, p.UserID, title)
	return sessionFromRow(s), err
}

// ListSessions pages through the caller's sessions.
func (c *Chat) ListSessions(ctx context.Context, p access.Principal, limit int, cursor string) (store.Page[Session], error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return store.Page[Session]{}, err
	}
	page, err := c.store.ListSessions(ctx, p.UserID, clampLimit(limit), after)
	sessions := mapPage(page, sessionFromRow)
	if sessions.Items == nil {
		sessions.Items = []Session{}
	}
	return sessions, err
}

// SessionWithMessages is a session and its history.
type SessionWithMessages struct {
	Session  Session   `json:"session"`
	Messages []Message `json:"messages"`
}

// GetSession returns the caller's session with its messages.
func (c *Chat) GetSession(ctx context.Context, p access.Principal, id string) (SessionWithMessages, error) {
	s, err := c.store.GetSession(ctx, p.UserID, id)
	if err != nil {
		return SessionWithMessages{}, notFoundAs(err, "session")
	}
	rows, err := c.store.ListMessages(ctx, id)
	msgs := mapSlice(rows, messageFromRow)
	if msgs == nil {
		msgs = []Message{}
	}
	return SessionWithMessages{Session: sessionFromRow(s), Messages: msgs}, err
}

// RenameSession sets a session's title.
func (c *Chat) RenameSession(ctx context.Context, p access.Principal, id, title string) (Session, error) {
	title, err := validTitle(title)
	if err != nil {
		return Session{}, err
	}
	s, err := c.store.RenameSession(ctx, p.UserID, id, title)
	return sessionFromRow(s), notFoundAs(err, "session")
}

// DeleteSession removes a session with its history.
func (c *Chat) DeleteSession(ctx context.Context, p access.Principal, id string) error {
	return notFoundAs(c.store.DeleteSession(ctx, p.UserID, id), "session")
}

// SubmitRequest is a new user message.
type SubmitRequest struct {
	Content string `json:"content"`
	Tools   *bool  `json:"tools"`
	Model   string `json:"model"`
	// RegenerateOf, a turn of the chat's last place, asks there again: the same
	// question when Content is empty, else Content (the question edited). Every
	// answer given there is kept; the chat goes on from the new one.
	RegenerateOf string `json:"regenerate_of"`
	// Scope narrows this question's searches to some documents and groups the
	// caller can see; nil takes the session's scope, and a scope naming nothing
	// searches everything the caller may see.
	Scope *Scope `json:"scope"`
}

// Submit records the user message and its turn and queues the turn, in one
// transaction with the job, so neither is ever lost without the other.
func (c *Chat) Submit(ctx context.Context, p access.Principal, sessionID string, req SubmitRequest) (Message, Turn, error) {
	if sessionID == "" {
		return Message{}, Turn{}, Errorf(CodeNotFound, "session not found")
	}
	_, msg, turn, err := c.submit(ctx, p, sessionID, req)
	return msg, turn, err
}

// SubmitInNewSession is Submit in a new untitled session, made in the same
// transaction: a request refused (a scope naming what the caller cannot see, too
// many turns) leaves no empty session behind. It returns the new session's id.
func (c *Chat) SubmitInNewSession(ctx context.Context, p access.Principal, req SubmitRequest) (string, Message, Turn, error) {
	return c.submit(ctx, p, "", req)
}

// submit is Submit, in a new session when sessionID is "".
func (c *Chat) submit(ctx context.Context, p access.Principal, sessionID string, req SubmitRequest) (string, Message, Turn, error) {
	var v validation
	content := strings.TrimSpace(req.Content)
	if content == "" && req.RegenerateOf == "" {
		v.add("content", "required")
	} else if n := utf8.RuneCountInString(content); n > c.cfg.MaxMessageRunes {
		v.add("content", "at most %d characters (got %d)", c.cfg.MaxMessageRunes, n)
	}
	model := strings.TrimSpace(req.Model)
	if model == "" {
		model = c.cfg.DefaultModel
	} else if len(model) > 100 || strings.ContainsAny(model, " \t\r\n") {
		v.add("model", "must be a model name")
	} else if c.cfg.Models != nil && !c.cfg.Models.Allowed(model) {
		v.add("model", "%s is not one of the chat models of this server; GET /v1/models lists them", model)
	}
	if req.RegenerateOf != "" && !isUUID(req.RegenerateOf) {
		v.add("regenerate_of", notATurn)
	}
	if err := v.err(); err != nil {
		return "", Message{}, Turn{}, err
	}
	tools := req.Tools == nil || *req.Tools
	var msg store.Message
	var turn store.Turn
	var pending outbox.Pending
	err := c.store.InTx(ctx, func(st *store.Store) error {
		var session store.ChatSession
		var err error
		if sessionID == "" {
			session, err = st.CreateSession(ctx, p.UserID, "")
		} else {
			session, err = st.GetSession(ctx, p.UserID, sessionID)
		}
		if err != nil {
			return notFoundAs(err, "session")
		}
		scope, err := turnScope(ctx, st, p, session, req.Scope)
		if err != nil {
			return err
		}
		var regenerateOf *string
		if req.RegenerateOf != "" {
			slot, question, err := lastPlace(ctx, st, p, session.ID, req.RegenerateOf)
			if err != nil {
				return err
			}
			regenerateOf = &slot
			if content == "" {
				content = question
			}
		}
		// The count and the insert below must not interleave with another
		// submit of the same user, or a burst of requests all see room and all
		// get in: the lock makes them take turns until this one commits.
		active, err := st.LockUserTurnsAndCount(ctx, p.UserID)
		if err != nil {
			return err
		}
		if active >= c.cfg.MaxActiveTurns {
			return Errorf(CodeTooManyTurns, "you have %d turns running, the most allowed; wait for one to finish or cancel one", active)
		}
		if err := c.checkRate(ctx, st, p.UserID); err != nil {
			return err
		}
		if msg, turn, err = st.CreateTurn(ctx, session.ID, p.UserID, content, model, tools, regenerateOf); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return Errorf(CodeConflict, "this session already has a running turn; wait for it or cancel it")
			}
			return err
		}
		if p.GroupLimited() {
			// The worker runs the turn as the key allowed: only these groups.
			if err := st.LimitTurnGroups(ctx, turn.ID, p.GroupIDs); err != nil {
				return err
			}
		}
		if !scope.IsZero() {
			// The scope travels with the turn: the worker reads it with the turn.
			if err := st.SetTurnScope(ctx, turn.ID, scope); err != nil {
				return err
			}
			turn.Scope = scope
		}
		if c.cfg.Send == nil {
			return outbox.Enqueue(ctx, st, job.ChatJob{TurnID: turn.ID})
		}
		pending, err = outbox.EnqueueNow(ctx, st, job.ChatJob{TurnID: turn.ID})
		return err
	})
	if err != nil {
		return "", Message{}, Turn{}, err
	}
	if c.cfg.Send != nil {
		c.cfg.Send(ctx, pending)
	} else {
		c.cfg.Notify()
	}
	return turn.SessionID, messageFromRow(msg), turnFromRow(turn), nil
}

// notATurn is what is wrong with a regenerate_of that names no turn of the chat.
const notATurn = "not a turn of this chat"

// lastPlace checks that turnID is a turn of the caller's session at its last place
// and returns that place (its first turn) and the question turnID asked. A turn
// that is not the session's is invalid; one at an earlier place is a conflict, as
// the chat has gone on from there.
func lastPlace(ctx context.Context, st *store.Store, p access.Principal, sessionID, turnID string) (string, string, error) {
	t, err := st.GetUserTurn(ctx, p.UserID, turnID)
	if errors.Is(err, store.ErrNotFound) || err == nil && t.SessionID != sessionID {
		var v validation
		v.add("regenerate_of", notATurn)
		return "", "", v.err()
	}
	if err != nil {
		return "", "", err
	}
	slot := t.ID
	if t.RegenerateOf != nil {
		slot = *t.RegenerateOf
	}
	last, err := st.LastSlot(ctx, sessionID)
	if err != nil {
		return "", "", err
	}
	if last != slot {
		return "", "", Errorf(CodeConflict, "only the last question of a chat can be asked again")
	}
	question, err := st.TurnQuestion(ctx, t.ID)
	return slot, question, err
}

// GetTurn returns the caller's turn.
func (c *Chat) GetTurn(ctx context.Context, p access.Principal, id string) (Turn, error) {
	t, err := c.store.GetUserTurn(ctx, p.UserID, id)
	return turnFromRow(t), notFoundAs(err, "turn")
}

// Events returns the caller's turn events after sequence after, replayed and then
// followed live. The ownership check is the only database access: streaming holds
// no connection.
func (c *Chat) Events(ctx context.Context, p access.Principal, turnID string, after uint64) (Turn, <-chan queue.Event, error) {
	t, err := c.store.GetUserTurn(ctx, p.UserID, turnID)
	if err != nil {
		return Turn{}, nil, notFoundAs(err, "turn")
	}
	ch, err := c.events.Events(ctx, turnID, after)
	if err != nil {
		return Turn{}, nil, fmt.Errorf("follow turn events: %w", err)
	}
	return turnFromRow(t), ch, nil
}

// Cancel stops the caller's turn. A queued turn ends at once; a running one is told
// to stop and ends cancelled with what it generated so far.
func (c *Chat) Cancel(ctx context.Context, p access.Principal, turnID string) (Turn, error) {
	row, now, err := c.store.RequestCancel(ctx, p.UserID, turnID)
	if err != nil {
		return Turn{}, notFoundAs(err, "turn")
	}
	t := turnFromRow(row)
	switch {
	case now:
		data, _ := json.Marshal(map[string]string{"answer": ""})
		if _, err := c.events.PublishEvent(ctx, turnID, turnevent.Cancelled, data); err != nil {
			return t, fmt.Errorf("publish cancellation: %w", err)
		}
	case !t.Terminal():
		if err := c.cfg.Cancel(ctx, turnID); err != nil {
			c.logger.WarnContext(ctx, "cancel signal not delivered; the worker will see the flag", "turn_id", turnID, "error", err)
		}
	}
	return t, nil
}

// WaitTurn follows a turn's events until its terminal event (or ctx ends) and
// returns the turn as stored.
func (c *Chat) WaitTurn(ctx context.Context, p access.Principal, turnID string) (Turn, error) {
	var after uint64
	for {
		ended, err := c.followUntilTerminal(ctx, p, turnID, &after)
		if err != nil {
			return Turn{}, err
		}
		if ended {
			return c.GetTurn(context.WithoutCancel(ctx), p, turnID)
		}
		// The event log let go of us (a reader too far behind, a lost
		// connection): follow again from the last event seen, after a pause
		// so a log that keeps failing is not hammered.
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return Turn{}, ctx.Err()
		}
	}
}

// followUntilTerminal reads the turn's events after *after, advancing it, and
// reports whether the turn has ended.
func (c *Chat) followUntilTerminal(ctx context.Context, p access.Principal, turnID string, after *uint64) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // releases the reader
	t, ch, err := c.Events(ctx, p, turnID, *after)
	if err != nil {
		return false, err
	}
	if t.Terminal() {
		return true, nil
	}
	for ev := range ch {
		*after = ev.Seq
		if turnevent.IsTerminal(ev.Type) {
			return true, nil
		}
	}
	return false, ctx.Err()
}
