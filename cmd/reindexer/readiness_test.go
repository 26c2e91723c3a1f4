package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
)

// TestReadyWhileTheModelServerIsDown: the reindexer's readiness reflects only what it
// needs to serve (database, NATS, vector store); a model server being down makes
// re-embeds wait, never takes the worker out of service.
func TestReadyWhileTheModelServerIsDown(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	addr := startWorker(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_NATS_URL": nats.URL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_DEV_QDRANT_ADDR": "127.0.0.1:0", "YW_DATA_DIR": t.TempDir(), "YW_LOG_LEVEL": "info", "YW_LOG_FORMAT": "json",
		"YW_OLLAMA_URL": llmtest.DeadURL(t), "YW_CHAT_MODEL": llmtest.ChatModel, "YW_EMBED_MODEL": llmtest.EmbedModel})
	resp, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		Status string `json:"status"`
		Checks map[string]struct {
			OK bool `json:"ok"`
		} `json:"checks"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "ok", body.Status)
	names := []string{}
	for name, check := range body.Checks {
		names = append(names, name)
		require.True(t, check.OK, name)
	}
	require.ElementsMatch(t, []string{"postgres", "nats", "vectors"}, names)
}
