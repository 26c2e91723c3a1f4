package service

import (
	"encoding/json"
	"time"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// What the services hand to their callers, and the API serves as JSON: each type
// is the contract of API.md and the OpenAPI document, mapped field by field from
// a storage row by a small function below. A new column reaches no client until
// somebody maps it here.

// Document is an uploaded file and its processing state.
type Document struct {
	ID         string         `json:"id"`
	Filename   string         `json:"filename"`
	MIME       string         `json:"mime"`
	SizeBytes  int64          `json:"size_bytes"`
	SHA256     string         `json:"sha256"`
	OwnerID    string         `json:"owner_id"`
	GroupID    *string        `json:"group_id"`
	Private    bool           `json:"private"`
	Tags       []string       `json:"tags"`
	Status     string         `json:"status"`
	Stage      *string        `json:"stage"`
	Progress   Progress       `json:"progress"`
	ChunkCount int            `json:"chunk_count"`
	Error      *DocumentError `json:"error"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	ReadyAt    *time.Time     `json:"ready_at"`
	// OriginalAvailable is false for a document imported from the legacy
	// deployment's search index because its file was not available: its text is
	// searchable, but there are no original bytes to download.
	OriginalAvailable bool `json:"original_available"`
	// SourceURL is the URL the document is fetched from; null for uploads.
	SourceURL *string `json:"source_url"`
	// Duplicate marks an upload that returned a document the owner already had.
	Duplicate bool `json:"duplicate,omitempty"`
}

// Progress counts chunks embedded and indexed so far, and the pages OCR has
// read of the scanned pages it has to read (both 0 when there are none).
type Progress struct {
	ChunksDone  int `json:"chunks_done"`
	ChunksTotal int `json:"chunks_total"`
	PagesDone   int `json:"pages_done"`
	PagesTotal  int `json:"pages_total"`
}

// DocumentError is why a document failed.
type DocumentError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func documentFromRow(d store.Document) Document {
	doc := Document{
		ID: d.ID, Filename: d.Filename, MIME: d.MIME, SizeBytes: d.SizeBytes, SHA256: d.SHA256,
		OwnerID: d.OwnerID, GroupID: d.GroupID, Private: d.Private, Tags: d.Tags, Status: d.Status, Stage: d.Stage,
		Progress: Progress{ChunksDone: d.Progress.ChunksDone, ChunksTotal: d.Progress.ChunksTotal,
			PagesDone: d.Progress.PagesDone, PagesTotal: d.Progress.PagesTotal},
		ChunkCount: d.ChunkCount, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, ReadyAt: d.ReadyAt,
		OriginalAvailable: d.OriginalAvailable,
		SourceURL:         d.SourceURL,
	}
	if doc.Tags == nil {
		doc.Tags = []string{}
	}
	if d.Error != nil {
		doc.Error = &DocumentError{Code: d.Error.Code, Message: d.Error.Message}
	}
	return doc
}

// User is a user as admins see them, with their own quota limits (nil: the
// configured default; 0: unlimited).
type User struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	IsAdmin        bool      `json:"is_admin"`
	CreatedAt      time.Time `json:"created_at"`
	QuotaBytes     *int64    `json:"quota_bytes"`
	QuotaDocuments *int64    `json:"quota_documents"`
}

func userFromRow(u store.User) User {
	return User{ID: u.ID, Name: u.Name, IsAdmin: u.IsAdmin, CreatedAt: u.CreatedAt,
		QuotaBytes: u.QuotaBytes, QuotaDocuments: u.QuotaDocuments}
}

// Key is an API key's public record; the key itself is never stored.
type Key struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	// Scopes, GroupIDs and AllowedIPs are the key's limits; null is none: every
	// scope its user has, all of the user's groups, any address.
	Scopes     []string   `json:"scopes"`
	GroupIDs   []string   `json:"group_ids"`
	AllowedIPs []string   `json:"allowed_ips"`
	ExpiresAt  *time.Time `json:"expires_at"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func keyFromRow(k store.Key) Key {
	v := Key{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes, GroupIDs: k.GroupIDs,
		ExpiresAt: k.ExpiresAt, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt}
	if k.AllowedIPs != nil {
		v.AllowedIPs = make([]string, len(k.AllowedIPs))
		for i, p := range k.AllowedIPs {
			v.AllowedIPs[i] = p.String()
		}
	}
	return v
}

// GroupRole is a group the caller belongs to, with their role in it.
type GroupRole struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

func groupRoleFromRow(g store.GroupRole) GroupRole {
	return GroupRole{ID: g.ID, Name: g.Name, Role: g.Role}
}

// Group is a group as one of its members sees it: Role is the caller's role.
type Group struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	MemberCount int       `json:"member_count"`
	Role        string    `json:"role"`
	CreatedAt   time.Time `json:"created_at"`
	// Managed groups belong to the identity provider: its group sync alone changes
	// their members, and nobody edits them here.
	Managed bool `json:"managed"`
}

func groupFromRow(g store.Group) Group {
	return Group{ID: g.ID, Name: g.Name, Description: g.Description, MemberCount: g.MemberCount, Role: g.Role, CreatedAt: g.CreatedAt, Managed: g.Managed}
}

// Member is one member of a group.
type Member struct {
	UserID   string    `json:"user_id"`
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
}

func memberFromRow(m store.Member) Member {
	return Member{UserID: m.UserID, Name: m.Name, Role: m.Role, JoinedAt: m.JoinedAt}
}

// Session is a conversation of the caller.
type Session struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Scope is what questions asked in the chat are grounded in unless they name
	// their own; nil when the chat searches everything the caller may see.
	Scope *Scope `json:"scope"`
}

