package main

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/corpustest"
	"github.com/youworker/youworker/pkg/pgtest"
)

type document struct {
	ID         string            `json:"id"`
	Filename   string            `json:"filename"`
	MIME       string            `json:"mime"`
	Status     string            `json:"status"`
	ChunkCount int               `json:"chunk_count"`
	SHA256     string            `json:"sha256"`
	Duplicate  bool              `json:"duplicate"`
	Tags       []string          `json:"tags"`
	Error      map[string]string `json:"error"`
	Progress   map[string]int    `json:"progress"`
}

type hits struct {
	Hits []struct {
		DocumentID string `json:"document_id"`
		Filename   string `json:"filename"`
		Text       string `json:"text"`
	} `json:"hits"`
}

// waitFor polls a document until it leaves queued/processing.
func waitFor(t *testing.T, c *apitest.Client, key, id string) document {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var d document
		c.Do("GET", "/v1/documents/"+id, key, nil, http.StatusOK, &d)
		if d.Status == "ready" || d.Status == "failed" {
			return d
		}
		require.True(t, time.Now().Before(deadline), "document %s still %s", id, d.Status)
		time.Sleep(25 * time.Millisecond) // polling interval, as a client would
	}
}

func newUser(t *testing.T, c *apitest.Client, adminKey, name string) string {
	t.Helper()
	var created struct {
		Key string `json:"key"`
	}
	c.Do("POST", "/v1/admin/users", adminKey, map[string]any{"name": name}, http.StatusCreated, &created)
	return created.Key
}

