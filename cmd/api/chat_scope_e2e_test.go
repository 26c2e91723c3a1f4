package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	ollama "github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api"
	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// scopedTurn is what a chat answer shows of its grounding.
type scopedTurn struct {
	ID        string          `json:"id"`
	Status    string          `json:"status"`
	Answer    string          `json:"answer"`
	Scope     json.RawMessage `json:"scope"`
	Citations []struct {
		DocumentID string `json:"document_id"`
	} `json:"citations"`
}

func (s scopedTurn) cited() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range s.Citations {
		if !seen[c.DocumentID] {
			seen[c.DocumentID] = true
			out = append(out, c.DocumentID)
		}
	}
	sort.Strings(out)
	return out
}

func sorted(ids ...string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}

// TestChatScopeEndToEnd: a chat, or one question, grounded in chosen documents and
// groups; what the caller cannot see is refused without saying whether it exists,
// and a scope never widens what the caller may see.
func TestChatScopeEndToEnd(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-chat-scope-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_GROUP_DIRECT_ADD": "true",
		"YW_RATE_LIMIT_RPS": "1000", "YW_RATE_LIMIT_BURST": "1000"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")
	bob := newUser(t, c, admin, "bob")
	var bobMe struct {
		ID string `json:"id"`
	}
	c.Do("GET", "/v1/me", bob, nil, http.StatusOK, &bobMe)
	var team struct {
		ID string `json:"id"`
	}
	c.Do("POST", "/v1/groups", alice, map[string]any{"name": "zoologists"}, http.StatusCreated, &team)
	c.Do("POST", "/v1/groups/"+team.ID+"/members", alice, map[string]any{"user_id": bobMe.ID}, http.StatusCreated, nil)

	upload := func(key, name, text string, fields map[string]string) string {
		t.Helper()
		var up struct {
			Documents []document `json:"documents"`
		}
		c.Upload("/v1/documents", key, []apitest.File{{Name: name, Data: []byte(text)}}, fields, http.StatusAccepted, &up)
		require.Equal(t, "ready", waitFor(t, c, key, up.Documents[0].ID).Status)
		return up.Documents[0].ID
	}
	alpha := upload(alice, "alpha.txt", "Zebra migration alpha: the herd crosses the river in July.\n", nil)
	beta := upload(alice, "beta.txt", "Zebra migration beta: the herd returns south in November.\n", map[string]string{"group_id": team.ID})
	gamma := upload(bob, "gamma.txt", "Zebra migration gamma: foals are born during the rains.\n", nil)

	send := func(key string, body map[string]any) scopedTurn {
		t.Helper()
		var out struct {
			SessionID string     `json:"session_id"`
			Turn      scopedTurn `json:"turn"`
		}
		c.Do("POST", "/v1/chat/send", key, body, http.StatusOK, &out)
		require.Equal(t, "completed", out.Turn.Status, out.Turn.Answer)
		return out.Turn
	}
	question := "zebra migration herd foals"

	// Without a scope alice's chat finds both her documents.
	require.Equal(t, sorted(alpha, beta), send(alice, map[string]any{"content": question}).cited())
	// One question narrowed to one document finds only that one, and says so.
	turn := send(alice, map[string]any{"content": question, "scope": map[string]any{"document_ids": []string{alpha}}})
	require.Equal(t, []string{alpha}, turn.cited())
	require.JSONEq(t, `{"document_ids":["`+alpha+`"],"group_ids":[]}`, string(turn.Scope))

	// A chat grounded in the team: its questions take that scope unless they name their own.
	var sess struct {
		ID    string          `json:"id"`
		Scope json.RawMessage `json:"scope"`
	}
	c.Do("POST", "/v1/chat/sessions", alice, map[string]any{"title": "team zebras", "scope": map[string]any{"group_ids": []string{team.ID}}},
		http.StatusCreated, &sess)
	require.JSONEq(t, `{"document_ids":[],"group_ids":["`+team.ID+`"]}`, string(sess.Scope))
	require.Equal(t, []string{beta}, send(alice, map[string]any{"content": question, "session_id": sess.ID}).cited(), "her private document is in no group")
	require.Equal(t, sorted(alpha, beta), send(alice, map[string]any{"content": question, "session_id": sess.ID, "scope": map[string]any{}}).cited(),
		"a question whose scope names nothing searches everything")
	var posted struct {
		Turn scopedTurn `json:"turn"`
	}
	c.Do("POST", "/v1/chat/sessions/"+sess.ID+"/messages", alice, map[string]any{"content": question,
		"scope": map[string]any{"document_ids": []string{alpha}, "group_ids": []string{team.ID}}}, http.StatusAccepted, &posted)
	require.JSONEq(t, `{"document_ids":["`+alpha+`"],"group_ids":["`+team.ID+`"]}`, string(posted.Turn.Scope))
	var done scopedTurn
	readEvents(t, base, alice, posted.Turn.ID, 0, 0)
	c.Do("GET", "/v1/chat/turns/"+posted.Turn.ID, alice, nil, http.StatusOK, &done)
	require.Equal(t, sorted(alpha, beta), done.cited())

	// PATCH sets, replaces and removes the chat's scope.
	c.Do("PATCH", "/v1/chat/sessions/"+sess.ID, alice, map[string]any{"scope": map[string]any{"document_ids": []string{alpha}}}, http.StatusOK, &sess)
	require.JSONEq(t, `{"document_ids":["`+alpha+`"],"group_ids":[]}`, string(sess.Scope))
	require.Equal(t, []string{alpha}, send(alice, map[string]any{"content": question, "session_id": sess.ID}).cited())
	var got struct {
		Session struct {
			Title string          `json:"title"`
			Scope json.RawMessage `json:"scope"`
		} `json:"session"`
	}
	c.Do("GET", "/v1/chat/sessions/"+sess.ID, alice, nil, http.StatusOK, &got)
	require.Equal(t, "team zebras", got.Session.Title, "a scope alone leaves the title")
	require.JSONEq(t, string(sess.Scope), string(got.Session.Scope))
	c.Do("PATCH", "/v1/chat/sessions/"+sess.ID, alice, map[string]any{"scope": nil}, http.StatusOK, &sess)
	require.Equal(t, "null", string(sess.Scope))
	c.Do("PATCH", "/v1/chat/sessions/"+sess.ID, alice, map[string]any{"title": "renamed"}, http.StatusOK, &sess)
	requireInvalid(t, c, "PATCH", "/v1/chat/sessions/"+sess.ID, alice, map[string]any{}, "title")
	requireInvalid(t, c, "PATCH", "/v1/chat/sessions/"+sess.ID, alice, map[string]any{"scope": "alpha"}, "scope")
	requireInvalid(t, c, "POST", "/v1/chat/sessions/"+sess.ID+"/messages", alice, map[string]any{"content": "x", "scope": map[string]any{"document_ids": "alpha"}},
		"scope.document_ids")

	// Bob may not name alice's private document: the refusal reads exactly as for a
	// document that does not exist, wherever a scope is given.
	refusal := func(method, path string, body map[string]any) []map[string]string {
		t.Helper()
		var p api.Problem
		c.Do(method, path, bob, body, http.StatusBadRequest, &p)
		require.Equal(t, "validation_failed", p.Code)
		out := []map[string]string{}
		for _, f := range p.Errors {
			out = append(out, map[string]string{"field": f.Field, "message": f.Message})
		}
		return out
	}
	var bobSess struct {
		ID string `json:"id"`
	}
	c.Do("POST", "/v1/chat/sessions", bob, map[string]any{"title": "mine"}, http.StatusCreated, &bobSess)
	for _, name := range []string{"document_ids", "group_ids"} {
		hidden, missing := alpha, uuid.NewString()
		if name == "group_ids" {
			var other struct {
				ID string `json:"id"`
			}
			c.Do("POST", "/v1/groups", alice, map[string]any{"name": "alice-only-" + uuid.NewString()[:8]}, http.StatusCreated, &other)
			hidden = other.ID
		}
		for _, target := range []struct{ method, path string }{
			{"POST", "/v1/chat/sessions"}, {"PATCH", "/v1/chat/sessions/" + bobSess.ID},
			{"POST", "/v1/chat/sessions/" + bobSess.ID + "/messages"}, {"POST", "/v1/chat/send"},
		} {
			ask := func(id string) []map[string]string {
				return refusal(target.method, target.path, map[string]any{"content": question, "scope": map[string]any{name: []string{id}}})
			}
			seen := ask(hidden)
			require.Equal(t, ask(missing), seen, "%s %s: a hidden %s reads as a missing one", target.method, target.path, name)
			require.Equal(t, "scope."+name+"[0]", seen[0]["field"])
		}
	}
	var bobList struct {
		Sessions []struct{ ID string } `json:"sessions"`
	}
	c.Do("GET", "/v1/chat/sessions", bob, nil, http.StatusOK, &bobList)
	require.Len(t, bobList.Sessions, 1, "a refused scope made no chat (POST /v1/chat/send makes its session only once the scope is accepted)")

	// What bob may see, he may choose: the team's document and his own.
	turn = send(bob, map[string]any{"content": question, "scope": map[string]any{"document_ids": []string{beta, gamma}}})
	require.Equal(t, sorted(beta, gamma), turn.cited())

	// A scope outlives the access it was chosen under, and then finds nothing: alice
	// makes the team's document private, and bob's chat grounded in it goes quiet.
	c.Do("PATCH", "/v1/chat/sessions/"+bobSess.ID, bob, map[string]any{"scope": map[string]any{"document_ids": []string{beta}, "group_ids": []string{team.ID}}},
		http.StatusOK, nil)
	require.Equal(t, []string{beta}, send(bob, map[string]any{"content": question, "session_id": bobSess.ID}).cited())
	c.Do("PATCH", "/v1/documents/"+beta, alice, map[string]any{"group_id": team.ID, "private": true}, http.StatusOK, nil)
	turn = send(bob, map[string]any{"content": question, "session_id": bobSess.ID})
	require.Empty(t, turn.cited(), "the scope still names it, the access rule no longer admits it")
	require.NotContains(t, turn.Answer, "beta")
	require.Contains(t, turn.Answer, "found no passages")
	var bobView struct {
		Session struct {
			Scope json.RawMessage `json:"scope"`
		} `json:"session"`
	}
	c.Do("GET", "/v1/chat/sessions/"+bobSess.ID, bob, nil, http.StatusOK, &bobView)
	require.Contains(t, string(bobView.Session.Scope), beta, "the chat keeps the scope as chosen")
	// Choosing it again is refused now.
	requireInvalid(t, c, "PATCH", "/v1/chat/sessions/"+bobSess.ID, bob, map[string]any{"scope": map[string]any{"document_ids": []string{beta}}}, "scope.document_ids[0]")
}

