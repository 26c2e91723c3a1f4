package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChatHit is one place a search found in a user's chats: a message, or the
// session's title (MessageID nil).
type ChatHit struct {
	SessionID string
	Title     string
	MessageID *string
	// Text is the message, or the title for a title hit.
	Text      string
	CreatedAt time.Time
}

// key orders hits: a title hit by its session's id, a message hit by its own.
func (h ChatHit) key() Cursor {
	if h.MessageID != nil {
		return Cursor{At: h.CreatedAt, ID: *h.MessageID}
	}
	return Cursor{At: h.CreatedAt, ID: h.SessionID}
}

// searchChatsSQL finds the words of $2 (web search syntax: "quoted phrases", or,
// -excluded) in the titles and messages of $1's sessions, newest first, after the
// keyset ($4, $5) when given. The expressions to_tsvector('simple', ...) are those
// of the GIN indexes of migration 013.
const searchChatsSQL = `
WITH q AS (SELECT websearch_to_tsquery('simple', $2) AS query),
hits AS (
	SELECT s.id AS session_id, s.title, NULL::uuid AS message_id, s.title AS body, s.created_at, s.id AS key
	FROM chat_sessions s, q
	WHERE s.user_id = $1 AND to_tsvector('simple', s.title) @@ q.query
	UNION ALL
	SELECT s.id, s.title, m.id, m.content, m.created_at, m.id
	FROM messages m JOIN chat_sessions s ON s.id = m.session_id, q
	WHERE s.user_id = $1 AND to_tsvector('simple', m.content) @@ q.query
)
SELECT session_id::text, title, message_id::text, body, created_at FROM hits
WHERE $4::timestamptz IS NULL OR (created_at, key) < ($4::timestamptz, $5::uuid)
ORDER BY created_at DESC, key DESC LIMIT $3`

// SearchChats pages through the places in userID's chats that match query, newest
// first. A query without any word (only punctuation, say) matches nothing.
func (s *Store) SearchChats(ctx context.Context, userID, query string, limit int, after *Cursor) (Page[ChatHit], error) {
	var at any
	var id any
	if after != nil {
		at, id = after.At, after.ID
	}
	rows, err := s.db.Query(ctx, searchChatsSQL, userID, query, limit+1, at, id)
	if err != nil {
		return Page[ChatHit]{}, fmt.Errorf("search chats: %w", translate(err))
	}
	hits, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChatHit, error) {
		var h ChatHit
		err := r.Scan(&h.SessionID, &h.Title, &h.MessageID, &h.Text, &h.CreatedAt)
		return h, err
	})
	if err != nil {
		return Page[ChatHit]{}, fmt.Errorf("search chats: %w", translate(err))
	}
	return pageOf(hits, limit, ChatHit.key), nil
}
