package service

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/routestats"
	"github.com/youworker/youworker/pkg/store"
)

// usageFixture writes activity straight into the tables the reports read, at chosen
// instants, so the expected aggregates can be counted by hand. Its days are in
// March 2024, where no other test writes.
type usageFixture struct {
	t   *testing.T
	tx  pgx.Tx
	st  *store.Store
	ctx context.Context
}

func (f usageFixture) user(name string, admin bool) access.Principal {
	u, err := f.st.CreateUser(f.ctx, name, admin)
	require.NoError(f.t, err)
	return access.Principal{UserID: u.ID, Name: u.Name, IsAdmin: admin}
}

// turn records a turn asked at `at` (RFC 3339); tokens < 0 leaves them unknown, as
// for a turn that failed before the model answered.
func (f usageFixture) turn(who access.Principal, at, model string, prompt, completion int) string {
	s, err := f.st.CreateSession(f.ctx, who.UserID, "usage")
	require.NoError(f.t, err)
	var p, c *int
	if prompt >= 0 {
		p, c = &prompt, &completion
	}
	var id string
	require.NoError(f.t, f.tx.QueryRow(f.ctx, `INSERT INTO turns (session_id, user_id, model, status, attempt, prompt_tokens, completion_tokens, created_at)
		VALUES ($1, $2, $3, 'completed', 1, $4, $5, $6) RETURNING id::text`, s.ID, who.UserID, model, p, c, at).Scan(&id))
	return id
}

// feedback rates a turn of who's, with a comment unless it is "".
func (f usageFixture) feedback(who access.Principal, turnID, rating, comment string) {
	var c *string
	if comment != "" {
		c = &comment
	}
	_, err := f.st.SetFeedback(f.ctx, who.UserID, turnID, rating, c)
	require.NoError(f.t, err)
}

func (f usageFixture) toolRun(turnID, at, name, status string, latencyMs int) {
	_, err := f.tx.Exec(f.ctx, `INSERT INTO tool_runs (turn_id, attempt, call_id, name, status, latency_ms, created_at)
		VALUES ($1, 1, gen_random_uuid()::text, $2, $3, $4, $5)`, turnID, name, status, latencyMs, at)
	require.NoError(f.t, err)
}

func (f usageFixture) document(owner access.Principal, at, mime, status string, deleted bool) {
	var deletedAt *string
	if deleted {
		deletedAt = &at
	}
	_, err := f.tx.Exec(f.ctx, `INSERT INTO documents (owner_id, filename, mime, format, size_bytes, sha256, object_key, status, created_at, deleted_at)
		VALUES ($1, 'f', $2, 'x', 1, encode(sha256(gen_random_uuid()::text::bytea), 'hex'), 'k', $3, $4, $5)`,
		owner.UserID, mime, status, at, deletedAt)
	require.NoError(f.t, err)
}

const docxMIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

