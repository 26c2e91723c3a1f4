package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	ollama "github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api"
	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// searchHit is one result of GET /v1/chat/search.
type searchHit struct {
	SessionID string  `json:"session_id"`
	Title     string  `json:"title"`
	MessageID *string `json:"message_id"`
	Snippet   string  `json:"snippet"`
	CreatedAt string  `json:"created_at"`
}

type searchPage struct {
	Results    []searchHit `json:"results"`
	NextCursor *string     `json:"next_cursor"`
}

// chatIn asks content in a new chat titled title and waits for the answer; it
// returns the session and turn ids.
func chatIn(t *testing.T, c *apitest.Client, key, title, content string) (string, string) {
	t.Helper()
	var sess struct {
		ID string `json:"id"`
	}
	c.Do("POST", "/v1/chat/sessions", key, map[string]any{"title": title}, http.StatusCreated, &sess)
	var sent struct {
		Turn struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"turn"`
	}
	c.Do("POST", "/v1/chat/send", key, map[string]any{"session_id": sess.ID, "content": content}, http.StatusOK, &sent)
	require.Equal(t, "completed", sent.Turn.Status)
	return sess.ID, sent.Turn.ID
}

// searchAll follows next_cursor from the first page of q to the end.
func searchAll(t *testing.T, c *apitest.Client, key, q string, limit int) []searchHit {
	t.Helper()
	var all []searchHit
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 100, "pagination must end")
		var p searchPage
		c.Do("GET", fmt.Sprintf("/v1/chat/search?q=%s&limit=%d&cursor=%s", url.QueryEscape(q), limit, url.QueryEscape(cursor)), key, nil, http.StatusOK, &p)
		require.LessOrEqual(t, len(p.Results), limit)
		all = append(all, p.Results...)
		if p.NextCursor == nil {
			return all
		}
		require.Len(t, p.Results, limit, "only the last page is short")
		cursor = *p.NextCursor
	}
}

// requireInvalid requires a 400 naming field.
func requireInvalid(t *testing.T, c *apitest.Client, method, path, key string, body any, field string) {
	t.Helper()
	var p api.Problem
	c.Do(method, path, key, body, http.StatusBadRequest, &p)
	require.Equal(t, "validation_failed", p.Code)
	require.NotEmpty(t, p.Errors, "%s %s", method, path)
	require.Equal(t, field, p.Errors[0].Field, "%s %s: %s", method, path, p.Detail)
}

func TestChatSearchFeedbackAndExportEndToEnd(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-chat-extras-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")
	bob := newUser(t, c, admin, "bob")

	doc, _ := uploadOne(t, c, alice, "harbour.txt", []byte("The harbour master of Genoa keeps the tide tables for every pier.\n"), http.StatusAccepted)
	require.Equal(t, "ready", waitFor(t, c, alice, doc.ID).Status)

	// Alice's chats: one grounded on her document, several about zebras, and some
	// in other languages; bob has a zebra chat of his own.
	genoa, genoaTurn := chatIn(t, c, alice, "Genoa harbour", "Who keeps the tide tables in Genoa?")
	var zebras []string
	for i := range 4 {
		s, _ := chatIn(t, c, alice, fmt.Sprintf("Animals %d", i), fmt.Sprintf("the zebra number %d crossed <b>the</b> road", i))
		zebras = append(zebras, s)
	}
	zebraTitle, _ := chatIn(t, c, alice, "Zebra facts", "How many stripes?")
	italian, _ := chatIn(t, c, alice, "Città di Genova", "Perché la lanterna è così alta?")
	german, _ := chatIn(t, c, alice, "Straßenbahn", "Über die Brücke fährt die Straßenbahn")
	russian, _ := chatIn(t, c, alice, "Москва", "Где находится Красная площадь?")
	bobZebra, _ := chatIn(t, c, bob, "Bob's zebra", "a zebra of bob's")

	// Every match of alice's, titles and messages, newest first; bob's never.
	all := searchAll(t, c, alice, "zebra", 200)
	sessions := map[string]bool{}
	var titleHits int
	for i, h := range all {
		sessions[h.SessionID] = true
		require.NotEqual(t, bobZebra, h.SessionID, "bob's chat in alice's results")
		require.Contains(t, strings.ToLower(h.Snippet), "zebra")
		if i > 0 {
			require.GreaterOrEqual(t, all[i-1].CreatedAt, h.CreatedAt, "newest first")
		}
		if h.MessageID == nil {
			titleHits++
			require.Equal(t, zebraTitle, h.SessionID)
			require.Equal(t, "Zebra facts", h.Snippet, "a title hit shows the title")
		}
	}
	require.Equal(t, 1, titleHits)
	for _, s := range append(zebras, zebraTitle) {
		require.True(t, sessions[s], "session %s is found", s)
	}
	require.Len(t, sessions, 5)
	// The snippet is the text as written: nothing is added, and what looks like markup
	// in the message is kept as text for the client to show as text.
	require.Contains(t, all[len(all)-1].Snippet, "the zebra number 0 crossed <b>the</b> road")
	require.Equal(t, "Animals 0", all[len(all)-1].Title)

	// Keyset pages of two give the same results in the same order, each once.
	require.Equal(t, all, searchAll(t, c, alice, "zebra", 2))
	require.Equal(t, all, searchAll(t, c, alice, "ZEBRA", 3), "case does not matter")

	bobs := searchAll(t, c, bob, "zebra", 50)
	require.NotEmpty(t, bobs)
	for _, h := range bobs {
		require.Equal(t, bobZebra, h.SessionID)
	}
	require.Empty(t, searchAll(t, c, bob, "genoa", 50), "alice's words are not bob's")

	// Phrases, exclusions and other languages.
	only := func(q string, key string) map[string]bool {
		found := map[string]bool{}
		for _, h := range searchAll(t, c, key, q, 50) {
			found[h.SessionID] = true
		}
		return found
	}
	require.Equal(t, map[string]bool{zebras[2]: true}, only(`"zebra number 2"`, alice))
	require.Equal(t, map[string]bool{zebraTitle: true}, only(`zebra -crossed`, alice))
	require.Equal(t, map[string]bool{genoa: true, italian: true}, only("genova or genoa", alice))
	require.Equal(t, map[string]bool{german: true}, only("über brücke", alice))
	require.Equal(t, map[string]bool{german: true}, only("STRASSENBAHN or straßenbahn", alice))
	require.Equal(t, map[string]bool{russian: true}, only("красная", alice))
	require.Empty(t, only("?!", alice), "a query without words finds nothing")

	// Validation names the field at fault.
	requireInvalid(t, c, "GET", "/v1/chat/search", alice, nil, "q")
	requireInvalid(t, c, "GET", "/v1/chat/search?q=%20%20", alice, nil, "q")
	requireInvalid(t, c, "GET", "/v1/chat/search?q="+strings.Repeat("a", 201), alice, nil, "q")
	requireInvalid(t, c, "GET", "/v1/chat/search?q=zebra&limit=0", alice, nil, "limit")
	requireInvalid(t, c, "GET", "/v1/chat/search?q=zebra&limit=201", alice, nil, "limit")
	requireInvalid(t, c, "GET", "/v1/chat/search?q=zebra&limit=two", alice, nil, "limit")
	requireInvalid(t, c, "GET", "/v1/chat/search?q=zebra&cursor=not-a-cursor", alice, nil, "cursor")
	c.Do("GET", "/v1/chat/search?q=zebra", "", nil, http.StatusUnauthorized, nil)

	// Feedback: the asker rates, rates again, and nobody else can.
	fb := "/v1/chat/turns/" + genoaTurn + "/feedback"
	c.Do("POST", fb, alice, map[string]any{"rating": "up"}, http.StatusNoContent, nil)
	var turn struct {
		Feedback *struct {
			Rating  string  `json:"rating"`
			Comment *string `json:"comment"`
		} `json:"feedback"`
	}
	c.Do("GET", "/v1/chat/turns/"+genoaTurn, alice, nil, http.StatusOK, &turn)
	require.NotNil(t, turn.Feedback)
	require.Equal(t, "up", turn.Feedback.Rating)
	require.Nil(t, turn.Feedback.Comment)
	c.Do("POST", fb, alice, map[string]any{"rating": "down", "comment": "  Too short.  "}, http.StatusNoContent, nil)
	c.Do("GET", "/v1/chat/turns/"+genoaTurn, alice, nil, http.StatusOK, &turn)
	require.Equal(t, "down", turn.Feedback.Rating)
	require.Equal(t, "Too short.", *turn.Feedback.Comment)
	c.Do("POST", fb, bob, map[string]any{"rating": "up"}, http.StatusNotFound, nil)
	c.Do("POST", "/v1/chat/turns/00000000-0000-0000-0000-000000000000/feedback", alice, map[string]any{"rating": "up"}, http.StatusNotFound, nil)
	c.Do("POST", "/v1/chat/turns/not-a-turn/feedback", alice, map[string]any{"rating": "up"}, http.StatusNotFound, nil)
	requireInvalid(t, c, "POST", fb, alice, map[string]any{"rating": "meh"}, "rating")
	requireInvalid(t, c, "POST", fb, alice, map[string]any{}, "rating")
	requireInvalid(t, c, "POST", fb, alice, map[string]any{"rating": "up", "comment": strings.Repeat("é", 2001)}, "comment")
	c.Do("GET", "/v1/chat/turns/"+genoaTurn, alice, nil, http.StatusOK, &turn)
	require.Equal(t, "down", turn.Feedback.Rating, "a refused rating changes nothing")
	require.Equal(t, "Too short.", *turn.Feedback.Comment)
	c.Do("POST", fb, alice, map[string]any{"rating": "up", "comment": strings.Repeat("é", 2000)}, http.StatusNoContent, nil)
	c.Do("POST", fb, alice, map[string]any{"rating": "down", "comment": "Too short."}, http.StatusNoContent, nil)
	c.Do("GET", "/v1/chat/turns/"+genoaTurn, bob, nil, http.StatusNotFound, nil)

	// Admins see it in the analytics, by model and by tool, with the comment; alice
	// sees her own, bob has none.
	today := time.Now().UTC().Format(time.DateOnly)
	type feedbackCount struct {
		Name     string `json:"name"`
		Up       int64  `json:"up"`
		Down     int64  `json:"down"`
		Comments int64  `json:"comments"`
	}
	var rep struct {
		Feedback struct {
			Models   []feedbackCount `json:"models"`
			Tools    []feedbackCount `json:"tools"`
			Comments []struct {
				Model   string `json:"model"`
				Rating  string `json:"rating"`
				Comment string `json:"comment"`
			} `json:"comments"`
		} `json:"feedback"`
	}
	for _, key := range []string{admin, alice} {
		path := "/v1/admin/analytics?from=" + today + "&to=" + today
		if key == alice {
			path = "/v1/me/usage?from=" + today + "&to=" + today
		}
		c.Do("GET", path, key, nil, http.StatusOK, &rep)
		require.Equal(t, []feedbackCount{{Name: "extractive", Down: 1, Comments: 1}}, rep.Feedback.Models, path)
		require.Equal(t, []feedbackCount{{Name: "search_documents", Down: 1, Comments: 1}}, rep.Feedback.Tools, path)
		require.Len(t, rep.Feedback.Comments, 1)
		require.Equal(t, "Too short.", rep.Feedback.Comments[0].Comment)
		require.Equal(t, "down", rep.Feedback.Comments[0].Rating)
	}
	c.Do("GET", "/v1/me/usage?from="+today+"&to="+today, bob, nil, http.StatusOK, &rep)
	require.Empty(t, rep.Feedback.Models)
	require.Empty(t, rep.Feedback.Comments)

	// Export: the chat as Markdown, for its owner only.
	resp := c.Do("GET", "/v1/chat/sessions/"+genoa+"/export", alice, nil, http.StatusOK, nil)
	require.Equal(t, "text/markdown; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, `attachment; filename="Genoa-harbour-`+today+`.md"; filename*=UTF-8''Genoa%20harbour%20`+today+`.md`,
		resp.Header.Get("Content-Disposition"))
	md := resp.Body
	require.True(t, strings.HasPrefix(md, "# Genoa harbour\n"), md)
	require.Regexp(t, `(?m)^### You · \d{4}-\d\d-\d\d \d\d:\d\d UTC$`, md)
	require.Regexp(t, `(?m)^### Assistant · \d{4}-\d\d-\d\d \d\d:\d\d UTC · extractive$`, md)
	require.Contains(t, md, "\nWho keeps the tide tables in Genoa?\n")
	require.Contains(t, md, "tide tables for every pier")
	require.Contains(t, md, "\nSources:\n\n- [1] harbour.txt, passage 1\n")
	require.Less(t, strings.Index(md, "### You"), strings.Index(md, "### Assistant"), "in the order of the chat")
	c.Do("GET", "/v1/chat/sessions/"+genoa+"/export", bob, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/chat/sessions/00000000-0000-0000-0000-000000000000/export", alice, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/chat/sessions/"+genoa+"/export", "", nil, http.StatusUnauthorized, nil)

	// A title that tries to escape the header or the download folder gives a safe name.
	c.Do("PATCH", "/v1/chat/sessions/"+italian, alice, map[string]any{"title": `../../etc/"passwd"; x=1 Città`}, http.StatusOK, nil)
	resp = c.Do("GET", "/v1/chat/sessions/"+italian+"/export", alice, nil, http.StatusOK, nil)
	require.Equal(t, `attachment; filename="etc-passwd-x1-Citt-`+today+`.md"; filename*=UTF-8''etc%20passwd%20%3B%20x%3D1%20Citt%C3%A0%20`+today+`.md`,
		resp.Header.Get("Content-Disposition"))
	require.True(t, strings.HasPrefix(resp.Body, `# ../../etc/"passwd"; x=1 Città`+"\n"), "the title itself is kept in the document")
}

// TestChatRegenerateAndEditEndToEnd asks the last question of a chat again, then
// edits it: every answer is kept, and the model is only ever shown the chat as it
// goes on from the newest one.
func TestChatRegenerateAndEditEndToEnd(t *testing.T) {
	llm := llmtest.New(t)
	var mu sync.Mutex
	answers := 0
	llm.Handle(func(ollama.ChatRequest) llmtest.Script {
		mu.Lock()
		defer mu.Unlock()
		answers++
		return llmtest.Text(fmt.Sprintf("answer-%d", answers))
	})
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-chat-regenerate-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_CHAT_BACKEND": "ollama",
		"YW_OLLAMA_URL": llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_EMBED_MODEL": llmtest.EmbedModel})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")
	bob := newUser(t, c, admin, "bob")

	type posted struct {
		Message struct {
			ID           string  `json:"id"`
			Content      string  `json:"content"`
			RegenerateOf *string `json:"regenerate_of"`
		} `json:"message"`
		Turn struct {
			ID           string  `json:"id"`
			RegenerateOf *string `json:"regenerate_of"`
		} `json:"turn"`
	}
	session, first := chatIn(t, c, alice, "Sums", "What is 2+2?")
	ask := func(body map[string]any) posted {
		t.Helper()
		var p posted
		c.Do("POST", "/v1/chat/sessions/"+session+"/messages", alice, body, http.StatusAccepted, &p)
		events := readEvents(t, base, alice, p.Turn.ID, 0, 0)
		require.Equal(t, "turn.completed", events[len(events)-1].Type)
		return p
	}
	// historyOf is what the model was shown before the question of its last call.
	historyOf := func() []string {
		reqs := llm.ChatRequests()
		var out []string
		for _, m := range reqs[len(reqs)-1].Messages {
			if m.Role == "user" || m.Role == "assistant" {
				out = append(out, m.Role+": "+m.Content)
			}
		}
		return out
	}

	// Again, the same question: a new turn at the same place.
	again := ask(map[string]any{"regenerate_of": first})
	require.Equal(t, "What is 2+2?", again.Message.Content)
	require.Equal(t, first, *again.Turn.RegenerateOf)
	require.Equal(t, []string{"user: What is 2+2?"}, historyOf(), "the first answer is not shown to the model")

	// Edited: asked from the second answer, the place is still the first turn's.
	edited := ask(map[string]any{"regenerate_of": again.Turn.ID, "content": "What is 3+3?"})
	require.Equal(t, "What is 3+3?", edited.Message.Content)
	require.Equal(t, first, *edited.Turn.RegenerateOf)
	require.Equal(t, []string{"user: What is 3+3?"}, historyOf())

	// The chat goes on from the newest answer.
	next := ask(map[string]any{"content": "And doubled?"})
	require.Nil(t, next.Turn.RegenerateOf)
	require.Equal(t, []string{"user: What is 3+3?", "assistant: answer-3", "user: And doubled?"}, historyOf())

	// Every answer is kept, each message saying which place it asked again.
	var history struct {
		Messages []struct {
			Role         string  `json:"role"`
			Content      string  `json:"content"`
			TurnID       string  `json:"turn_id"`
			RegenerateOf *string `json:"regenerate_of"`
		} `json:"messages"`
	}
	c.Do("GET", "/v1/chat/sessions/"+session, alice, nil, http.StatusOK, &history)
	var shown []string
	for _, m := range history.Messages {
		place := m.TurnID
		if m.RegenerateOf != nil {
			place = *m.RegenerateOf
		}
		shown = append(shown, fmt.Sprintf("%s %s @%v", m.Role, m.Content, place == first))
	}
	require.Equal(t, []string{
		"user What is 2+2? @true", "assistant answer-1 @true",
		"user What is 2+2? @true", "assistant answer-2 @true",
		"user What is 3+3? @true", "assistant answer-3 @true",
		"user And doubled? @false", "assistant answer-4 @false",
	}, shown)
	md := c.Do("GET", "/v1/chat/sessions/"+session+"/export", alice, nil, http.StatusOK, nil).Body
	for _, a := range []string{"answer-1", "answer-2", "answer-3", "answer-4"} {
		require.Contains(t, md, a, "the export keeps every answer")
	}

	// Only the last place can be asked again, and only with a turn of this chat.
	msgs := "/v1/chat/sessions/" + session + "/messages"
	var p api.Problem
	c.Do("POST", msgs, alice, map[string]any{"regenerate_of": first}, http.StatusConflict, &p)
	require.Equal(t, "conflict", p.Code)
	_, other := chatIn(t, c, alice, "Other", "Elsewhere?")
	_, bobs := chatIn(t, c, bob, "Bob's", "Mine?")
	for _, id := range []string{other, bobs, "00000000-0000-0000-0000-000000000000", "not-a-turn"} {
		requireInvalid(t, c, "POST", msgs, alice, map[string]any{"regenerate_of": id}, "regenerate_of")
	}
	requireInvalid(t, c, "POST", msgs, alice, map[string]any{}, "content")
	c.Do("POST", msgs, bob, map[string]any{"regenerate_of": next.Turn.ID}, http.StatusNotFound, nil)
	c.Do("GET", "/v1/chat/sessions/"+session, alice, nil, http.StatusOK, &history)
	require.Len(t, history.Messages, 8, "refused requests add nothing")
}