func sessionFromRow(s store.ChatSession) Session {
	return Session{ID: s.ID, Title: s.Title, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Scope: scopeView(s.Scope)}
}

// Scope is a chat's or a question's grounding: the documents and groups its
// searches are narrowed to. In a request, nil lists are empty; a scope with both
// lists empty is no scope.
type Scope struct {
	DocumentIDs []string `json:"document_ids"`
	GroupIDs    []string `json:"group_ids"`
}

func scopeView(s access.DocumentScope) *Scope {
	if s.IsZero() {
		return nil
	}
	out := &Scope{DocumentIDs: s.DocumentIDs, GroupIDs: s.GroupIDs}
	if out.DocumentIDs == nil {
		out.DocumentIDs = []string{}
	}
	if out.GroupIDs == nil {
		out.GroupIDs = []string{}
	}
	return out
}

// Message is one message of a session.
type Message struct {
	ID        string    `json:"id"`
	Role      string    `json:"role"`
	Content   string    `json:"content"`
	TurnID    *string   `json:"turn_id"`
	CreatedAt time.Time `json:"created_at"`
	// RegenerateOf is the first turn of the place the message's turn asked again.
	RegenerateOf *string `json:"regenerate_of"`
}

func messageFromRow(m store.Message) Message {
	return Message{ID: m.ID, Role: m.Role, Content: m.Content, TurnID: m.TurnID, CreatedAt: m.CreatedAt, RegenerateOf: m.RegenerateOf}
}

// Turn is one run of the agent for a user message.
type Turn struct {
	ID         string     `json:"id"`
	SessionID  string     `json:"session_id"`
	Status     string     `json:"status"`
	Answer     *string    `json:"answer"`
	Citations  []Citation `json:"citations"`
	ToolCalls  []ToolCall `json:"tool_calls"`
	Error      *TurnError `json:"error"`
	Usage      *Usage     `json:"usage"`
	Model      string     `json:"model"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	// Feedback is the caller's rating of the answer; only GET /v1/chat/turns/{id}
	// reads it, and it is absent when there is none.
	Feedback *Feedback `json:"feedback,omitempty"`
	// RegenerateOf is the first turn of the place in the chat this turn asked again.
	RegenerateOf *string `json:"regenerate_of"`
	// Scope is what the turn's searches were narrowed to; nil when they were not.
	Scope *Scope `json:"scope"`
}

// Feedback is what the asker said of an answer.
type Feedback struct {
	Rating    string    `json:"rating"`
	Comment   *string   `json:"comment"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Terminal reports whether the turn has ended.
func (t Turn) Terminal() bool {
	return t.Status == store.TurnCompleted || t.Status == store.TurnFailed || t.Status == store.TurnCancelled
}

// Citation points an answer's [n] at a passage.
type Citation struct {
	Index      int     `json:"index"`
	DocumentID string  `json:"document_id"`
	Filename   string  `json:"filename"`
	ChunkIndex int     `json:"chunk_index"`
	Score      float32 `json:"score"`
	// Matched says which retrievers found the passage and at what rank.
	Matched vector.Matched `json:"matched"`
	// URL is the web page cited, for a web source (web_search, fetch_page): then
	// DocumentID is "" and Filename is the page's title. Absent for documents.
	URL string `json:"url,omitempty"`
}

// ToolCall is one tool call of a turn.
type ToolCall struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Args      json.RawMessage `json:"args"`
	Status    string          `json:"status"`
	LatencyMS int             `json:"latency_ms"`
}