func TestUsageReportsCountByUTCDayModelToolAndFormat(t *testing.T) {
	t.Parallel()
	tx := pgtest.Tx(t)
	f := usageFixture{t: t, tx: tx, st: store.NewTx(tx), ctx: context.Background()}
	svc := NewAnalytics(f.st)
	suffix := fmt.Sprint(time.Now().UnixNano())
	ann := f.user("ann-"+suffix, false)
	bob := f.user("bob-"+suffix, false)
	root := f.user("root-"+suffix, true)

	annTurn := f.turn(ann, "2024-03-01T10:00:00Z", "llama3", 100, 20)
	f.turn(ann, "2024-03-01T23:59:59Z", "llama3", 50, 5)
	f.turn(ann, "2024-03-03T08:00:00Z", "qwen", -1, -1)
	// 01:00 in UTC+2 is still the 1st in UTC.
	bobTurn := f.turn(bob, "2024-03-02T01:00:00+02:00", "llama3", 10, 1)
	before := f.turn(bob, "2024-02-29T23:59:59Z", "llama3", 1000, 1000) // the day before the range
	f.turn(bob, "2024-03-05T00:00:00Z", "llama3", 1000, 1000)           // the day after

	f.toolRun(annTurn, "2024-03-01T10:00:01Z", "search", "ok", 10)
	f.toolRun(annTurn, "2024-03-01T10:00:02Z", "search", "ok", 30)
	f.toolRun(annTurn, "2024-03-01T10:00:03Z", "search", "error", 100)
	f.toolRun(bobTurn, "2024-03-01T23:00:01Z", "search", "ok", 20)
	f.toolRun(bobTurn, "2024-03-01T23:00:02Z", "fetch", "error", 5)
	f.toolRun(before, "2024-02-29T23:59:59Z", "fetch", "ok", 5)

	// Ratings count on the day of the turn they rate, like its tokens.
	f.feedback(ann, annTurn, "up", "")
	f.feedback(bob, bobTurn, "down", "Wrong pier.")
	f.feedback(bob, before, "up", "Out of range.")

	f.document(ann, "2024-03-02T09:00:00Z", "application/pdf", "ready", false)
	f.document(ann, "2024-03-02T09:01:00Z", "application/pdf", "failed", false)
	f.document(ann, "2024-03-02T09:02:00Z", "text/plain", "ready", true) // deleted since: not counted
	f.document(bob, "2024-03-02T12:00:00Z", "text/plain", "failed", false)
	f.document(bob, "2024-03-04T12:00:00Z", docxMIME, "queued", false)

	march := UsageQuery{From: "2024-03-01", To: "2024-03-04"}
	all, err := svc.Platform(f.ctx, root, march)
	require.NoError(t, err)
	require.Equal(t, []UsageDay{
		{Date: "2024-03-01", Turns: 3, ActiveUsers: 2, PromptTokens: 160, CompletionTokens: 26},
		{Date: "2024-03-02", ActiveUsers: 2, DocumentsIngested: 3, DocumentsFailed: 2},
		{Date: "2024-03-03", Turns: 1, ActiveUsers: 1},
		{Date: "2024-03-04", ActiveUsers: 1, DocumentsIngested: 1},
	}, all.Days)
	require.Equal(t, []ModelUsage{
		{Name: "llama3", Turns: 3, PromptTokens: 160, CompletionTokens: 26},
		{Name: "qwen", Turns: 1},
	}, all.Models)
	require.Equal(t, []ToolUsage{
		{Name: "search", Calls: 4, Failures: 1, P50Ms: 25}, // the median of 10, 20, 30, 100
		{Name: "fetch", Calls: 1, Failures: 1, P50Ms: 5},
	}, all.Tools)
	require.Equal(t, []FormatUsage{
		{MIME: "application/pdf", Documents: 2, Failed: 1},
		{MIME: docxMIME, Documents: 1},
		{MIME: "text/plain", Documents: 1, Failed: 1},
	}, all.Formats)
	require.Equal(t, []FeedbackCount{{Name: "llama3", Up: 1, Down: 1, Comments: 1}}, all.Feedback.Models)
	require.Equal(t, []FeedbackCount{
		{Name: "search", Up: 1, Down: 1, Comments: 1}, // ann's answer called it three times: it counts once
		{Name: "fetch", Down: 1, Comments: 1},
	}, all.Feedback.Tools)
	require.Len(t, all.Feedback.Comments, 1)
	require.Equal(t, FeedbackComment{Model: "llama3", Rating: "down", Comment: "Wrong pier.", At: all.Feedback.Comments[0].At},
		all.Feedback.Comments[0])

	// System (the command line) may read the platform's report too.
	sys, err := svc.Platform(f.ctx, access.System, march)
	require.NoError(t, err)
	require.Equal(t, all, sys)

	// A user's own report counts their activity alone.
	mine, err := svc.Mine(f.ctx, ann, march)
	require.NoError(t, err)
	require.Equal(t, UsageReport{
		Days: []UsageDay{
			{Date: "2024-03-01", Turns: 2, ActiveUsers: 1, PromptTokens: 150, CompletionTokens: 25},
			{Date: "2024-03-02", ActiveUsers: 1, DocumentsIngested: 2, DocumentsFailed: 1},
			{Date: "2024-03-03", Turns: 1, ActiveUsers: 1},
			{Date: "2024-03-04"},
		},
		Models:  []ModelUsage{{Name: "llama3", Turns: 2, PromptTokens: 150, CompletionTokens: 25}, {Name: "qwen", Turns: 1}},
		Tools:   []ToolUsage{{Name: "search", Calls: 3, Failures: 1, P50Ms: 30}},
		Formats: []FormatUsage{{MIME: "application/pdf", Documents: 2, Failed: 1}},
		Routes:  []RouteUsage{},
		Feedback: FeedbackReport{Models: []FeedbackCount{{Name: "llama3", Up: 1}}, Tools: []FeedbackCount{{Name: "search", Up: 1}},
			Comments: []FeedbackComment{}},
	}, mine)

	// An admin's own report is theirs, not the platform's: root did nothing.
	rootOwn, err := svc.Mine(f.ctx, root, march)
	require.NoError(t, err)
	require.Len(t, rootOwn.Days, 4)
	for _, d := range rootOwn.Days {
		require.Equal(t, UsageDay{Date: d.Date}, d)
	}
	require.Equal(t, []ModelUsage{}, rootOwn.Models)
	require.Equal(t, []ToolUsage{}, rootOwn.Tools)
	require.Equal(t, []FormatUsage{}, rootOwn.Formats)
	require.Equal(t, FeedbackReport{Models: []FeedbackCount{}, Tools: []FeedbackCount{}, Comments: []FeedbackComment{}}, rootOwn.Feedback)

	// An RFC 3339 time names its UTC day: 22:00 on the 1st at UTC-5 is the 2nd.
	fromTime, err := svc.Mine(f.ctx, ann, UsageQuery{From: "2024-03-01T22:00:00-05:00", To: "2024-03-02T23:00:00Z"})
	require.NoError(t, err)
	require.Len(t, fromTime.Days, 1)
	require.Equal(t, "2024-03-02", fromTime.Days[0].Date)
	require.Empty(t, fromTime.Models, "ann asked nothing on the 2nd")

	// Without a range: the 30 days up to today, in UTC.
	svc.now = func() time.Time { return time.Date(2024, 3, 4, 23, 30, 0, 0, time.FixedZone("UTC-3", -3*3600)) }
	recent, err := svc.Mine(f.ctx, bob, UsageQuery{})
	require.NoError(t, err)
	require.Len(t, recent.Days, 30)
	require.Equal(t, "2024-02-05", recent.Days[0].Date)
	require.Equal(t, "2024-03-05", recent.Days[29].Date, "23:30 at UTC-3 is already the 5th in UTC")
	require.Equal(t, "2024-02-29", recent.Days[24].Date)
	require.Equal(t, int64(1), recent.Days[24].Turns, "bob asked on the 29th")
	require.Equal(t, []ModelUsage{{Name: "llama3", Turns: 3, PromptTokens: 2010, CompletionTokens: 2001}}, recent.Models)
}

