package service

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/routestats"
	"github.com/youworker/youworker/pkg/store"
)

// Analytics reports how the platform is used — turns, tokens, tools, ingestion —
// from what PostgreSQL already records, and the slowest API routes from the
// counts every API replica adds to it (package routestats).
type Analytics struct {
	store *store.Store
	now   func() time.Time
}

// NewAnalytics returns the usage reports over st.
func NewAnalytics(st *store.Store) *Analytics {
	return &Analytics{store: st, now: time.Now}
}

// UsageReport is the usage of the platform, or of one user, over a range of UTC
// days: per day, per chat model, per tool and per document format.
type UsageReport struct {
	Days    []UsageDay    `json:"days"`
	Models  []ModelUsage  `json:"models"`
	Tools   []ToolUsage   `json:"tools"`
	Formats []FormatUsage `json:"formats"`
	// Routes are the slowest API routes, in the platform's report only (a user's
	// lists none): requests are counted per route, not per user.
	Routes []RouteUsage `json:"routes"`
	// Feedback is what askers said of the answers to the turns of the range.
	Feedback FeedbackReport `json:"feedback"`
}

// FeedbackReport is the thumbs up and down given to answers, by chat model and by
// tool called, and the latest comments.
type FeedbackReport struct {
	Models   []FeedbackCount   `json:"models"`
	Tools    []FeedbackCount   `json:"tools"`
	Comments []FeedbackComment `json:"comments"`
}

// FeedbackCount is the ratings of the answers of one model, or of the answers
// that called one tool, and how many came with a comment.
type FeedbackCount struct {
	Name     string `json:"name"`
	Up       int64  `json:"up"`
	Down     int64  `json:"down"`
	Comments int64  `json:"comments"`
}

// FeedbackComment is a rating with its comment; who gave it is not shown.
type FeedbackComment struct {
	Model   string    `json:"model"`
	Rating  string    `json:"rating"`
	Comment string    `json:"comment"`
	At      time.Time `json:"at"`
}

// RouteUsage is one API route's requests over the range: how many, how many ended
// in a server error, and latency percentiles estimated from its histogram.
type RouteUsage struct {
	Method   string  `json:"method"`
	Route    string  `json:"route"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	MeanMs   float64 `json:"mean_ms"`
	P50Ms    float64 `json:"p50_ms"`
	P95Ms    float64 `json:"p95_ms"`
}

// slowRoutesShown is how many of the slowest routes a report lists.
const slowRoutesShown = 10

// UsageDay is one UTC day; every day of the range is listed, quiet ones with zeros.
type UsageDay struct {
	Date              string `json:"date"`
	Turns             int64  `json:"turns"`
	ActiveUsers       int64  `json:"active_users"`
	PromptTokens      int64  `json:"prompt_tokens"`
	CompletionTokens  int64  `json:"completion_tokens"`
	DocumentsIngested int64  `json:"documents_ingested"`
	DocumentsFailed   int64  `json:"documents_failed"`
}

// ModelUsage is the turns one chat model answered and their tokens.
type ModelUsage struct {
	Name             string `json:"name"`
	Turns            int64  `json:"turns"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
}

// ToolUsage is the calls of one tool, the failed ones, and the median latency.
type ToolUsage struct {
	Name     string  `json:"name"`
	Calls    int64   `json:"calls"`
	Failures int64   `json:"failures"`
	P50Ms    float64 `json:"p50_ms"`
}

// FormatUsage is the documents uploaded in one media type, not deleted since, and
// the failed ones.
type FormatUsage struct {
	MIME      string `json:"mime"`
	Documents int64  `json:"documents"`
	Failed    int64  `json:"failed"`
}

// Platform is everybody's usage; admins only (everybody else gets not_found, like
// every admin route).
func (a *Analytics) Platform(ctx context.Context, actor access.Principal, q UsageQuery) (UsageReport, error) {
	if err := access.RequireAdmin(actor); err != nil {
		return UsageReport{}, denied(err, errAdminOnly, nil)
	}
	r, err := a.usageRange(q, "")
	if err != nil {
		return UsageReport{}, err
	}
	rep, err := a.report(ctx, r)
	if err != nil {
		return UsageReport{}, err
	}
	days, err := a.store.RouteDays(ctx, r)
	if err != nil {
		return UsageReport{}, err
	}
	rep.Routes = slowestRoutes(days, slowRoutesShown)
	return rep, nil
}

