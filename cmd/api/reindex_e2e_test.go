package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

type reindexJobJSON struct {
	ID       string         `json:"id"`
	Kind     string         `json:"kind"`
	Status   string         `json:"status"`
	Params   map[string]any `json:"params"`
	Result   map[string]any `json:"result"`
	Error    *string        `json:"error"`
	Progress struct {
		Total, Done, Failed int64
	} `json:"progress"`
}

func TestReindexJobsEndToEnd(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-reindex-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn"})
	c := apitest.NewClient(t, base)
	_, alice := groupsUser(t, c, admin, "alice")

	// Only admins know the routes exist.
	c.Do("POST", "/v1/admin/reindex", alice, map[string]any{"kind": "acl-sync"}, http.StatusNotFound, nil)
	c.Do("GET", "/v1/admin/reindex", alice, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/admin/reindex/00000000-0000-0000-0000-000000000000", alice, nil, http.StatusNotFound, nil)
	c.Do("POST", "/v1/admin/reindex/00000000-0000-0000-0000-000000000000/cancel", alice, nil, http.StatusNotFound, nil)
	c.Do("POST", "/v1/admin/reindex", "", map[string]any{"kind": "acl-sync"}, http.StatusUnauthorized, nil)

	requireProblemField(t, c.Do("POST", "/v1/admin/reindex", admin, map[string]any{"kind": "everything"}, http.StatusBadRequest, nil), "kind")
	requireProblemField(t, c.Do("POST", "/v1/admin/reindex", admin,
		map[string]any{"kind": "verify", "embed_model": "m"}, http.StatusBadRequest, nil), "embed_model")

	// The group migration gives admin and alice a personal group each.
	var j reindexJobJSON
	c.Do("POST", "/v1/admin/reindex", admin, map[string]any{"kind": "group-migration"}, http.StatusAccepted, &j)
	require.Equal(t, "group-migration", j.Kind)
	require.Equal(t, "queued", j.Status)
	deadline := time.Now().Add(20 * time.Second)
	for j.Status == "queued" || j.Status == "running" {
		require.True(t, time.Now().Before(deadline), "the job did not finish: %+v", j)
		time.Sleep(50 * time.Millisecond) // polling the job, as a client would
		c.Do("GET", "/v1/admin/reindex/"+j.ID, admin, nil, http.StatusOK, &j)
	}
	require.Equal(t, "completed", j.Status, "error: %v", j.Error)
	require.EqualValues(t, 2, j.Result["groups_created"])
	require.Equal(t, j.Progress.Total, j.Progress.Done)
	var me struct {
		Groups []struct{ Name, Role string } `json:"groups"`
	}
	c.Do("GET", "/v1/me", alice, nil, http.StatusOK, &me)
	require.Equal(t, []struct{ Name, Role string }{{"alice-personal", "admin"}}, me.Groups)

	var list struct {
		Jobs       []reindexJobJSON `json:"jobs"`
		NextCursor *string          `json:"next_cursor"`
	}
	c.Do("GET", "/v1/admin/reindex", admin, nil, http.StatusOK, &list)
	require.Len(t, list.Jobs, 1)
	require.Equal(t, j.ID, list.Jobs[0].ID)
	c.Do("POST", "/v1/admin/reindex/"+j.ID+"/cancel", admin, nil, http.StatusConflict, nil)

	var audit auditPage
	c.Do("GET", "/v1/admin/audit?action=reindex.start", admin, nil, http.StatusOK, &audit)
	require.Len(t, audit.Entries, 1)
	require.Equal(t, j.ID, audit.Entries[0].TargetID)
}