func TestUsageReportsAreForAdminsAndUsersOnly(t *testing.T) {
	t.Parallel()
	tx := pgtest.Tx(t)
	st := store.NewTx(tx)
	svc := NewAnalytics(st)
	ctx := context.Background()
	u, err := st.CreateUser(ctx, fmt.Sprint("cleo-", time.Now().UnixNano()), false)
	require.NoError(t, err)
	cleo := access.Principal{UserID: u.ID, Name: u.Name}

	_, err = svc.Platform(ctx, cleo, UsageQuery{})
	require.Equal(t, CodeNotFound, ErrorCode(err), "a user cannot tell the admin report exists")
	_, err = svc.Platform(ctx, access.Principal{}, UsageQuery{})
	require.Equal(t, CodeNotFound, ErrorCode(err))
	_, err = svc.Mine(ctx, access.System, UsageQuery{})
	require.Equal(t, CodeNotFound, ErrorCode(err), "System is nobody's own usage, and never everybody's")
	_, err = svc.Mine(ctx, access.Principal{}, UsageQuery{})
	require.Equal(t, CodeNotFound, ErrorCode(err))

	// Range errors name the field at fault, for the user's report as for the admin's.
	_, err = svc.Mine(ctx, cleo, UsageQuery{From: "2024-03-05", To: "2024-03-04"})
	requireField(t, err, CodeInvalid, "to")
}