// TestChatContextTrimmedEndToEnd: a long chat with a model of a small context
// window goes on, with the oldest turns left out and a context.trimmed event that
// says how many, from which model window.
func TestChatContextTrimmedEndToEnd(t *testing.T) {
	t.Parallel()
	llm := llmtest.New(t)
	llm.SetContextLength(llmtest.ChatModel, 2048)
	llm.Handle(func(ollama.ChatRequest) llmtest.Script {
		return llmtest.Text("An answer that goes on " + strings.Repeat("and on ", 60) + "until it ends.")
	})
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-chat-trimmed-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_CHAT_BACKEND": "ollama",
		"YW_OLLAMA_URL": llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_EMBED_MODEL": llmtest.EmbedModel,
		"YW_RATE_LIMIT_RPS": "1000", "YW_RATE_LIMIT_BURST": "1000"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")
	var sess struct {
		ID string `json:"id"`
	}
	c.Do("POST", "/v1/chat/sessions", alice, map[string]any{"title": "long"}, http.StatusCreated, &sess)
	var last struct {
		Turn struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"turn"`
	}
	for i := range 12 {
		c.Do("POST", "/v1/chat/send", alice, map[string]any{"session_id": sess.ID, "tools": false,
			"content": fmt.Sprintf("Question %d: %s", i, strings.Repeat("tell me more ", 20))}, http.StatusOK, &last)
		require.Equal(t, "completed", last.Turn.Status)
	}
	events := readEvents(t, base, alice, last.Turn.ID, 0, 0)
	var trimmed *sseEvent
	for i := range events {
		if events[i].Type == "context.trimmed" {
			require.Nil(t, trimmed, "said once")
			trimmed = &events[i]
		}
	}
	require.NotNil(t, trimmed, "events: %v", events)
	var ev struct {
		DroppedTurns    int `json:"dropped_turns"`
		DroppedPassages int `json:"dropped_passages"`
		ContextWindow   int `json:"context_window"`
	}
	require.NoError(t, json.Unmarshal([]byte(trimmed.Data), &ev))
	require.Equal(t, 2048, ev.ContextWindow, "the model's own window, from its metadata")
	require.Positive(t, ev.DroppedTurns)
	require.Less(t, ev.DroppedTurns, 11, "the newest turns are kept")
	reqs := llm.ChatRequests()
	lastReq := reqs[len(reqs)-1]
	require.EqualValues(t, 2048, lastReq.Options["num_ctx"])
	require.Len(t, lastReq.Messages, 1+2*(11-ev.DroppedTurns)+1, "system, the turns kept, the question")
	require.Contains(t, lastReq.Messages[len(lastReq.Messages)-1].Content, "Question 11")
}
