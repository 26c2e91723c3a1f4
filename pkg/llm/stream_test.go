package llm_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
)

func TestChatLongLineIsRead(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	long := strings.Repeat("x", 200<<10) // far beyond the reader's initial buffer
	srv.Reply(llmtest.Text("a", long, "b"))
	o := newOllama(t, srv.URL, nil)

	var c collect
	resp, err := o.Chat(t.Context(), llm.Request{Messages: userTurn("q")}, c.on)
	require.NoError(t, err)
	require.Equal(t, "a"+long+"b", resp.Message.Content)
	require.Equal(t, "a"+long+"b", c.content())
}

// rawServer answers /api/chat with a fixed status and body, counting requests.
func rawServer(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

const doneLine = `{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":2}` + "\n"

func TestChatStreamEdgeCases(t *testing.T) {
	t.Parallel()
	chunk := func(s string) string {
		return `{"model":"m","message":{"role":"assistant","content":"` + s + `"},"done":false}` + "\n"
	}
	tests := []struct {
		name     string
		status   int
		body     string
		content  string // on success
		errIs    error  // on failure
		errHas   string
		attempts int32
	}{
		{name: "blank lines and a last line without newline", status: 200,
			body: chunk("Hi") + "\n\r\n" + chunk(" there") + strings.TrimSuffix(doneLine, "\n"), content: "Hi there", attempts: 1},
		{name: "error line before any delta", status: 200,
			body: `{"error":"model requires more system memory"}` + "\n", errHas: "more system memory", attempts: 1},
		{name: "error line after a delta", status: 200,
			body: chunk("Hi") + `{"error":"runner crashed"}` + "\n", errIs: llm.ErrUnavailable, errHas: "runner crashed", attempts: 1},
		{name: "model not found in the stream", status: 200,
			body: `{"error":"model 'x' not found"}` + "\n", errIs: llm.ErrModelNotFound, attempts: 1},
		{name: "bare text error line", status: 200,
			body: "something broke\n", errHas: "something broke", attempts: 1},
		{name: "no done chunk is retried", status: 200,
			body: "", errIs: llm.ErrUnavailable, errHas: "final chunk", attempts: 4},
		{name: "error status with JSON body", status: http.StatusBadRequest,
			body: `{"error":"invalid options"}`, errHas: "invalid options", attempts: 1},
		{name: "error status with text body", status: http.StatusBadRequest,
			body: "bad request\n", errHas: "bad request", attempts: 1},
		{name: "not found status without body", status: http.StatusNotFound,
			errIs: llm.ErrModelNotFound, attempts: 1},
		{name: "unauthorized is not retried", status: http.StatusUnauthorized,
			body: `{"error":"unauthorized"}`, errHas: "401", attempts: 1},
		{name: "server error is retried", status: http.StatusBadGateway,
			body: `{"error":"upstream"}`, errIs: llm.ErrUnavailable, errHas: "upstream", attempts: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, n := rawServer(t, tc.status, tc.body)
			o := newOllama(t, srv.URL, nil)
			var c collect
			resp, err := o.Chat(t.Context(), llm.Request{Messages: userTurn("q")}, c.on)
			require.Equal(t, tc.attempts, n.Load(), "attempts")
			if tc.errIs == nil && tc.errHas == "" {
				require.NoError(t, err)
				require.Equal(t, tc.content, resp.Message.Content)
				require.Equal(t, tc.content, c.content())
				require.Equal(t, llm.Usage{PromptTokens: 3, CompletionTokens: 2}, resp.Usage)
				return
			}
			require.Error(t, err)
			if tc.errIs != nil {
				require.ErrorIs(t, err, tc.errIs)
			}
			if tc.errHas != "" {
				require.ErrorContains(t, err, tc.errHas)
			}
		})
	}
}
