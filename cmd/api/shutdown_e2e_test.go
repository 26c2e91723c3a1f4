package main

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// TestGracefulShutdownWithAnOpenStream stops the program while a client follows a
// slow turn: the stream is closed (the client would resume elsewhere with
// Last-Event-ID), in-flight work is drained, and the process exits 0 well within 10 s.
func TestGracefulShutdownWithAnOpenStream(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	model := llmtest.New(t)
	tokens := make([]string, 200)
	for i := range tokens {
		tokens[i] = "word "
	}
	model.Reply(llmtest.Script{Tokens: tokens, TokenDelay: 50 * time.Millisecond})
	admin := "bootstrap-admin-key-for-shutdown-test"
	base, stop := launchAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error",
		"YW_OLLAMA_URL": model.URL, "YW_CHAT_MODEL": llmtest.ChatModel})
	c := apitest.NewClient(t, base)
	var sent struct {
		Turn map[string]any `json:"turn"`
	}
	var sess map[string]any
	c.Do("POST", "/v1/chat/sessions", admin, nil, http.StatusCreated, &sess)
	c.Do("POST", "/v1/chat/sessions/"+sess["id"].(string)+"/messages", admin, map[string]any{"content": "talk slowly", "tools": false}, http.StatusAccepted, &sent)

	req, err := http.NewRequest("GET", base+"/v1/chat/turns/"+sent.Turn["id"].(string)+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "event: token") {
	}
	closed := make(chan struct{})
	go func() {
		for sc.Scan() {
		}
		close(closed)
	}()

	took := stop()
	require.Less(t, took, 10*time.Second)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream was not closed by the shutdown")
	}
}