// slowestRoutes adds up each route's days and keeps the n with the highest 95th
// percentile (then the most requests), every route's figures estimated from the
// sum of its histograms.
func slowestRoutes(days []store.RouteDay, n int) []RouteUsage {
	type total struct {
		requests, errors int64
		sumMs            float64
		buckets          []int64
	}
	totals := map[[2]string]*total{}
	for _, d := range days {
		key := [2]string{d.Method, d.Route}
		t := totals[key]
		if t == nil {
			t = &total{buckets: make([]int64, routestats.Buckets)}
			totals[key] = t
		}
		t.requests += d.Requests
		t.errors += d.Errors
		t.sumMs += d.SumMs
		for i := 0; i < len(d.Buckets) && i < len(t.buckets); i++ {
			t.buckets[i] += d.Buckets[i]
		}
	}
	routes := make([]RouteUsage, 0, len(totals))
	for key, t := range totals {
		if t.requests == 0 {
			continue
		}
		routes = append(routes, RouteUsage{Method: key[0], Route: key[1], Requests: t.requests, Errors: t.errors,
			MeanMs: t.sumMs / float64(t.requests),
			P50Ms:  routestats.Quantile(0.5, t.buckets), P95Ms: routestats.Quantile(0.95, t.buckets)})
	}
	slices.SortFunc(routes, func(a, b RouteUsage) int {
		return cmp.Or(cmp.Compare(b.P95Ms, a.P95Ms), cmp.Compare(b.Requests, a.Requests),
			cmp.Compare(a.Route, b.Route), cmp.Compare(a.Method, b.Method))
	})
	return routes[:min(n, len(routes))]
}

// Mine is the caller's own usage and nobody else's, admins included.
func (a *Analytics) Mine(ctx context.Context, actor access.Principal, q UsageQuery) (UsageReport, error) {
	if !actor.IsUser() {
		// System has no usage of its own, and an empty user filter would mean everybody.
		return UsageReport{}, errAdminOnly
	}
	r, err := a.usageRange(q, actor.UserID)
	if err != nil {
		return UsageReport{}, err
	}
	return a.report(ctx, r)
}

// usageRange is the range of q as of now, of userID's activity ("" everybody's).
func (a *Analytics) usageRange(q UsageQuery, userID string) (store.UsageRange, error) {
	first, last, err := usageRange(q, a.now())
	return store.UsageRange{First: first, Last: last, UserID: userID}, err
}

func (a *Analytics) report(ctx context.Context, r store.UsageRange) (UsageReport, error) {
	rep, err := a.store.UsageReport(ctx, r)
	if err != nil {
		return UsageReport{}, err
	}
	return usageReportFromRows(rep), nil
}

// usageReportFromRows maps the store's aggregates to the API's, every list present
// even when empty.
func usageReportFromRows(r store.UsageReport) UsageReport {
	return UsageReport{
		Days: orEmpty(mapSlice(r.Days, func(d store.UsageDay) UsageDay {
			return UsageDay{Date: d.Date.Format(time.DateOnly), Turns: d.Turns, ActiveUsers: d.ActiveUsers,
				PromptTokens: d.PromptTokens, CompletionTokens: d.CompletionTokens,
				DocumentsIngested: d.DocumentsIngested, DocumentsFailed: d.DocumentsFailed}
		})),
		Models: orEmpty(mapSlice(r.Models, func(m store.ModelUsage) ModelUsage {
			return ModelUsage{Name: m.Name, Turns: m.Turns, PromptTokens: m.PromptTokens, CompletionTokens: m.CompletionTokens}
		})),
		Tools: orEmpty(mapSlice(r.Tools, func(t store.ToolUsage) ToolUsage {
			return ToolUsage{Name: t.Name, Calls: t.Calls, Failures: t.Failures, P50Ms: t.P50Ms}
		})),
		Formats: orEmpty(mapSlice(r.Formats, func(f store.FormatUsage) FormatUsage {
			return FormatUsage{MIME: f.MIME, Documents: f.Documents, Failed: f.Failed}
		})),
		Routes: []RouteUsage{},
		Feedback: FeedbackReport{
			Models: orEmpty(mapSlice(r.FeedbackModels, feedbackCountFromRow)),
			Tools:  orEmpty(mapSlice(r.FeedbackTools, feedbackCountFromRow)),
			Comments: orEmpty(mapSlice(r.FeedbackComments, func(c store.FeedbackComment) FeedbackComment {
				return FeedbackComment{Model: c.Model, Rating: c.Rating, Comment: c.Comment, At: c.At}
			})),
		},
	}
}

func feedbackCountFromRow(c store.FeedbackCount) FeedbackCount {
	return FeedbackCount{Name: c.Name, Up: c.Up, Down: c.Down, Comments: c.Comments}
}

// orEmpty makes a nil list an empty one, so JSON shows [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
