package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// TurnStart is a claimed turn with what the agent worker reads before it runs
// it: the user as the access rule sees them now, and the session's history.
type TurnStart struct {
	Turn Turn
	User User
	// GroupIDs are the user's groups.
	GroupIDs []string
	// GroupLimit are the groups the turn is limited to (LimitTurnGroups), nil
	// when it is not limited.
	GroupLimit []string
	// Messages are the session's messages, as ListMessages returns them.
	Messages []Message
}

// StartTurn is ClaimTurn followed by the reads a worker needs to run the turn,
// sent together in one round trip: one implicit transaction, so the reads see
// the claim. Each turn start used to wait for five round trips in a row here,
// and a burst of turns for five times as many under a busy pool. ok is false
// when the turn has ended (or was cancelled before it ran).
//
// The claim commits durably, unlike the soft state of asyncCommit: the attempt
// number it takes decides whether clients are told turn.restarted, so a claim
// lost in a database crash would let the next attempt reuse the number and its
// text be appended to the lost attempt's instead of replacing it.
func (s *Store) StartTurn(ctx context.Context, id string) (TurnStart, bool, error) {
	b := &pgx.Batch{}
	b.Queue(claimTurn, id)
	b.Queue(`SELECT `+userColumns+` FROM users WHERE id = (SELECT user_id FROM turns WHERE id = $1)`, id)
	b.Queue(`SELECT group_id::text FROM memberships WHERE user_id = (SELECT user_id FROM turns WHERE id = $1) ORDER BY group_id`, id)
	b.Queue(`SELECT key_group_ids::text[] FROM turns WHERE id = $1`, id)
	b.Queue(`SELECT m.id::text, m.session_id::text, m.role, m.content, m.turn_id::text, m.created_at, t.regenerate_of::text
		FROM messages m LEFT JOIN turns t ON t.id = m.turn_id WHERE m.session_id = (SELECT session_id FROM turns WHERE id = $1)
		ORDER BY m.created_at, m.id`, id)
	br := s.db.SendBatch(ctx, b)
	ts, ok, err := readTurnStart(br)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return TurnStart{}, false, fmt.Errorf("start turn: %w", err)
	}
	return ts, ok, nil
}

func readTurnStart(br pgx.BatchResults) (TurnStart, bool, error) {
	var ts TurnStart
	t, err := scanTurn(br.QueryRow())
	if errors.Is(err, ErrNotFound) {
		return TurnStart{}, false, nil
	}
	if err != nil {
		return TurnStart{}, false, fmt.Errorf("claim: %w", err)
	}
	ts.Turn = t
	if ts.User, err = scanUser(br.QueryRow()); err != nil {
		return TurnStart{}, false, fmt.Errorf("user: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return TurnStart{}, false, fmt.Errorf("memberships: %w", err)
	}
	if ts.GroupIDs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return TurnStart{}, false, fmt.Errorf("memberships: %w", err)
	}
	if err := br.QueryRow().Scan(&ts.GroupLimit); err != nil {
		return TurnStart{}, false, fmt.Errorf("group limit: %w", translate(err))
	}
	if rows, err = br.Query(); err != nil {
		return TurnStart{}, false, fmt.Errorf("messages: %w", err)
	}
	if ts.Messages, err = collectMessages(rows); err != nil {
		return TurnStart{}, false, fmt.Errorf("messages: %w", err)
	}
	return ts, true, nil
}
