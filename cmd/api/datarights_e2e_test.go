package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// TestExportAndPurgeOfOnesOwnData: a user takes everything they own away as a zip
// (their document as uploaded, their chat with its citations) and nothing of
// anybody else's; then erases their chat history, and only theirs.
func TestExportAndPurgeOfOnesOwnData(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-data-rights-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn"})
	c := apitest.NewClient(t, base)
	ivy, jon := newUser(t, c, admin, "ivy"), newUser(t, c, admin, "jon")

	tides := []byte("The harbour master keeps the tide tables for every pier.\n")
	doc, _ := uploadOne(t, c, ivy, "../tides/harbour.txt", tides, http.StatusAccepted)
	require.Equal(t, "ready", waitFor(t, c, ivy, doc.ID).Status)
	other, _ := uploadOne(t, c, jon, "jon.txt", []byte("Jon's own notes about lighthouses.\n"), http.StatusAccepted)
	require.Equal(t, "ready", waitFor(t, c, jon, other.ID).Status)
	var sent struct {
		SessionID string `json:"session_id"`
		Turn      struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"turn"`
	}
	c.Do("POST", "/v1/chat/send", ivy, map[string]any{"content": "Who keeps the tide tables?"}, http.StatusOK, &sent)
	require.Equal(t, "completed", sent.Turn.Status)
	var jonsChat struct {
		SessionID string `json:"session_id"`
	}
	c.Do("POST", "/v1/chat/send", jon, map[string]any{"content": "Where are the lighthouses?"}, http.StatusOK, &jonsChat)
	// Ivy's rating of the answer goes with her data.
	c.Do("POST", "/v1/chat/turns/"+sent.Turn.ID+"/feedback", ivy, map[string]any{"rating": "up", "comment": "Exactly what I needed."}, http.StatusNoContent, nil)

	resp := c.Do("GET", "/v1/me/export", ivy, nil, http.StatusOK, nil)
	require.Equal(t, "application/zip", resp.Header.Get("Content-Type"))
	require.Contains(t, resp.Header.Get("Content-Disposition"), `attachment; filename="youworker-export-`)
	zr, err := zip.NewReader(bytes.NewReader([]byte(resp.Body)), int64(len(resp.Body)))
	require.NoError(t, err)
	files := map[string][]byte{}
	for _, f := range zr.File {
		require.False(t, strings.Contains(f.Name, ".."), "every file stays inside the archive: %s", f.Name)
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		files[f.Name] = b
	}
	var manifest struct {
		Format string `json:"format"`
		User   struct {
			Name string `json:"name"`
		} `json:"user"`
		Documents []struct {
			ID     string `json:"id"`
			SHA256 string `json:"sha256"`
			File   string `json:"file"`
		} `json:"documents"`
		Chats []struct {
			ID   string `json:"id"`
			File string `json:"file"`
		} `json:"chats"`
	}
	require.NoError(t, json.Unmarshal(files["manifest.json"], &manifest))
	require.Equal(t, "youworker-export-1", manifest.Format)
	require.Equal(t, "ivy", manifest.User.Name)
	require.Len(t, manifest.Documents, 1, "ivy's document and not jon's")
	require.Equal(t, doc.ID, manifest.Documents[0].ID)
	require.Equal(t, tides, files[manifest.Documents[0].File], "the document as uploaded")
	require.Len(t, manifest.Chats, 1)
	require.Equal(t, sent.SessionID, manifest.Chats[0].ID)
	var chat struct {
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
			Turn    *struct {
				ID        string `json:"id"`
				Answer    string `json:"answer"`
				Citations []struct {
					DocumentID string `json:"document_id"`
				} `json:"citations"`
				Feedback *struct {
					Rating  string `json:"rating"`
					Comment string `json:"comment"`
				} `json:"feedback"`
			} `json:"turn"`
		} `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(files[manifest.Chats[0].File], &chat))
	require.NotEmpty(t, chat.Messages)
	q := chat.Messages[0]
	require.Equal(t, "Who keeps the tide tables?", q.Content)
	require.NotNil(t, q.Turn)
	require.Equal(t, sent.Turn.ID, q.Turn.ID)
	require.NotEmpty(t, q.Turn.Answer)
	require.NotEmpty(t, q.Turn.Citations)
	require.Equal(t, doc.ID, q.Turn.Citations[0].DocumentID)
	require.NotNil(t, q.Turn.Feedback, "the rating is exported")
	require.Equal(t, "up", q.Turn.Feedback.Rating)
	require.Equal(t, "Exactly what I needed.", q.Turn.Feedback.Comment)
	for name, b := range files {
		require.NotContains(t, string(b), "lighthouses", "nothing of jon's in %s", name)
	}

	// An admin may take the same export of anyone; nobody else may, not even of
	// themselves through the admin route.
	byAdmin := c.Do("GET", "/v1/admin/users/"+userIDOf(t, c, ivy)+"/export", admin, nil, http.StatusOK, nil)
	require.Contains(t, readArchiveFile(t, byAdmin.Body, "manifest.json"), doc.ID)
	c.Do("GET", "/v1/admin/users/"+userIDOf(t, c, ivy)+"/export", jon, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/admin/users/"+userIDOf(t, c, ivy)+"/export", ivy, nil, http.StatusNotFound, nil)
	p := c.Do("GET", "/v1/admin/users/00000000-0000-0000-0000-000000000000/export", admin, nil, http.StatusNotFound, nil)
	require.Contains(t, p.Header.Get("Content-Type"), "problem+json")

	// Erasing the history: ivy's chats go, jon's stay.
	c.Do("DELETE", "/v1/me/chat/sessions", ivy, nil, http.StatusNoContent, nil)
	var list struct {
		Sessions []any `json:"sessions"`
	}
	c.Do("GET", "/v1/chat/sessions", ivy, nil, http.StatusOK, &list)
	require.Empty(t, list.Sessions)
	c.Do("GET", "/v1/chat/sessions/"+sent.SessionID, ivy, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/chat/sessions/"+jonsChat.SessionID, jon, nil, http.StatusOK, nil)
	c.Do("DELETE", "/v1/me/chat/sessions", ivy, nil, http.StatusNoContent, nil) // twice is once
	// An admin may erase anyone's; jon may not erase ivy's.
	c.Do("DELETE", "/v1/admin/users/"+userIDOf(t, c, jon)+"/chat/sessions", ivy, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/chat/sessions/"+jonsChat.SessionID, jon, nil, http.StatusOK, nil)
	c.Do("DELETE", "/v1/admin/users/"+userIDOf(t, c, jon)+"/chat/sessions", admin, nil, http.StatusNoContent, nil)
	c.Do("GET", "/v1/chat/sessions/"+jonsChat.SessionID, jon, nil, http.StatusNotFound, nil)

	// Both are in the audit log.
	var audit struct {
		Entries []struct {
			Action string `json:"action"`
		} `json:"entries"`
	}
	c.Do("GET", "/v1/admin/audit?limit=100", admin, nil, http.StatusOK, &audit)
	var actions []string
	for _, e := range audit.Entries {
		actions = append(actions, e.Action)
	}
	require.Contains(t, actions, "user.export")
	require.Contains(t, actions, "chat.purge")

	c.Do("GET", "/v1/me/export", "", nil, http.StatusUnauthorized, nil)
}

// userIDOf is the id of the user whose key is key.
func userIDOf(t *testing.T, c *apitest.Client, key string) string {
	t.Helper()
	var me struct {
		ID string `json:"id"`
	}
	c.Do("GET", "/v1/me", key, nil, http.StatusOK, &me)
	return me.ID
}
