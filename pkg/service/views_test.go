package service

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// The JSON of every view is the HTTP contract: these tests pin its exact fields,
// and show that what only storage knows (object keys, versions, attempts) never
// reaches a client.
func requireJSON(t *testing.T, want string, v any) {
	t.Helper()
	got, err := json.Marshal(v)
	require.NoError(t, err)
	require.JSONEq(t, want, string(got))
}

var viewTime = time.Date(2025, 3, 1, 12, 30, 0, 0, time.UTC)

func TestDocumentViewFields(t *testing.T) {
	t.Parallel()
	stage := "embedding"
	embedder := "lexical"
	row := store.Document{
		ID: "d1", Filename: "a.txt", MIME: "text/plain", SizeBytes: 5, SHA256: "ab", OwnerID: "u1",
		Tags: []string{}, Status: store.StatusFailed, Stage: &stage, Progress: store.Progress{ChunksDone: 1, ChunksTotal: 2},
		ChunkCount: 3, Error: &store.DocError{Code: "empty", Message: "no text"}, CreatedAt: viewTime, UpdatedAt: viewTime,
		Format: "text", ObjectKey: "documents/d1", Generation: 4, ACLVersion: 7, Embedder: &embedder, DeletedAt: &viewTime,
		OriginalAvailable: true,
	}
	const fields = `"id":"d1","filename":"a.txt","mime":"text/plain","size_bytes":5,"sha256":"ab","owner_id":"u1",
		"group_id":null,"private":false,"tags":[],"status":"failed","stage":"embedding",
		"progress":{"chunks_done":1,"chunks_total":2,"pages_done":0,"pages_total":0},"chunk_count":3,"error":{"code":"empty","message":"no text"},
		"created_at":"2025-03-01T12:30:00Z","updated_at":"2025-03-01T12:30:00Z","ready_at":null,
		"original_available":true`
	doc := documentFromRow(row)
	requireJSON(t, `{`+fields+`,"source_url":null}`, doc)
	doc.Duplicate = true
	requireJSON(t, `{`+fields+`,"source_url":null,"duplicate":true}`, doc)
	source := "https://intranet.example/handbook"
	row.SourceURL = &source
	requireJSON(t, `{`+fields+`,"source_url":"https://intranet.example/handbook"}`, documentFromRow(row))
}

func TestTurnViewFields(t *testing.T) {
	t.Parallel()
	rank := 2
	answer := "Hi [1]"
	first, comment := "t0", "meh"
	row := store.Turn{
		ID: "t1", SessionID: "s1", UserID: "u1", Status: store.TurnCompleted, Answer: &answer, Model: "m",
		Citations: []store.Citation{{Index: 1, DocumentID: "d1", Filename: "a.txt", ChunkIndex: 0, Score: 0.5, Matched: vector.Matched{Lexical: &rank}}},
		ToolCalls: []store.ToolRun{{ID: "r1", CallID: "c1", Name: "search", Args: json.RawMessage(`{"q":"x"}`), Status: "ok", LatencyMS: 3, Preview: "secret"}},
		Usage:     &store.Usage{PromptTokens: 1, CompletionTokens: 2}, CreatedAt: viewTime, StartedAt: &viewTime, FinishedAt: &viewTime,
		Attempt: 2, ToolsEnabled: true, CancelRequested: true, RegenerateOf: &first,
		Scope:    access.DocumentScope{DocumentIDs: []string{"d1"}},
		Feedback: &store.Feedback{Rating: "down", Comment: &comment, CreatedAt: viewTime, UpdatedAt: viewTime},
	}
	requireJSON(t, `{"id":"t1","session_id":"s1","status":"completed","answer":"Hi [1]",
		"citations":[{"index":1,"document_id":"d1","filename":"a.txt","chunk_index":0,"score":0.5,"matched":{"dense":null,"lexical":2}}],
		"tool_calls":[{"id":"r1","name":"search","args":{"q":"x"},"status":"ok","latency_ms":3}],
		"error":null,"usage":{"prompt_tokens":1,"completion_tokens":2},"model":"m",
		"created_at":"2025-03-01T12:30:00Z","started_at":"2025-03-01T12:30:00Z","finished_at":"2025-03-01T12:30:00Z",
		"regenerate_of":"t0","scope":{"document_ids":["d1"],"group_ids":[]},
		"feedback":{"rating":"down","comment":"meh","updated_at":"2025-03-01T12:30:00Z"}}`, turnFromRow(row))
	// An empty list stays a list and a missing one stays null, as the rows say.
	requireJSON(t, `{"id":"","session_id":"","status":"","answer":null,"citations":[],"tool_calls":null,"error":null,
		"usage":null,"model":"","created_at":"0001-01-01T00:00:00Z","started_at":null,"finished_at":null,"regenerate_of":null,
		"scope":null}`, turnFromRow(store.Turn{Citations: []store.Citation{}}))
	// A session says what its questions are grounded in, null for everything.
	requireJSON(t, `{"id":"s1","title":"T","created_at":"2025-03-01T12:30:00Z","updated_at":"2025-03-01T12:30:00Z",
		"scope":{"document_ids":[],"group_ids":["g1"]}}`,
		sessionFromRow(store.ChatSession{ID: "s1", UserID: "u1", Title: "T", CreatedAt: viewTime, UpdatedAt: viewTime, Scope: access.DocumentScope{GroupIDs: []string{"g1"}}}))
	requireJSON(t, `{"id":"s1","title":"","created_at":"2025-03-01T12:30:00Z","updated_at":"2025-03-01T12:30:00Z","scope":null}`,
		sessionFromRow(store.ChatSession{ID: "s1", CreatedAt: viewTime, UpdatedAt: viewTime}))
	// A message says which place its turn asked again.
	turn := "t2"
	requireJSON(t, `{"id":"m1","role":"user","content":"Q","turn_id":"t2","created_at":"2025-03-01T12:30:00Z","regenerate_of":"t0"}`,
		messageFromRow(store.Message{ID: "m1", SessionID: "s1", Role: "user", Content: "Q", TurnID: &turn, CreatedAt: viewTime, RegenerateOf: &first}))
}

