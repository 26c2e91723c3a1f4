package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// UsageRange selects the activity a usage report counts: whole UTC days from First
// to Last, both included, of one user or (UserID "") of everybody.
type UsageRange struct {
	First, Last time.Time
	UserID      string
}

// since and until are the instants that bound the range: midnight UTC of First, and
// of the day after Last (excluded).
func (r UsageRange) since() time.Time { return utcDay(r.First) }
func (r UsageRange) until() time.Time { return utcDay(r.Last).AddDate(0, 0, 1) }

// user is the user filter as a query argument: nil stands for everybody.
func (r UsageRange) user() *string {
	if r.UserID == "" {
		return nil
	}
	return &r.UserID
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// UsageDay is one UTC day of activity. A turn counts on the day it was asked, a
// document on the day it was uploaded (unless it was deleted since); an active user
// asked or uploaded that day.
type UsageDay struct {
	Date              time.Time
	Turns             int64
	ActiveUsers       int64
	PromptTokens      int64
	CompletionTokens  int64
	DocumentsIngested int64
	DocumentsFailed   int64
}

// ModelUsage is the turns answered by one chat model and what they cost.
type ModelUsage struct {
	Name             string
	Turns            int64
	PromptTokens     int64
	CompletionTokens int64
}

// ToolUsage is the calls of one tool, how many failed, and their median latency.
type ToolUsage struct {
	Name     string
	Calls    int64
	Failures int64
	P50Ms    float64
}

// FormatUsage is the documents uploaded in one media type and how many failed.
type FormatUsage struct {
	MIME      string
	Documents int64
	Failed    int64
}

// FeedbackCount is the ratings given to the answers of one chat model, or to the
// answers that called one tool.
type FeedbackCount struct {
	Name     string
	Up       int64
	Down     int64
	Comments int64
}

// FeedbackComment is one rating that came with a comment.
type FeedbackComment struct {
	Model   string
	Rating  string
	Comment string
	At      time.Time
}

// UsageReport is everything a usage report shows, aggregated by PostgreSQL.
type UsageReport struct {
	Days    []UsageDay
	Models  []ModelUsage
	Tools   []ToolUsage
	Formats []FormatUsage
	// Feedback on the answers of the turns asked in the range.
	FeedbackModels   []FeedbackCount
	FeedbackTools    []FeedbackCount
	FeedbackComments []FeedbackComment
}

// usageDaysSQL lists every day of the range, with zeros for days without activity,
// so charts have no gaps. Arguments: $1 first day, $2 last day, $3 and $4 the
// instants that bound them, $5 the user or NULL for everybody.
const usageDaysSQL = `
WITH days AS (
	SELECT $1::date + i AS day FROM generate_series(0, $2::date - $1::date) AS i
), turn_days AS (
	SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS turns,
	       sum(coalesce(prompt_tokens, 0)) AS prompt_tokens, sum(coalesce(completion_tokens, 0)) AS completion_tokens
	FROM turns WHERE created_at >= $3 AND created_at < $4 AND ($5::uuid IS NULL OR user_id = $5)
	GROUP BY 1
), document_days AS (
	SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS documents,
	       count(*) FILTER (WHERE status = 'failed') AS failed
	FROM documents WHERE created_at >= $3 AND created_at < $4 AND deleted_at IS NULL AND ($5::uuid IS NULL OR owner_id = $5)
	GROUP BY 1
), active_days AS (
	SELECT day, count(DISTINCT user_id) AS users FROM (
		SELECT (created_at AT TIME ZONE 'UTC')::date AS day, user_id
		FROM turns WHERE created_at >= $3 AND created_at < $4 AND ($5::uuid IS NULL OR user_id = $5)
		UNION ALL
		SELECT (created_at AT TIME ZONE 'UTC')::date, owner_id
		FROM documents WHERE created_at >= $3 AND created_at < $4 AND deleted_at IS NULL AND ($5::uuid IS NULL OR owner_id = $5)
	) AS activity GROUP BY day
)
SELECT days.day, coalesce(t.turns, 0), coalesce(a.users, 0), coalesce(t.prompt_tokens, 0),
       coalesce(t.completion_tokens, 0), coalesce(d.documents, 0), coalesce(d.failed, 0)
FROM days
LEFT JOIN turn_days t USING (day)
LEFT JOIN document_days d USING (day)
LEFT JOIN active_days a USING (day)
ORDER BY days.day`

// usageModelsSQL: $1 and $2 bound the range, $3 is the user or NULL.
const usageModelsSQL = `
SELECT model, count(*), sum(coalesce(prompt_tokens, 0)), sum(coalesce(completion_tokens, 0))
FROM turns WHERE created_at >= $1 AND created_at < $2 AND ($3::uuid IS NULL OR user_id = $3)
GROUP BY model ORDER BY count(*) DESC, model`

// usageToolsSQL counts every recorded call, retried attempts included: each one
// really ran. A tool run belongs to the user who asked the turn.
const usageToolsSQL = `
SELECT r.name, count(*), count(*) FILTER (WHERE r.status = 'error'),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.latency_ms)
FROM tool_runs r JOIN turns t ON t.id = r.turn_id
WHERE r.created_at >= $1 AND r.created_at < $2 AND ($3::uuid IS NULL OR t.user_id = $3)
GROUP BY r.name ORDER BY count(*) DESC, r.name`

// usageFormatsSQL, like usageDaysSQL, counts the documents that still exist: a
// deleted document is purged soon after, so counting it only until then would make
// the same report change by itself.
const usageFormatsSQL = `
SELECT mime, count(*), count(*) FILTER (WHERE status = 'failed')
FROM documents WHERE created_at >= $1 AND created_at < $2 AND deleted_at IS NULL AND ($3::uuid IS NULL OR owner_id = $3)
GROUP BY mime ORDER BY count(*) DESC, mime`

// Feedback counts by the turn it rates, so it falls on the day the question was
// asked, like the turn's tokens; $1 and $2 bound the range, $3 is the user or NULL.
const feedbackModelsSQL = `
SELECT t.model, count(*) FILTER (WHERE f.rating = 'up'), count(*) FILTER (WHERE f.rating = 'down'), count(f.comment)
FROM turn_feedback f JOIN turns t ON t.id = f.turn_id
WHERE t.created_at >= $1 AND t.created_at < $2 AND ($3::uuid IS NULL OR t.user_id = $3)
GROUP BY t.model ORDER BY count(*) DESC, t.model`

// feedbackToolsSQL rates each tool by the answers that called it (in the attempt
// that answered), each answer once however often it called the tool.
const feedbackToolsSQL = `
SELECT r.name, count(*) FILTER (WHERE f.rating = 'up'), count(*) FILTER (WHERE f.rating = 'down'), count(f.comment)
FROM turn_feedback f JOIN turns t ON t.id = f.turn_id
JOIN LATERAL (SELECT DISTINCT name FROM tool_runs WHERE turn_id = t.id AND attempt = t.attempt) r ON true
WHERE t.created_at >= $1 AND t.created_at < $2 AND ($3::uuid IS NULL OR t.user_id = $3)
GROUP BY r.name ORDER BY count(*) DESC, r.name`

// feedbackCommentsSQL: the latest comments, newest first.
const feedbackCommentsSQL = `
SELECT t.model, f.rating, f.comment, f.updated_at
FROM turn_feedback f JOIN turns t ON t.id = f.turn_id
WHERE f.comment IS NOT NULL AND t.created_at >= $1 AND t.created_at < $2 AND ($3::uuid IS NULL OR t.user_id = $3)
ORDER BY f.updated_at DESC, f.turn_id LIMIT 50`

// UsageReport aggregates the activity in r from what the platform already records.
// The queries read one snapshot, so the totals of the sections agree.
func (s *Store) UsageReport(ctx context.Context, r UsageRange) (UsageReport, error) {
	if s.pool == nil {
		return usageReport(ctx, s.db, r)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return UsageReport{}, fmt.Errorf("begin usage report: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only: nothing to keep
	return usageReport(ctx, tx, r)
}

func usageReport(ctx context.Context, db querier, r UsageRange) (UsageReport, error) {
	since, until, user := r.since(), r.until(), r.user()
	var rep UsageReport
	var err error
	rep.Days, err = queryAll(ctx, db, func(row pgx.CollectableRow) (UsageDay, error) {
		var d UsageDay
		err := row.Scan(&d.Date, &d.Turns, &d.ActiveUsers, &d.PromptTokens, &d.CompletionTokens, &d.DocumentsIngested, &d.DocumentsFailed)
		return d, err
	}, usageDaysSQL, utcDay(r.First), utcDay(r.Last), since, until, user)
	if err != nil {
		return UsageReport{}, fmt.Errorf("usage by day: %w", err)
	}
	rep.Models, err = queryAll(ctx, db, func(row pgx.CollectableRow) (ModelUsage, error) {
		var m ModelUsage
		err := row.Scan(&m.Name, &m.Turns, &m.PromptTokens, &m.CompletionTokens)
		return m, err
	}, usageModelsSQL, since, until, user)
	if err != nil {
		return UsageReport{}, fmt.Errorf("usage by model: %w", err)
	}
	rep.Tools, err = queryAll(ctx, db, func(row pgx.CollectableRow) (ToolUsage, error) {
		var t ToolUsage
		err := row.Scan(&t.Name, &t.Calls, &t.Failures, &t.P50Ms)
		return t, err
	}, usageToolsSQL, since, until, user)
	if err != nil {
		return UsageReport{}, fmt.Errorf("usage by tool: %w", err)
	}
	rep.Formats, err = queryAll(ctx, db, func(row pgx.CollectableRow) (FormatUsage, error) {
		var f FormatUsage
		err := row.Scan(&f.MIME, &f.Documents, &f.Failed)
		return f, err
	}, usageFormatsSQL, since, until, user)
	if err != nil {
		return UsageReport{}, fmt.Errorf("usage by format: %w", err)
	}
	scanCount := func(row pgx.CollectableRow) (FeedbackCount, error) {
		var c FeedbackCount
		err := row.Scan(&c.Name, &c.Up, &c.Down, &c.Comments)
		return c, err
	}
	if rep.FeedbackModels, err = queryAll(ctx, db, scanCount, feedbackModelsSQL, since, until, user); err != nil {
		return UsageReport{}, fmt.Errorf("feedback by model: %w", err)
	}
	if rep.FeedbackTools, err = queryAll(ctx, db, scanCount, feedbackToolsSQL, since, until, user); err != nil {
		return UsageReport{}, fmt.Errorf("feedback by tool: %w", err)
	}
	rep.FeedbackComments, err = queryAll(ctx, db, func(row pgx.CollectableRow) (FeedbackComment, error) {
		var c FeedbackComment
		err := row.Scan(&c.Model, &c.Rating, &c.Comment, &c.At)
		return c, err
	}, feedbackCommentsSQL, since, until, user)
	if err != nil {
		return UsageReport{}, fmt.Errorf("feedback comments: %w", err)
	}
	return rep, nil
}

// queryAll runs one query and scans every row with scan.
func queryAll[T any](ctx context.Context, db querier, scan pgx.RowToFunc[T], sql string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scan)
}
