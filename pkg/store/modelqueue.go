package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ModelLimits bound how much of one chat model the whole fleet may use.
type ModelLimits struct {
	// Parallel is how many turns may hold the model at once (the model server's
	// parallelism).
	Parallel int
	// RequestsPerMinute and TokensPerMinute cap the slots granted and the tokens
	// spent in the last minute; zero means no cap.
	RequestsPerMinute int
	TokensPerMinute   int
	// Lease is how long a granted slot stays held without a renewal.
	Lease time.Duration
}

// ModelQueueState is a model's queue after a rebalance: the turns holding a
// slot, and the waiting ones in the order they will be served.
type ModelQueueState struct {
	// At is the database's clock when the queue was read; rebalances of a model
	// run one at a time, so At orders them.
	At      time.Time
	Granted []string
	Waiting []string
}

// Position is where turnID stands: 0 when it holds a slot, 1 when it is next,
// and -1 when it is not in the queue at all.
func (q ModelQueueState) Position(turnID string) int {
	for _, id := range q.Granted {
		if id == turnID {
			return 0
		}
	}
	for i, id := range q.Waiting {
		if id == turnID {
			return i + 1
		}
	}
	return -1
}

// EnqueueModelTurn puts a turn in its model's queue. A turn already there (a
// new attempt after a worker died) keeps its place and any slot it holds.
func (s *Store) EnqueueModelTurn(ctx context.Context, turnID, model, userID string) error {
	_, err := s.softExec(ctx, `INSERT INTO model_queue (turn_id, model, user_id) VALUES ($1, $2, $3)
		ON CONFLICT (turn_id) DO NOTHING`, turnID, model, userID)
	if err != nil {
		return fmt.Errorf("enqueue turn for model: %w", translate(err))
	}
	return nil
}

// LeaveModelQueue takes a turn out of the queue, freeing its slot if it held
// one.
func (s *Store) LeaveModelQueue(ctx context.Context, turnID string) error {
	if _, err := s.softExec(ctx, `DELETE FROM model_queue WHERE turn_id = $1`, turnID); err != nil {
		return fmt.Errorf("leave model queue: %w", err)
	}
	return nil
}

