package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/corpustest"
	"github.com/youworker/youworker/pkg/llmtest"
)

// operatorActivity uploads a document and runs a chat turn that searches it and
// asks the time, so every family operators watch has series. It returns the ids
// of what the user did, which no series may name.
func operatorActivity(t *testing.T, c *apitest.Client, base, adminKey string, model *scriptedModel) (ids []string) {
	t.Helper()
	key := newUser(t, c, adminKey, "metrics-watcher")
	var me map[string]any
	c.Do("GET", "/v1/me", key, nil, http.StatusOK, &me)
	var up struct {
		Documents []document `json:"documents"`
	}
	c.Upload("/v1/documents", key, []apitest.File{{Name: "norwich-city.txt", Data: corpustest.Read(t, "norwich-city.txt")}}, nil, http.StatusAccepted, &up)
	require.Equal(t, "ready", waitFor(t, c, key, up.Documents[0].ID).Status)

	const q = "When did Norwich City last play, and what time is it?"
	model.on(q,
		llmtest.Script{ToolCalls: []llmtest.ToolCall{
			{Name: "search_documents", Arguments: map[string]any{"query": "Norwich City"}},
			{Name: "current_time", Arguments: map[string]any{}},
		}},
		llmtest.Script{Tokens: []string{"Norwich ", "City ", "played ", "[1]."}, Usage: llmtest.Usage{PromptTokens: 300, CompletionTokens: 4}},
	)
	turnID, sessionID := askChat(t, c, key, q, nil)
	events := readEvents(t, base, key, turnID, 0, 0)
	require.Equal(t, "turn.completed", events[len(events)-1].Type)
	return []string{me["id"].(string), up.Documents[0].ID, turnID, sessionID}
}

// requireOperatorMetrics checks that /metrics answers what operators ask after
// operatorActivity, and that no label value names a user, a document, a turn or a
// session.
func requireOperatorMetrics(t *testing.T, body string, ids []string) {
	t.Helper()
	for _, series := range []string{
		`yw_llm_requests_total{model="` + llmtest.ChatModel + `",outcome="ok"} 2`,
		`yw_llm_time_to_first_token_seconds_count{model="` + llmtest.ChatModel + `"} 2`,
		`yw_llm_tokens_per_second_count{model="` + llmtest.ChatModel + `"} 1`,
		`yw_llm_tokens_total{kind="completion",model="` + llmtest.ChatModel + `"}`,
		`yw_llm_tokens_total{kind="prompt",model="` + llmtest.ChatModel + `"}`,
		`yw_tool_calls_total{outcome="ok",server="builtin",tool="search_documents"} 1`,
		`yw_tool_calls_total{outcome="ok",server="builtin",tool="current_time"} 1`,
		`yw_tool_call_duration_seconds_count{server="builtin",tool="search_documents"} 1`,
		`yw_ingest_documents_total{format="text",outcome="ready"} 1`,
		`yw_ingest_stage_duration_seconds_count{stage="fetch"} 1`,
		`yw_ingest_stage_duration_seconds_count{stage="parse"} 1`,
		`yw_ingest_stage_duration_seconds_count{stage="chunk"} 1`,
		`yw_ingest_stage_duration_seconds_count{stage="embed"} 1`,
		`yw_ingest_stage_duration_seconds_count{stage="index"} 1`,
		`yw_embed_request_duration_seconds_count{provider="lexical"}`,
		`yw_embed_batch_size_count`,
		`yw_queue_pending_messages{consumer="ingest"} 0`,
		`yw_queue_pending_messages{consumer="chat"} 0`,
		`yw_queue_ack_pending{consumer="reindex"} 0`,
		`yw_queue_oldest_pending_age_seconds{consumer="chat"} 0`,
		`yw_db_pool_connections{state="max"}`,
		`yw_db_pool_connections{state="acquired"}`,
		`yw_db_pool_acquire_wait_seconds_total`,
		`yw_http_streams_open`,
	} {
		require.Contains(t, body, series)
	}
	labels := regexp.MustCompile(`\{[^}]*\}`).FindAllString(body, -1)
	require.NotEmpty(t, labels)
	for _, l := range labels {
		for _, id := range ids {
			require.NotContains(t, l, id, "a series label names a user's data")
		}
	}
	require.False(t, strings.Contains(body, "metrics-watcher"), "no series names a user")
}
