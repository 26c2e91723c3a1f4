package service

import (
	"context"
	"time"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/store"
)

// Analytics reports how the platform is used — turns, tokens, tools, ingestion —
// from what PostgreSQL already records. HTTP latencies are not among them: the
// database never sees requests, and the metrics dashboards already show them.
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
	return a.report(ctx, q, "")
}

// Mine is the caller's own usage and nobody else's, admins included.
func (a *Analytics) Mine(ctx context.Context, actor access.Principal, q UsageQuery) (UsageReport, error) {
	if !actor.IsUser() {
		// System has no usage of its own, and an empty user filter would mean everybody.
		return UsageReport{}, errAdminOnly
	}
	return a.report(ctx, q, actor.UserID)
}

func (a *Analytics) report(ctx context.Context, q UsageQuery, userID string) (UsageReport, error) {
	first, last, err := usageRange(q, a.now())
	if err != nil {
		return UsageReport{}, err
	}
	rep, err := a.store.UsageReport(ctx, store.UsageRange{First: first, Last: last, UserID: userID})
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
