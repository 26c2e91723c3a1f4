package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/corpustest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// sseEvent is one server-sent event.
// sseEvent is one event of a turn's stream.
type sseEvent = apitest.Event

// readEvents reads a turn's event stream until it closes or max events arrived.
func readEvents(t *testing.T, base, key, turnID string, after uint64, max int) []sseEvent {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/v1/chat/turns/"+turnID+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if after > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(after, 10))
	}
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	var events []sseEvent
	err = apitest.ReadEvents(resp.Body, func(e sseEvent) bool {
		events = append(events, e)
		return len(events) != max
	})
	// A stream cut short ends the events read; an id that is no number is wrong.
	var badID *strconv.NumError
	require.False(t, errors.As(err, &badID), "event id: %v", err)
	return events
}

func tokensOf(events []sseEvent) string {
	var b strings.Builder
	for _, e := range events {
		if e.Type == "token" {
			var d struct {
				Text string `json:"text"`
			}
			if json.Unmarshal([]byte(e.Data), &d) == nil {
				b.WriteString(d.Text)
			}
		}
	}
	return b.String()
}

func TestExtractiveChatEndToEnd(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-chat-e2e-test"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")
	eve := newUser(t, c, admin, "eve")

	var up struct {
		Documents []document `json:"documents"`
	}
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "norwich-city.txt", Data: corpustest.Read(t, "norwich-city.txt")}}, nil, http.StatusAccepted, &up)
	require.Equal(t, "ready", waitFor(t, c, alice, up.Documents[0].ID).Status)

	var sess map[string]any
	c.Do("POST", "/v1/chat/sessions", alice, map[string]any{"title": "Football"}, http.StatusCreated, &sess)
	sessionID := sess["id"].(string)
	var posted struct {
		Message map[string]any `json:"message"`
		Turn    map[string]any `json:"turn"`
	}
	resp := c.Do("POST", "/v1/chat/sessions/"+sessionID+"/messages", alice, map[string]any{"content": "Who is Iwan Roberts?"}, http.StatusAccepted, &posted)
	turnID := posted.Turn["id"].(string)
	require.Equal(t, "/v1/chat/turns/"+turnID, resp.Header.Get("Location"))
	require.Equal(t, "extractive", posted.Turn["model"])

	// An outsider sees nothing of it.
	c.Do("GET", "/v1/chat/sessions/"+sessionID, eve, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/chat/turns/"+turnID, eve, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/chat/turns/"+turnID+"/events", eve, nil, http.StatusNotFound, nil)
	c.Do("POST", "/v1/chat/turns/"+turnID+"/cancel", eve, nil, http.StatusNotFound, nil)
	c.Do("POST", "/v1/chat/sessions/"+sessionID+"/messages", eve, map[string]any{"content": "hi"}, http.StatusNotFound, nil)

	// Read the first two events, then resume after them: the union is every event once.
	first := readEvents(t, base, alice, turnID, 0, 2)
	require.Len(t, first, 2)
	require.Equal(t, "turn.started", first[0].Type)
	rest := readEvents(t, base, alice, turnID, first[1].ID, 0)
	all := append(first, rest...)
	require.Equal(t, "turn.completed", all[len(all)-1].Type)
	for i := 1; i < len(all); i++ {
		require.Greater(t, all[i].ID, all[i-1].ID, "ids strictly increase: no event twice")
	}
	var types []string
	for _, e := range all {
		types = append(types, e.Type)
	}
	require.Contains(t, types, "tool.started")
	require.Contains(t, types, "tool.finished")

	var turn struct {
		Status    string           `json:"status"`
		Answer    string           `json:"answer"`
		Citations []map[string]any `json:"citations"`
		ToolCalls []map[string]any `json:"tool_calls"`
	}
	c.Do("GET", "/v1/chat/turns/"+turnID, alice, nil, http.StatusOK, &turn)
	require.Equal(t, "completed", turn.Status)
	require.Equal(t, turn.Answer, tokensOf(all), "the streamed tokens are the persisted answer")
	require.Contains(t, turn.Answer, "Roberts")
	require.Contains(t, turn.Answer, "[1]")
	require.NotEmpty(t, turn.Citations)
	require.Equal(t, up.Documents[0].ID, turn.Citations[0]["document_id"])
	require.Len(t, turn.ToolCalls, 1)
	require.Equal(t, "search_documents", turn.ToolCalls[0]["name"])

	var history struct {
		Messages []map[string]any `json:"messages"`
	}
	c.Do("GET", "/v1/chat/sessions/"+sessionID, alice, nil, http.StatusOK, &history)
	require.Len(t, history.Messages, 2)
	require.Equal(t, "assistant", history.Messages[1]["role"])
	require.Equal(t, turn.Answer, history.Messages[1]["content"])

	// A finished turn's events replay, and the stream closes after the terminal event.
	replay := readEvents(t, base, alice, turnID, 0, 0)
	require.Equal(t, len(all), len(replay))

	// The synchronous form waits and returns the turn; without a session it makes one.
	var sent struct {
		SessionID string         `json:"session_id"`
		Turn      map[string]any `json:"turn"`
	}
	c.Do("POST", "/v1/chat/send", alice, map[string]any{"content": "Bangor, Wales"}, http.StatusOK, &sent)
	require.NotEqual(t, sessionID, sent.SessionID)
	require.Equal(t, "completed", sent.Turn["status"])

	// Bad input is named.
	c.Do("POST", "/v1/chat/sessions/"+sessionID+"/messages", alice, map[string]any{"content": "  "}, http.StatusBadRequest, nil)
	c.Do("POST", "/v1/chat/sessions/"+sessionID+"/messages", alice, map[string]any{"content": strings.Repeat("x", 40000)}, http.StatusBadRequest, nil)
	c.Do("GET", "/v1/chat/turns/"+turnID+"/events?after=abc", alice, nil, http.StatusBadRequest, nil)

	// Rename, list, delete.
	c.Do("PATCH", "/v1/chat/sessions/"+sessionID, alice, map[string]any{"title": "Renamed"}, http.StatusOK, nil)
	var list struct {
		Sessions []map[string]any `json:"sessions"`
	}
	c.Do("GET", "/v1/chat/sessions", alice, nil, http.StatusOK, &list)
	require.Len(t, list.Sessions, 2)
	c.Do("GET", "/v1/chat/sessions", eve, nil, http.StatusOK, &list)
	require.Empty(t, list.Sessions)
	c.Do("DELETE", "/v1/chat/sessions/"+sessionID, alice, nil, http.StatusNoContent, nil)
	c.Do("GET", "/v1/chat/turns/"+turnID, alice, nil, http.StatusNotFound, nil)
}
