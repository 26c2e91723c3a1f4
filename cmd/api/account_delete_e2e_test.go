package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/vector"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

// TestDeletingOnesOwnAccount: ann leaves and hands her document shared with the
// group to its admin, who keeps it, searchable, with the vectors saying so; cal
// leaves and takes his shared document with him. Both private documents go, and
// with every deleted document its vectors.
func TestDeletingOnesOwnAccount(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	lite, vs := vectortest.StartLite(t, t.TempDir())
	admin := "bootstrap-admin-key-for-account-delete-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_QDRANT_URL": "http://" + lite.Addr()})
	c := apitest.NewClient(t, base)
	ann, bea, cal := newUser(t, c, admin, "ann"), newUser(t, c, admin, "bea"), newUser(t, c, admin, "cal")
	ids := map[string]string{"ann": userIDOf(t, c, ann), "bea": userIDOf(t, c, bea), "cal": userIDOf(t, c, cal)}
	var group struct {
		ID string `json:"id"`
	}
	c.Do("POST", "/v1/groups", bea, map[string]any{"name": "harbour"}, http.StatusCreated, &group)
	for who, key := range map[string]string{"ann": ann, "cal": cal} {
		var invited struct {
			Invitation struct {
				ID string `json:"id"`
			} `json:"invitation"`
		}
		c.Do("POST", "/v1/groups/"+group.ID+"/members", bea, map[string]any{"user_id": ids[who]}, http.StatusAccepted, &invited)
		c.Do("POST", "/v1/me/invitations/"+invited.Invitation.ID+"/accept", key, nil, http.StatusOK, nil)
	}
	upload := func(key, name, text string, fields map[string]string) string {
		var out struct {
			Documents []document `json:"documents"`
		}
		c.Upload("/v1/documents", key, []apitest.File{{Name: name, Data: []byte(text)}}, fields, http.StatusAccepted, &out)
		require.Equal(t, "ready", waitFor(t, c, key, out.Documents[0].ID).Status)
		return out.Documents[0].ID
	}
	shared := map[string]string{"group_id": group.ID}
	annShared := upload(ann, "tides.txt", "The zephyrine tide tables of the harbour.\n", shared)
	annPrivate := upload(ann, "diary.txt", "Ann's quillwort diary, hers alone.\n", nil)
	calShared := upload(cal, "ropes.txt", "The marlinspike rope register of the harbour.\n", shared)
	points := func(doc string) int {
		pts, _, err := vs.Scroll(context.Background(), index.Alias, vector.MatchDocument(doc), vector.ScrollOptions{})
		require.NoError(t, err)
		return len(pts)
	}
	for _, doc := range []string{annShared, annPrivate, calShared} {
		require.NotZero(t, points(doc), "indexed before the deletions")
	}

	// Bad requests change nothing.
	c.Do("DELETE", "/v1/me", ann, nil, http.StatusBadRequest, nil)
	p := c.Do("DELETE", "/v1/me", ann, map[string]any{"shared_documents": "keep"}, http.StatusBadRequest, nil)
	require.Contains(t, p.Body, "shared_documents")
	c.Do("DELETE", "/v1/admin/users/"+ids["ann"]+"?shared_documents=keep", admin, nil, http.StatusBadRequest, nil)
	c.Do("GET", "/v1/me", ann, nil, http.StatusOK, nil)
	// The platform's only admin cannot leave it without one.
	c.Do("DELETE", "/v1/me", admin, map[string]any{"shared_documents": "delete"}, http.StatusConflict, nil)

	c.Do("DELETE", "/v1/me", ann, map[string]any{"shared_documents": "transfer"}, http.StatusAccepted, nil)
	c.Do("GET", "/v1/me", ann, nil, http.StatusUnauthorized, nil)
	var doc struct {
		OwnerID string `json:"owner_id"`
	}
	c.Do("GET", "/v1/documents/"+annShared, bea, nil, http.StatusOK, &doc)
	require.Equal(t, ids["bea"], doc.OwnerID, "the group's admin owns it now")
	c.Do("GET", "/v1/documents/"+annShared, cal, nil, http.StatusOK, nil)
	var found hits
	c.Do("POST", "/v1/search", cal, map[string]any{"query": "zephyrine tide"}, http.StatusOK, &found)
	require.NotEmpty(t, found.Hits)
	require.Equal(t, annShared, found.Hits[0].DocumentID)
	eventually(t, "the vectors of ann's shared document name bea as owner and ann's private ones are purged", func() bool {
		pts, _, err := vs.Scroll(context.Background(), index.Alias, vector.MatchDocument(annShared), vector.ScrollOptions{})
		require.NoError(t, err)
		for _, pt := range pts {
			if pt.Payload.OwnerID != ids["bea"] {
				return false
			}
		}
		return len(pts) > 0 && points(annPrivate) == 0
	})

	c.Do("DELETE", "/v1/me", cal, map[string]any{"shared_documents": "delete"}, http.StatusAccepted, nil)
	c.Do("GET", "/v1/documents/"+calShared, bea, nil, http.StatusNotFound, nil)
	c.Do("POST", "/v1/search", bea, map[string]any{"query": "marlinspike rope"}, http.StatusOK, &found)
	require.Empty(t, found.Hits)
	eventually(t, "the vectors of cal's shared document are purged", func() bool { return points(calShared) == 0 })

	var audit struct {
		Entries []struct {
			Action  string         `json:"action"`
			Details map[string]any `json:"details"`
		} `json:"entries"`
	}
	c.Do("GET", "/v1/admin/audit?action=user.delete_self", admin, nil, http.StatusOK, &audit)
	require.Len(t, audit.Entries, 2)
}

// eventually polls cond for up to 30 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