func TestUploadPollSearchDeleteEndToEnd(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-documents-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_MAX_UPLOAD_BYTES": "200000"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")
	bob := newUser(t, c, admin, "bob")

	text := corpustest.Read(t, "fake-text.txt")
	readme := corpustest.Read(t, "sample-readme.md")
	var up struct {
		Documents []document `json:"documents"`
	}
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "fake-text.txt", Data: text}, {Name: "sample-readme.md", Data: readme}},
		map[string]string{"tags": "demo, handbook"}, http.StatusAccepted, &up)
	require.Len(t, up.Documents, 2)
	require.Equal(t, []string{"demo", "handbook"}, up.Documents[0].Tags)
	for _, d := range up.Documents {
		require.Contains(t, []string{"queued", "processing", "ready"}, d.Status)
		got := waitFor(t, c, alice, d.ID)
		require.Equal(t, "ready", got.Status, "%s: %+v", d.Filename, got.Error)
		require.Positive(t, got.ChunkCount)
		require.Equal(t, got.ChunkCount, got.Progress["chunks_done"])
	}
	require.Equal(t, "text/markdown", up.Documents[1].MIME)

	// The same bytes again are the same document, and no new job starts.
	var again struct {
		Documents []document `json:"documents"`
	}
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "renamed.txt", Data: text}}, nil, http.StatusAccepted, &again)
	require.True(t, again.Documents[0].Duplicate)
	require.Equal(t, up.Documents[0].ID, again.Documents[0].ID)

	// Search finds Alice's passage; Bob sees nothing of hers.
	var found hits
	c.Do("POST", "/v1/search", alice, map[string]any{"query": "hamburgers delicious"}, http.StatusOK, &found)
	require.NotEmpty(t, found.Hits)
	require.Equal(t, up.Documents[0].ID, found.Hits[0].DocumentID)
	require.Contains(t, found.Hits[0].Text, "Hamburgers are delicious")
	c.Do("POST", "/v1/search", bob, map[string]any{"query": "hamburgers delicious"}, http.StatusOK, &found)
	require.Empty(t, found.Hits)
	c.Do("GET", "/v1/documents/"+up.Documents[0].ID, bob, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/documents/"+up.Documents[0].ID+"/content", bob, nil, http.StatusNotFound, nil)
	c.Do("DELETE", "/v1/documents/"+up.Documents[0].ID, bob, nil, http.StatusNotFound, nil)
	c.Do("POST", "/v1/search", alice, map[string]any{"query": ""}, http.StatusBadRequest, nil)
	c.Do("POST", "/v1/search", alice, map[string]any{"query": "x", "limit": 51}, http.StatusBadRequest, nil)

	// The original bytes come back.
	resp := c.Send(c.Request("GET", "/v1/documents/"+up.Documents[0].ID+"/content", alice, nil), http.StatusOK, nil)
	require.Equal(t, string(text), resp.Body)
	require.Contains(t, resp.Header.Get("Content-Disposition"), "fake-text.txt")

	// Bad uploads store nothing, even when other parts are fine.
	var list struct {
		Documents []document `json:"documents"`
	}
	c.Do("GET", "/v1/documents", alice, nil, http.StatusOK, &list)
	before := len(list.Documents)
	zip := corpustest.Read(t, "simple.zip")
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "ok.txt", Data: []byte("fine text here")}, {Name: "simple.zip", Data: zip}}, nil, http.StatusUnsupportedMediaType, nil)
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "big.txt", Data: bytes.Repeat([]byte("word "), 50000)}}, nil, http.StatusRequestEntityTooLarge, nil)
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "ok.txt", Data: []byte("fine text")}}, map[string]string{"group_id": "00000000-0000-0000-0000-000000000001"}, http.StatusNotFound, nil)
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "ok.txt", Data: []byte("fine text")}}, map[string]string{"private": "maybe"}, http.StatusBadRequest, nil)
	c.Upload("/v1/documents", alice, nil, nil, http.StatusBadRequest, nil)
	c.Do("GET", "/v1/documents", alice, nil, http.StatusOK, &list)
	require.Len(t, list.Documents, before, "a rejected upload stores nothing")

	// A document with no text fails with a reason; retry works only on failed documents.
	var empty struct {
		Documents []document `json:"documents"`
	}
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "blank.txt", Data: []byte("   \n\n  ")}}, nil, http.StatusAccepted, &empty)
	failed := waitFor(t, c, alice, empty.Documents[0].ID)
	require.Equal(t, "failed", failed.Status)
	require.Equal(t, "empty", failed.Error["code"])
	c.Do("POST", "/v1/documents/"+failed.ID+"/retry", alice, nil, http.StatusAccepted, nil)
	require.Equal(t, "failed", waitFor(t, c, alice, failed.ID).Status)
	c.Do("POST", "/v1/documents/"+up.Documents[1].ID+"/retry", alice, nil, http.StatusConflict, nil)

	// Filters and paging.
	c.Do("GET", "/v1/documents?status=failed", alice, nil, http.StatusOK, &list)
	require.Len(t, list.Documents, 1)
	c.Do("GET", "/v1/documents?status=bogus", alice, nil, http.StatusBadRequest, nil)

	// Delete: gone from get, list and search at once.
	c.Do("DELETE", "/v1/documents/"+up.Documents[0].ID, alice, nil, http.StatusAccepted, nil)
	c.Do("GET", "/v1/documents/"+up.Documents[0].ID, alice, nil, http.StatusNotFound, nil)
	c.Do("DELETE", "/v1/documents/"+up.Documents[0].ID, alice, nil, http.StatusNotFound, nil)
	c.Do("POST", "/v1/search", alice, map[string]any{"query": "hamburgers delicious"}, http.StatusOK, &found)
	for _, h := range found.Hits {
		require.NotEqual(t, up.Documents[0].ID, h.DocumentID)
	}
	// Uploading the deleted bytes again makes a new document.
	var fresh struct {
		Documents []document `json:"documents"`
	}
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "fake-text.txt", Data: text}}, nil, http.StatusAccepted, &fresh)
	require.False(t, fresh.Documents[0].Duplicate)
	require.NotEqual(t, up.Documents[0].ID, fresh.Documents[0].ID)
	require.Equal(t, "ready", waitFor(t, c, alice, fresh.Documents[0].ID).Status)
}
