package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// TestQuotaFullUploadStoreKeepsChatWorking: the uploads object store has a cap of its
// own. Filling it makes uploads fail clearly with 507 storage_full, while chat turns,
// whose events live in the same JetStream storage, still complete; deleting documents
// makes room again once their bytes are purged.
func TestQuotaFullUploadStoreKeepsChatWorking(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-upload-store-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error", "YW_RATE_LIMIT_RPS": "1000", "YW_RATE_LIMIT_BURST": "1000",
		"YW_UPLOAD_STORE_BYTES": "1048576", "YW_MAX_UPLOAD_BYTES": "200000", "YW_CHAT_BACKEND": "extractive"})
	c := apitest.NewClient(t, base)
	k := loadContract(t, base)
	erin := newUser(t, c, admin, "erin")
	frank := newUser(t, c, admin, "frank")

	// Erin fills the store (1 MiB) with 150 KB files until it refuses one.
	var stored []document
	for i := 0; ; i++ {
		require.Less(t, i, 10, "a 1 MiB store cannot take ten 150 KB files")
		data := textOf(150_000, fmt.Sprintf("ledger%02d", i))
		var out struct {
			Documents []document `json:"documents"`
		}
		status, body := uploadAny(t, k, base, erin, fmt.Sprintf("ledger-%d.txt", i), data)
		if status == http.StatusInsufficientStorage {
			require.Contains(t, body, `"code":"storage_full"`)
			require.Contains(t, body, "nothing of this upload was stored")
			break
		}
		require.Equal(t, http.StatusAccepted, status, body)
		require.NoError(t, json.Unmarshal([]byte(body), &out))
		stored = append(stored, out.Documents[0])
	}
	require.Len(t, stored, 6)
	// Everyone's uploads are refused while it is full, and clearly so.
	resp := c.Upload("/v1/documents", frank, []apitest.File{{Name: "note.txt", Data: textOf(150_000, "note")}}, nil, http.StatusInsufficientStorage, nil)
	require.Contains(t, resp.Body, "storage_full")

	// Chat still works for everyone: a turn (extractive, no model) completes.
	for _, d := range stored {
		require.Equal(t, "ready", waitFor(t, c, erin, d.ID).Status)
	}
	var sent struct {
		Turn struct {
			Status    string `json:"status"`
			Answer    string `json:"answer"`
			Citations []struct {
				DocumentID string `json:"document_id"`
			} `json:"citations"`
		} `json:"turn"`
	}
	c.Do("POST", "/v1/chat/send", erin, map[string]any{"content": "ledger03"}, http.StatusOK, &sent)
	require.Equal(t, "completed", sent.Turn.Status)
	require.NotEmpty(t, sent.Turn.Citations, "the answer cites the stored documents")
	c.Do("POST", "/v1/chat/send", frank, map[string]any{"content": "hello"}, http.StatusOK, &sent)
	require.Equal(t, "completed", sent.Turn.Status)

	// Deleting a document makes room once the purge job has removed its bytes.
	c.Do("DELETE", "/v1/documents/"+stored[0].ID, erin, nil, http.StatusAccepted, nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := uploadAny(t, k, base, frank, "note.txt", textOf(150_000, "note"))
		if status == http.StatusAccepted {
			break
		}
		require.Equal(t, http.StatusInsufficientStorage, status, body)
		require.True(t, time.Now().Before(deadline), "the deleted document's bytes were never purged")
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// uploadAny uploads one file and returns whatever the API answers, checked against
// the contract.
func uploadAny(t *testing.T, k *contract, base, key, name string, data []byte) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile("file", name)
	require.NoError(t, err)
	_, err = part.Write(data)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	req, err := http.NewRequest("POST", base+"/v1/documents", &buf)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	k.check(t, req, resp, body)
	return resp.StatusCode, string(body)
}