// Usage is what a turn cost the model.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// TurnError is why a turn failed.
type TurnError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func turnFromRow(t store.Turn) Turn {
	turn := Turn{
		ID: t.ID, SessionID: t.SessionID, Status: t.Status, Answer: t.Answer, Model: t.Model,
		CreatedAt: t.CreatedAt, StartedAt: t.StartedAt, FinishedAt: t.FinishedAt, RegenerateOf: t.RegenerateOf, Scope: scopeView(t.Scope),
		Citations: mapSlice(t.Citations, func(c store.Citation) Citation {
			return Citation{Index: c.Index, DocumentID: c.DocumentID, Filename: c.Filename, ChunkIndex: c.ChunkIndex, Score: c.Score, Matched: c.Matched, URL: c.URL}
		}),
		ToolCalls: mapSlice(t.ToolCalls, func(r store.ToolRun) ToolCall {
			return ToolCall{ID: r.ID, Name: r.Name, Args: r.Args, Status: r.Status, LatencyMS: r.LatencyMS}
		}),
	}
	if t.Error != nil {
		turn.Error = &TurnError{Code: t.Error.Code, Message: t.Error.Message}
	}
	if t.Usage != nil {
		turn.Usage = &Usage{PromptTokens: t.Usage.PromptTokens, CompletionTokens: t.Usage.CompletionTokens}
	}
	if t.Feedback != nil {
		turn.Feedback = &Feedback{Rating: t.Feedback.Rating, Comment: t.Feedback.Comment, UpdatedAt: t.Feedback.UpdatedAt}
	}
	return turn
}

// ChatHit is one place a search found in the caller's chats: a message, or the
// title (message_id null).
type ChatHit struct {
	SessionID string    `json:"session_id"`
	Title     string    `json:"title"`
	MessageID *string   `json:"message_id"`
	Snippet   string    `json:"snippet"`
	CreatedAt time.Time `json:"created_at"`
}

// chatHitFromRow maps a hit, cutting its text to a snippet around the terms found.
func chatHitFromRow(h store.ChatHit, tiers [][]string) ChatHit {
	return ChatHit{SessionID: h.SessionID, Title: h.Title, MessageID: h.MessageID, Snippet: snippet(h.Text, tiers, snippetRunes),
		CreatedAt: h.CreatedAt}
}

// ReindexJob is an operator re-index job and how far it got.
type ReindexJob struct {
	ID              string         `json:"id"`
	Kind            string         `json:"kind"`
	Status          string         `json:"status"`
	Params          map[string]any `json:"params"`
	Progress        JobProgress    `json:"progress"`
	Error           *string        `json:"error"`
	Result          map[string]any `json:"result"`
	CancelRequested bool           `json:"cancel_requested"`
	CreatedBy       *string        `json:"created_by"`
	CreatedAt       time.Time      `json:"created_at"`
	StartedAt       *time.Time     `json:"started_at"`
	FinishedAt      *time.Time     `json:"finished_at"`
}

// Active reports whether the job may still do work.
func (j ReindexJob) Active() bool { return j.Status == store.JobQueued || j.Status == store.JobRunning }

// JobProgress counts the units of work of a re-index job (documents or chunks,
// depending on the kind).
type JobProgress struct {
	Total  int64 `json:"total"`
	Done   int64 `json:"done"`
	Failed int64 `json:"failed"`
}

func reindexJobFromRow(j store.ReindexJob) ReindexJob {
	return ReindexJob{
		ID: j.ID, Kind: j.Kind, Status: j.Status, Params: j.Params,
		Progress: JobProgress{Total: j.Progress.Total, Done: j.Progress.Done, Failed: j.Progress.Failed},
		Error:    j.Error, Result: j.Result, CancelRequested: j.CancelRequested, CreatedBy: j.CreatedBy,
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt,
	}
}

// AuditEntry is one audit record.
type AuditEntry struct {
	ID            int64          `json:"id"`
	At            time.Time      `json:"at"`
	ActorID       *string        `json:"actor_id"`
	ActorName     string         `json:"actor_name"`
	Action        string         `json:"action"`
	TargetType    string         `json:"target_type"`
	TargetID      string         `json:"target_id"`
	Outcome       string         `json:"outcome"`
	CorrelationID string         `json:"correlation_id"`
	ClientIP      string         `json:"client_ip"`
	Details       map[string]any `json:"details"`
}

func auditEntryFromRow(e store.AuditEntry) AuditEntry {
	return AuditEntry{ID: e.ID, At: e.At, ActorID: e.ActorID, ActorName: e.ActorName, Action: e.Action,
		TargetType: e.TargetType, TargetID: e.TargetID, Outcome: e.Outcome, CorrelationID: e.CorrelationID,
		ClientIP: e.ClientIP, Details: e.Details}
}

// mapSlice maps rows one by one, keeping nil as nil so that what the JSON shows
// (null or []) is decided where the rows are read, as before.
func mapSlice[R, V any](rows []R, f func(R) V) []V {
	if rows == nil {
		return nil
	}
	out := make([]V, len(rows))
	for i, r := range rows {
		out[i] = f(r)
	}
	return out
}

// mapPage maps the items of a page of rows.
func mapPage[R, V any](p store.Page[R], f func(R) V) store.Page[V] {
	return store.Page[V]{Items: mapSlice(p.Items, f), Next: p.Next}
}