func TestUsageRange(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 31, 18, 0, 0, 0, time.UTC)
	day := func(s string) time.Time { d, err := time.Parse(time.DateOnly, s); require.NoError(t, err); return d }
	for _, c := range []struct {
		name        string
		q           UsageQuery
		first, last string
		badFields   []string
	}{
		{name: "default: the last 30 days", first: "2025-01-02", last: "2025-01-31"},
		{name: "dates", q: UsageQuery{From: "2024-12-01", To: "2024-12-31"}, first: "2024-12-01", last: "2024-12-31"},
		{name: "only to", q: UsageQuery{To: "2024-03-01"}, first: "2024-02-01", last: "2024-03-01"},
		{name: "only from: up to today", q: UsageQuery{From: "2025-01-30"}, first: "2025-01-30", last: "2025-01-31"},
		{name: "one day", q: UsageQuery{From: "2025-01-05", To: "2025-01-05"}, first: "2025-01-05", last: "2025-01-05"},
		{name: "RFC 3339 in UTC days", q: UsageQuery{From: "2024-12-31T23:00:00-02:00", To: "2025-01-10T01:00:00+03:00"}, first: "2025-01-01", last: "2025-01-09"},
		{name: "366 days, a leap year", q: UsageQuery{From: "2024-01-01", To: "2024-12-31"}, first: "2024-01-01", last: "2024-12-31"},
		{name: "367 days", q: UsageQuery{From: "2024-01-01", To: "2025-01-01"}, badFields: []string{"from"}},
		{name: "to before from", q: UsageQuery{From: "2025-01-02", To: "2025-01-01"}, badFields: []string{"to"}},
		{name: "not a date", q: UsageQuery{From: "last week"}, badFields: []string{"from"}},
		{name: "no such day", q: UsageQuery{To: "2025-02-30"}, badFields: []string{"to"}},
		{name: "both wrong, both named", q: UsageQuery{From: "01/02/2025", To: "tomorrow"}, badFields: []string{"to", "from"}},
	} {
		first, last, err := usageRange(c.q, now)
		if c.badFields != nil {
			var e *Error
			require.ErrorAs(t, err, &e, c.name)
			require.Equal(t, CodeInvalid, e.Code, c.name)
			var fields []string
			for _, fe := range e.Fields {
				fields = append(fields, fe.Field)
			}
			require.Equal(t, c.badFields, fields, c.name)
			continue
		}
		require.NoError(t, err, c.name)
		require.Equal(t, day(c.first), first, c.name)
		require.Equal(t, day(c.last), last, c.name)
	}
}

func TestPlatformUsageNamesTheSlowestRoutes(t *testing.T) {
	t.Parallel()
	tx := pgtest.Tx(t)
	st := store.NewTx(tx)
	ctx := context.Background()
	svc := NewAnalytics(st)
	root, err := st.CreateUser(ctx, fmt.Sprint("root-", time.Now().UnixNano()), true)
	require.NoError(t, err)
	admin := access.Principal{UserID: root.ID, Name: root.Name, IsAdmin: true}
	add := func(day, method, route string, buckets ...int64) {
		b := make([]int64, routestats.Buckets)
		copy(b, buckets)
		var n int64
		for _, c := range buckets {
			n += c
		}
		_, err := tx.Exec(ctx, `INSERT INTO route_stats (day, method, route, requests, errors, sum_ms, buckets)
			VALUES ($1, $2, $3, $4, 1, 100, $5)`, day, method, route, n, b)
		require.NoError(t, err)
	}
	add("2024-03-01", "GET", "/v1/documents", 10)          // all under 5 ms
	add("2024-03-02", "GET", "/v1/documents", 0, 0, 0, 10) // 25–50 ms
	add("2024-03-01", "POST", "/v1/documents", 0, 0, 0, 0, 0, 0, 4)
	add("2024-03-09", "GET", "/v1/search", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5) // outside the range

	rep, err := svc.Platform(ctx, admin, UsageQuery{From: "2024-03-01", To: "2024-03-04"})
	require.NoError(t, err)
	require.Len(t, rep.Routes, 2)
	post, get := rep.Routes[0], rep.Routes[1]
	require.Equal(t, "POST /v1/documents", post.Method+" "+post.Route, "the slowest first")
	require.InDelta(t, 487.5, post.P95Ms, 0.01)
	require.Equal(t, int64(20), get.Requests, "the days of the range add up")
	require.Equal(t, int64(2), get.Errors)
	require.InDelta(t, 10, get.MeanMs, 0.01)
	require.InDelta(t, 5, get.P50Ms, 0.01)
	require.InDelta(t, 47.5, get.P95Ms, 0.01)

	mine, err := svc.Mine(ctx, admin, UsageQuery{From: "2024-03-01", To: "2024-03-04"})
	require.NoError(t, err)
	require.NotNil(t, mine.Routes)
	require.Empty(t, mine.Routes, "requests are not counted per user")
}
