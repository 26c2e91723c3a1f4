package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	ollama "github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// TestWebChatScopeInChromium: "Ask about these" on the documents page, the chat's
// scope as removable chips, the picker, attaching a file from the chat box, and the
// note that says what was left out to fit the model's context window, in a real
// browser, each with a screenshot.
func TestWebChatScopeInChromium(t *testing.T) {
	b := startBrowser(t)
	llm := llmtest.New(t)
	llm.SetContextLength(llmtest.ChatModel, 2048)
	// The model searches for the question, then cites every passage it was shown;
	// asked for a story, it tells a long one without searching.
	llm.Handle(func(req ollama.ChatRequest) llmtest.Script {
		last := req.Messages[len(req.Messages)-1]
		switch {
		case last.Role == "tool":
			var refs []string
			for _, line := range strings.Split(last.Content, "\n") {
				if n, _, ok := strings.Cut(strings.TrimPrefix(line, "["), "]"); ok && strings.HasPrefix(line, "[") {
					refs = append(refs, "["+n+"]")
				}
			}
			return llmtest.Text("From your documents: " + strings.Join(refs, " "))
		case strings.Contains(last.Content, "story"):
			return llmtest.Text("Once upon a time " + strings.Repeat("the story went on ", 40) + "and it ended.")
		}
		return llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "search_documents", Arguments: map[string]any{"query": last.Content, "limit": 10}}}}
	})
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-web-chat-scope-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_CHAT_BACKEND": "ollama",
		"YW_OLLAMA_URL": llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_EMBED_MODEL": llmtest.EmbedModel,
		"YW_RATE_LIMIT_RPS": "1000", "YW_RATE_LIMIT_BURST": "1000"})
	c := apitest.NewClient(t, base)
	erin := newUser(t, c, admin, "erin")
	ids := map[string]string{}
	for _, name := range []string{"lighthouse", "orchard", "glacier"} {
		doc, _ := uploadOne(t, c, erin, name+".txt", []byte(fmt.Sprintf("Field notes on the %s: the notes say the %s was busy all week.\n", name, name)), http.StatusAccepted)
		require.Equal(t, "ready", waitFor(t, c, erin, doc.ID).Status)
		ids[name] = doc.ID
	}
	sessionScope := func(id string) []string {
		t.Helper()
		var s struct {
			Session struct {
				Scope *struct {
					DocumentIDs []string `json:"document_ids"`
				} `json:"scope"`
			} `json:"session"`
		}
		c.Do("GET", "/v1/chat/sessions/"+id, erin, nil, http.StatusOK, &s)
		if s.Session.Scope == nil {
			return nil
		}
		out := append([]string(nil), s.Session.Scope.DocumentIDs...)
		sort.Strings(out)
		return out
	}
	named := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, ids[n])
		}
		sort.Strings(out)
		return out
	}

	p := b.newPage(t, "erin")
	p.goTo(base + "/#/documents")
	p.typeInto("input[name=key]", erin)
	p.press("Enter")
	p.waitFor(`document.querySelectorAll('[data-testid=doc-row][data-status=ready]').length === 3`, "erin's documents")
	require.True(t, p.evalBool(`document.querySelector('[data-testid=ask-about]').disabled`), "nothing to ask about before choosing")

	// Ask about these: two documents chosen open a chat grounded in them alone.
	p.click("[data-testid=choose-doc]", "lighthouse.txt")
	p.click("[data-testid=choose-doc]", "orchard.txt")
	p.waitFor(`document.querySelector('[data-testid=chosen-count]').textContent === '2 documents chosen' && !document.querySelector('[data-testid=ask-about]').disabled`, "two chosen")
	p.screenshot("40-documents-ask-about-these")
	p.click("[data-testid=ask-about]", "Ask about these")
	chips := `[...document.querySelectorAll('[data-testid=scope-chip]')].map(c => c.textContent.replace('indexing…', '').trim()).sort().join('|')`
	p.waitFor(`location.hash === '#/chat' && `+chips+` === 'lighthouse.txt|orchard.txt'`, "the new chat's scope as chips")
	p.screenshot("41-chat-scope-chips")

	// The first question makes the chat with its scope, and only those documents answer.
	p.typeInto("[data-testid=composer]", "What do the field notes say?")
	p.press("Enter")
	cited := `[...document.querySelectorAll('[data-testid=msg-assistant]')].at(-1).dataset.status === 'completed' && [...[...document.querySelectorAll('[data-testid=msg-assistant]')].at(-1).querySelectorAll('[data-testid=citation]')].map(c => c.textContent.match(/([a-z]+)\.txt/)[1]).sort().join('|')`
	p.waitFor(cited+` === 'lighthouse|orchard'`, "an answer citing the two documents only")
	sessionID := strings.TrimPrefix(p.evalString(`location.hash`), "#/chat/")
	require.Equal(t, named("lighthouse", "orchard"), sessionScope(sessionID), "the chat was made with the scope")
	p.screenshot("42-chat-scoped-answer")

	// Removing a chip narrows the chat at once, on the server too.
	p.click("[data-testid=scope-remove]", "orchard.txt")
	p.waitFor(chips+` === 'lighthouse.txt'`, "one chip left")
	require.Eventually(t, func() bool { return fmt.Sprint(sessionScope(sessionID)) == fmt.Sprint(named("lighthouse")) }, 10e9, 50e6)
	p.typeInto("[data-testid=composer]", "And now, what do the field notes say?")
	p.press("Enter")
	p.waitFor(cited+` === 'lighthouse'`, "an answer from the one document left")
	p.screenshot("43-chat-chip-removed")

	// Attach a file from the chat box: uploaded as erin's own document, indexed, and
	// added to this chat's scope; the next question is answered from it too.
	file := filepath.Join(t.TempDir(), "volcano.txt")
	require.NoError(t, os.WriteFile(file, []byte("Field notes on the volcano: the notes say the volcano was busy all week.\n"), 0o644))
	p.setFiles("[data-testid=attach-input]", file)
	p.waitFor(chips+` === 'lighthouse.txt|volcano.txt'`, "the attached file as a chip")
	// Until it is indexed its chip says so, and a question waits for it.
	p.waitFor(`![...document.querySelectorAll('[data-testid=scope-chip]')].some(c => c.textContent.includes('indexing'))`, "the attached file indexed")
	var docs struct {
		Documents []struct {
			ID, Filename, Status string
			GroupID              *string `json:"group_id"`
		} `json:"documents"`
	}
	c.Do("GET", "/v1/documents?limit=50", erin, nil, http.StatusOK, &docs)
	for _, d := range docs.Documents {
		if d.Filename == "volcano.txt" {
			ids["volcano"] = d.ID
			require.Nil(t, d.GroupID, "an attached file is uploaded like any document: only erin's")
		}
	}
	require.NotEmpty(t, ids["volcano"], "the attached file is among erin's documents")
	require.Equal(t, named("lighthouse", "volcano"), sessionScope(sessionID))
	p.screenshot("44-chat-file-attached")
	p.typeInto("[data-testid=composer]", "What do the field notes on the volcano say?")
	p.press("Enter")
	p.waitFor(cited+` === 'lighthouse|volcano'`, "an answer from the attached file")

	// The picker: choose the glacier instead of the lighthouse.
	p.click("[data-testid=scope-pick]", "")
	p.waitFor(`document.querySelectorAll('[data-testid=scope-dialog] [data-testid=scope-doc]').length === 4`, "the picker with erin's documents")
	require.ElementsMatch(t, []any{ids["lighthouse"], ids["volcano"]}, evalAny(p, `[...document.querySelectorAll('[data-testid=scope-doc]:checked')].map(b => b.value).sort()`),
		"the picker starts from the chat's scope")
	p.click("[data-testid=scope-dialog] label", "glacier.txt")
	p.click("[data-testid=scope-dialog] label", "lighthouse.txt")
	require.ElementsMatch(t, []any{ids["glacier"], ids["volcano"]}, evalAny(p, `[...document.querySelectorAll('[data-testid=scope-doc]:checked')].map(b => b.value).sort()`))
	p.screenshot("45-chat-scope-picker")
	p.click("dialog button", "Save")
	p.waitFor(chips+` === 'glacier.txt|volcano.txt' && !document.querySelector('dialog')`, "the chips chosen in the picker, saved")
	require.Equal(t, named("glacier", "volcano"), sessionScope(sessionID))

	// A reload shows the chat's scope again; a new chat starts without one.
	p.reload()
	p.waitFor(chips+` === 'glacier.txt|volcano.txt'`, "the scope after a reload")
	p.click("[data-testid=new-chat]", "New chat")
	p.waitFor(`location.hash === '#/chat' && document.querySelector('[data-testid=scope-bar]').hidden`, "a new chat without a scope")

	// A long chat on a model with a small window: the answer says what was left out.
	var long struct {
		ID string `json:"id"`
	}
	c.Do("POST", "/v1/chat/sessions", erin, map[string]any{"title": "A long chat"}, http.StatusCreated, &long)
	for i := range 10 {
		c.Do("POST", "/v1/chat/send", erin, map[string]any{"session_id": long.ID, "tools": false,
			"content": fmt.Sprintf("Tell me story %d, %s", i, strings.Repeat("with many details ", 15))}, http.StatusOK, nil)
	}
	p.goTo(base + "/#/chat/" + long.ID)
	p.waitFor(`document.querySelectorAll('[data-testid=msg-assistant]').length === 10`, "the long chat")
	p.eval(`document.querySelector('[data-testid=tools-toggle]').checked = false`, nil)
	p.typeInto("[data-testid=composer]", "Tell me one more story")
	p.press("Enter")
	p.waitFor(`[...document.querySelectorAll('[data-testid=msg-assistant]')].at(-1).dataset.status === 'completed'`, "the answer")
	p.waitFor(`document.querySelector('[data-testid=context-note]')`, "the context note")
	note := p.evalString(`document.querySelector('[data-testid=context-note]').textContent`)
	require.Regexp(t, `^Left out to fit the model's context window \(2,048 tokens\): \d+ earlier questions$`, note)
	p.eval(`document.querySelector('[data-testid=context-note]').scrollIntoView({block: 'center'})`, nil)
	p.screenshot("46-chat-context-note")
	require.Empty(t, p.problems(), "scripts and CSP must run clean")
}
