package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// TestWebChatShowsThePlaceInLine: with a model that serves one turn at a time,
// a question asked while others wait says where it stands, moves up as the
// line moves, and is answered when its turn comes; with screenshots.
func TestWebChatShowsThePlaceInLine(t *testing.T) {
	b := startBrowser(t)
	llm := llmtest.New(t)
	llm.Handle(func(req api.ChatRequest) llmtest.Script {
		if strings.Contains(req.Messages[len(req.Messages)-1].Content, "long story") {
			return llmtest.Script{Tokens: []string{"Once ", "upon ", "a ", "time"}, Stall: true}
		}
		return llmtest.Text("Tides follow the moon.")
	})
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-web-chat-queue-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_CHAT_BACKEND": "ollama",
		"YW_OLLAMA_URL": llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_MODEL_PARALLEL": "1"})
	c := apitest.NewClient(t, base)
	erin, frank, gina := newUser(t, c, admin, "erin"), newUser(t, c, admin, "frank"), newUser(t, c, admin, "gina")

	// Frank's long story holds the model; Gina waits first in line.
	franks, _ := askChat(t, c, frank, "Tell me a long story", nil)
	require.Eventually(t, func() bool { return llm.Count("/api/chat") == 1 }, 20*time.Second, 10*time.Millisecond, "frank's turn holds the model")
	ginas, _ := askChat(t, c, gina, "Tell me another long story", nil)

	p := b.newPage(t, "erin")
	p.goTo(base + "/#/chat")
	p.typeInto("input[name=key]", erin)
	p.press("Enter")
	p.waitFor(`document.querySelector('[data-testid=composer]')`, "the chat page")
	p.typeInto("[data-testid=composer]", "Why are there tides?")
	p.press("Enter")
	p.waitFor(`document.querySelector('[data-testid=turn-waiting]')?.textContent === '2nd in line for the model…'`, "erin's place behind gina")
	p.screenshot("30-chat-2nd-in-line")

	c.Do("POST", "/v1/chat/turns/"+franks+"/cancel", frank, nil, http.StatusAccepted, nil)
	p.waitFor(`document.querySelector('[data-testid=turn-waiting]')?.textContent === 'Next in line for the model…'`, "erin moving up")
	p.screenshot("31-chat-next-in-line")

	c.Do("POST", "/v1/chat/turns/"+ginas+"/cancel", gina, nil, http.StatusAccepted, nil)
	p.waitFor(`document.querySelector('[data-testid=msg-assistant]')?.dataset.status === 'completed' && document.querySelector('[data-testid=answer]').textContent.includes('Tides follow the moon.')`, "erin's answer")
	p.waitFor(`!document.querySelector('[data-testid=turn-waiting]')`, "no place shown once answered")
	p.screenshot("32-chat-answered-after-waiting")
}