// RenewModelSlot extends the lease of a turn's slot; it reports false when the
// turn holds none any more (its lease ran out and the slot went to another).
func (s *Store) RenewModelSlot(ctx context.Context, turnID string, lease time.Duration) (bool, error) {
	tag, err := s.softExec(ctx, `UPDATE model_queue SET lease_until = clock_timestamp() + $2::interval
		WHERE turn_id = $1 AND granted_at IS NOT NULL`, turnID, lease)
	if err != nil {
		return false, fmt.Errorf("renew model slot: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// RebalanceModelQueue frees the slots whose lease ran out, grants the free ones
// to the waiting turns served next, and returns the queue. Only one rebalance of
// a model runs at a time (a transaction-scoped advisory lock), whichever worker
// calls it.
//
// Waiting turns are served round-robin between users: every user's oldest
// waiting turn comes before anyone's second, and among those the user served
// least recently goes first (one never served, or not in the last minute, before
// all others). A user who posts ten turns at once therefore holds back another
// user's first turn by no more than the turns already holding the model.
//
// The whole rebalance is sent in one round trip (a batch is one implicit
// transaction, so the advisory lock holds to its end): every turn that joins or
// leaves the queue rebalances, one at a time per model, so the round trips spent
// under the lock were paid by every turn waiting behind it.
func (s *Store) RebalanceModelQueue(ctx context.Context, model string, lim ModelLimits) (ModelQueueState, error) {
	return s.ChangeModelQueue(ctx, model, lim, QueueChanges{})
}

// QueueChanges are turns joining and leaving a model's queue.
type QueueChanges struct {
	Join  []QueuedTurn
	Leave []string // turn ids
}

// QueuedTurn is a turn joining its model's queue.
type QueuedTurn struct {
	TurnID, UserID string
}

// ChangeModelQueue applies changes as EnqueueModelTurn and LeaveModelQueue do
// and rebalances, in one round trip: a burst of turns joining together costs
// one round trip, not one each and then the rebalance. Joining turns enter in
// the order given; leaving ones are taken out after, so a turn that gave up
// while its joining was on its way ends up out.
func (s *Store) ChangeModelQueue(ctx context.Context, model string, lim ModelLimits, changes QueueChanges) (ModelQueueState, error) {
	b := s.softBatch(&pgx.Batch{})
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended('model_queue:' || $1, 0))`, model)
	execs := 3 // the lock, the leases ended, the old grants
	if len(changes.Join) > 0 {
		turns, users := make([]string, len(changes.Join)), make([]string, len(changes.Join))
		for i, j := range changes.Join {
			turns[i], users[i] = j.TurnID, j.UserID
		}
		// One row at a time, in order, so each joins at its own clock_timestamp().
		b.Queue(`INSERT INTO model_queue (turn_id, model, user_id, enqueued_at)
			SELECT j.turn_id, $2, j.user_id, clock_timestamp()
			FROM unnest($1::uuid[], $3::uuid[]) WITH ORDINALITY AS j(turn_id, user_id, n) ORDER BY j.n
			ON CONFLICT (turn_id) DO NOTHING`, turns, model, users)
		execs++
	}
	if len(changes.Leave) > 0 {
		b.Queue(`DELETE FROM model_queue WHERE turn_id = ANY($1::uuid[])`, changes.Leave)
		execs++
	}
	b.Queue(`UPDATE model_queue SET granted_at = NULL, lease_until = NULL
		WHERE model = $1 AND granted_at IS NOT NULL AND lease_until < clock_timestamp()`, model)
	// The log of grants only needs its last minute.
	b.Queue(`DELETE FROM model_grants WHERE model = $1 AND granted_at < clock_timestamp() - interval '1 minute'`, model)
	// Free slots: the parallelism not in use, within what the last minute's
	// requests and tokens leave (a limit of 0 is none).
	b.Queue(`WITH at AS (SELECT clock_timestamp() AS at),
		free AS (SELECT greatest(0, least(
			$2::int - (SELECT count(*) FROM model_queue WHERE model = $1 AND granted_at IS NOT NULL)::int,
			CASE WHEN $4::int > 0 THEN $4::int - (SELECT count(*) FROM model_grants
				WHERE model = $1 AND granted_at > clock_timestamp() - interval '1 minute')::int ELSE $2::int END,
			CASE WHEN $5::int > 0 AND (SELECT coalesce(sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)), 0) FROM turns
				WHERE model = $1 AND finished_at > clock_timestamp() - interval '1 minute') >= $5::int THEN 0 ELSE $2::int END)) AS n),
		granted AS (
			UPDATE model_queue SET granted_at = (SELECT at FROM at), lease_until = (SELECT at FROM at) + $3::interval
			WHERE turn_id IN (`+fairOrder+` LIMIT (SELECT n FROM free)) RETURNING model, user_id),
		logged AS (
			INSERT INTO model_grants (model, user_id, granted_at) SELECT model, user_id, (SELECT at FROM at) FROM granted)
		SELECT at FROM at`, model, lim.Parallel, lim.Lease, lim.RequestsPerMinute, lim.TokensPerMinute)
	b.Queue(`SELECT turn_id::text FROM model_queue WHERE model = $1 AND granted_at IS NOT NULL ORDER BY granted_at, enqueued_at, turn_id`, model)
	b.Queue(fairOrder, model)
	br := s.db.SendBatch(ctx, b)
	st, err := readRebalance(br, s.skipSoft, execs)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return ModelQueueState{}, fmt.Errorf("rebalance model queue: %w", err)
	}
	return st, nil
}

func readRebalance(br pgx.BatchResults, skipSoft func(pgx.BatchResults) error, execs int) (ModelQueueState, error) {
	var st ModelQueueState
	if err := skipSoft(br); err != nil {
		return st, err
	}
	for range execs {
		if _, err := br.Exec(); err != nil {
			return st, err
		}
	}
	if err := br.QueryRow().Scan(&st.At); err != nil {
		return st, err
	}
	rows, err := br.Query()
	if err != nil {
		return st, err
	}
	if st.Granted, err = collectStrings(rows); err != nil {
		return st, err
	}
	if rows, err = br.Query(); err != nil {
		return st, err
	}
	st.Waiting, err = collectStrings(rows)
	return st, err
}

// fairOrder lists the waiting turns of model $1 in the order they are served:
// by the turn's place among its user's waiting turns, then by when its user was
// last granted a slot, then by age.
const fairOrder = `SELECT w.turn_id FROM (
		SELECT q.turn_id, q.enqueued_at,
			row_number() OVER (PARTITION BY q.user_id ORDER BY q.enqueued_at, q.turn_id) AS place,
			(SELECT max(g.granted_at) FROM model_grants g WHERE g.model = q.model AND g.user_id = q.user_id) AS last_served
		FROM model_queue q WHERE q.model = $1 AND q.granted_at IS NULL
	) w ORDER BY w.place, w.last_served NULLS FIRST, w.enqueued_at, w.turn_id`

func collectStrings(rows pgx.Rows) ([]string, error) {
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// TurnUsage is what one user asked of the model within a window.
type TurnUsage struct {
	// Turns created in the window, and tokens of the turns that finished in it.
	Turns, Tokens int
	// TurnsFreeIn and TokensFreeIn are when the oldest turn counted leaves the
	// window.
	TurnsFreeIn, TokensFreeIn time.Duration
}

// RecentTurnUsage counts the user's turns and tokens of the last window.
func (s *Store) RecentTurnUsage(ctx context.Context, userID string, window time.Duration) (TurnUsage, error) {
	var u TurnUsage
	var turnsAge, tokensAge float64
	err := s.db.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM turns WHERE user_id = $1 AND created_at > now() - $2::interval),
			(SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM turns WHERE user_id = $1 AND created_at > now() - $2::interval),
			(SELECT coalesce(sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)), 0) FROM turns
				WHERE user_id = $1 AND finished_at > now() - $2::interval),
			(SELECT coalesce(extract(epoch FROM now() - min(finished_at)), 0) FROM turns WHERE user_id = $1 AND finished_at > now() - $2::interval)`,
		userID, window).Scan(&u.Turns, &turnsAge, &u.Tokens, &tokensAge)
	if err != nil {
		return TurnUsage{}, fmt.Errorf("recent turn usage: %w", err)
	}
	u.TurnsFreeIn = window - time.Duration(turnsAge*float64(time.Second))
	u.TokensFreeIn = window - time.Duration(tokensAge*float64(time.Second))
	return u, nil
}