func TestUserKeyJobAndAuditViewFields(t *testing.T) {
	t.Parallel()
	limit := int64(0)
	user := userFromRow(store.User{ID: "u1", Name: "ann", IsAdmin: true, CreatedAt: viewTime, QuotaDocuments: &limit})
	requireJSON(t, `{"id":"u1","name":"ann","is_admin":true,"created_at":"2025-03-01T12:30:00Z","quota_bytes":null,"quota_documents":0}`, user)

	key := NewKey{Key: keyFromRow(store.Key{ID: "k1", UserID: "u1", Prefix: "yw_ab", CreatedAt: viewTime}), Secret: "yw_secret"}
	requireJSON(t, `{"id":"k1","name":"","prefix":"yw_ab","scopes":null,"group_ids":null,"allowed_ips":null,"expires_at":null,
		"created_at":"2025-03-01T12:30:00Z","last_used_at":null,"key":"yw_secret"}`, key)
	expires := viewTime.Add(time.Hour)
	scoped := keyFromRow(store.Key{ID: "k2", Prefix: "yw_cd", CreatedAt: viewTime, KeyLimits: store.KeyLimits{Name: "ci",
		Scopes: []string{"documents:read"}, GroupIDs: []string{"g1"}, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
		ExpiresAt: &expires}})
	requireJSON(t, `{"id":"k2","name":"ci","prefix":"yw_cd","scopes":["documents:read"],"group_ids":["g1"],"allowed_ips":["203.0.113.0/24"],
		"expires_at":"2025-03-01T13:30:00Z","created_at":"2025-03-01T12:30:00Z","last_used_at":null}`, scoped)

	job := reindexJobFromRow(store.ReindexJob{ID: "j1", Kind: store.KindVerify, Status: store.JobQueued, Params: map[string]any{},
		Progress: store.JobProgress{Total: 3, Done: 2, Failed: 1}, CreatedAt: viewTime, Checkpoint: []byte(`{"after":"x"}`)})
	requireJSON(t, `{"id":"j1","kind":"verify","status":"queued","params":{},"progress":{"total":3,"done":2,"failed":1},
		"error":null,"result":null,"cancel_requested":false,"created_by":null,"created_at":"2025-03-01T12:30:00Z",
		"started_at":null,"finished_at":null}`, job)

	entry := auditEntryFromRow(store.AuditEntry{ID: 9, At: viewTime, ActorName: "system", Action: "key.rotate",
		TargetType: "user", TargetID: "u1", Outcome: OutcomeSuccess, Details: map[string]any{"revoked": 1}})
	requireJSON(t, `{"id":9,"at":"2025-03-01T12:30:00Z","actor_id":null,"actor_name":"system","action":"key.rotate",
		"target_type":"user","target_id":"u1","outcome":"success","correlation_id":"","client_ip":"","details":{"revoked":1}}`, entry)
}
