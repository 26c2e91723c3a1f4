package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

type groupJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	MemberCount int       `json:"member_count"`
	Role        string    `json:"role"`
	CreatedAt   time.Time `json:"created_at"`
	Members     []struct {
		UserID string `json:"user_id"`
		Name   string `json:"name"`
		Role   string `json:"role"`
	} `json:"members"`
}

type memberJSON struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Role   string `json:"role"`
}

type problemJSON struct {
	Code   string `json:"code"`
	Errors []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

type auditPage struct {
	Entries []struct {
		ID       int64          `json:"id"`
		ActorID  *string        `json:"actor_id"`
		Action   string         `json:"action"`
		TargetID string         `json:"target_id"`
		Outcome  string         `json:"outcome"`
		Details  map[string]any `json:"details"`
	} `json:"entries"`
	NextCursor *string `json:"next_cursor"`
}

// groupsUser creates a user through the admin API and returns their id and key.
func groupsUser(t *testing.T, c *apitest.Client, adminKey, name string) (id, key string) {
	t.Helper()
	var created struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Key string `json:"key"`
	}
	c.Do("POST", "/v1/admin/users", adminKey, map[string]any{"name": name}, http.StatusCreated, &created)
	return created.User.ID, created.Key
}

func requireProblemField(t *testing.T, resp apitest.Response, field string) {
	t.Helper()
	var p problemJSON
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &p))
	require.NotEmpty(t, p.Errors, resp.Body)
	require.Equal(t, field, p.Errors[0].Field, resp.Body)
}

// TestGroupsAndAuditEndToEnd runs with direct adds (YW_GROUP_DIRECT_ADD), the
// operator's choice; TestInvitationsEndToEnd covers the default, invitations.
func TestGroupsAndAuditEndToEnd(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-groups-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_GROUP_DIRECT_ADD": "true"})
	c := apitest.NewClient(t, base)
	aliceID, alice := groupsUser(t, c, admin, "alice")
	bobID, bob := groupsUser(t, c, admin, "bob")
	carolID, carol := groupsUser(t, c, admin, "carol")

	// Alice creates a group and is its admin.
	var g groupJSON
	c.Do("POST", "/v1/groups", alice, map[string]any{"name": "Research", "description": "papers"}, http.StatusCreated, &g)
	require.Equal(t, "Research", g.Name)
	require.Equal(t, "papers", g.Description)
	require.Equal(t, "admin", g.Role)
	require.Equal(t, 1, g.MemberCount)
	gp := "/v1/groups/" + g.ID

	// Names are unique ignoring case; bad fields are named.
	c.Do("POST", "/v1/groups", bob, map[string]any{"name": "RESEARCH"}, http.StatusConflict, nil)
	requireProblemField(t, c.Do("POST", "/v1/groups", alice, map[string]any{"name": ""}, http.StatusBadRequest, nil), "name")
	requireProblemField(t, c.Do("POST", "/v1/groups", alice, map[string]any{"name": strings.Repeat("n", 101)}, http.StatusBadRequest, nil), "name")
	requireProblemField(t, c.Do("POST", "/v1/groups", alice,
		map[string]any{"name": "ok", "description": strings.Repeat("d", 2001)}, http.StatusBadRequest, nil), "description")
	requireProblemField(t, c.Do("POST", "/v1/groups", alice, map[string]any{"name": 7}, http.StatusBadRequest, nil), "name")

	// Lists hold only the caller's groups; outsiders get 404 for everything about it.
	var list struct {
		Groups []groupJSON `json:"groups"`
	}
	c.Do("GET", "/v1/groups", alice, nil, http.StatusOK, &list)
	require.Len(t, list.Groups, 1)
	c.Do("GET", "/v1/groups", bob, nil, http.StatusOK, &list)
	require.Empty(t, list.Groups)
	c.Do("GET", gp, bob, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/groups/not-a-uuid", alice, nil, http.StatusNotFound, nil)
	c.Do("PATCH", gp, bob, map[string]any{"name": "Mine"}, http.StatusNotFound, nil)
	c.Do("DELETE", gp, bob, nil, http.StatusNotFound, nil)
	c.Do("POST", gp+"/members", bob, map[string]any{"user_id": bobID}, http.StatusNotFound, nil)
	c.Do("DELETE", gp+"/members/"+aliceID, bob, nil, http.StatusNotFound, nil)
	c.Do("GET", "/v1/groups", "", nil, http.StatusUnauthorized, nil)

	// Alice adds bob by name and carol by id.
	var m memberJSON
	c.Do("POST", gp+"/members", alice, map[string]any{"name": "bob"}, http.StatusCreated, &m)
	require.Equal(t, memberJSON{UserID: bobID, Name: "bob", Role: "member"}, m)
	c.Do("POST", gp+"/members", alice, map[string]any{"user_id": carolID, "role": "member"}, http.StatusCreated, &m)
	require.Equal(t, "carol", m.Name)
	c.Do("POST", gp+"/members", alice, map[string]any{"user_id": bobID}, http.StatusConflict, nil)
	c.Do("POST", gp+"/members", alice, map[string]any{"name": "nobody"}, http.StatusNotFound, nil)
	requireProblemField(t, c.Do("POST", gp+"/members", alice, map[string]any{"name": "dave", "role": "owner"}, http.StatusBadRequest, nil), "role")
	requireProblemField(t, c.Do("POST", gp+"/members", alice, map[string]any{}, http.StatusBadRequest, nil), "user_id")

	// Bob now sees the group and its members, and /v1/me lists it at once.
	c.Do("GET", gp, bob, nil, http.StatusOK, &g)
	require.Equal(t, "member", g.Role)
	require.Equal(t, 3, g.MemberCount)
	require.Len(t, g.Members, 3)
	var me struct {
		Groups []struct{ ID, Name, Role string } `json:"groups"`
	}
	c.Do("GET", "/v1/me", bob, nil, http.StatusOK, &me)
	require.Equal(t, []struct{ ID, Name, Role string }{{g.ID, "Research", "member"}}, me.Groups)

	// A member who is not a group admin is refused admin actions with 403.
	c.Do("PATCH", gp, bob, map[string]any{"name": "Bob's"}, http.StatusForbidden, nil)
	c.Do("DELETE", gp, bob, nil, http.StatusForbidden, nil)
	c.Do("POST", gp+"/members", bob, map[string]any{"name": "admin"}, http.StatusForbidden, nil)
	c.Do("PATCH", gp+"/members/"+bobID, bob, map[string]any{"role": "admin"}, http.StatusForbidden, nil)
	c.Do("DELETE", gp+"/members/"+carolID, bob, nil, http.StatusForbidden, nil)

	// Alice renames the group and promotes bob, who can then manage it.
	c.Do("PATCH", gp, alice, map[string]any{"name": "Research Lab"}, http.StatusOK, &g)
	require.Equal(t, "Research Lab", g.Name)
	require.Equal(t, "papers", g.Description)
	requireProblemField(t, c.Do("PATCH", gp, alice, map[string]any{}, http.StatusBadRequest, nil), "body")
	c.Do("PATCH", gp+"/members/"+bobID, alice, map[string]any{"role": "admin"}, http.StatusOK, &m)
	require.Equal(t, "admin", m.Role)
	requireProblemField(t, c.Do("PATCH", gp+"/members/"+bobID, alice, map[string]any{"role": "boss"}, http.StatusBadRequest, nil), "role")
	c.Do("PATCH", gp+"/members/"+aliceID[:8], alice, map[string]any{"role": "member"}, http.StatusNotFound, nil)
	c.Do("PATCH", gp, bob, map[string]any{"description": "papers and code"}, http.StatusOK, &g)
	require.Equal(t, "papers and code", g.Description)

	// Alice shares a document with the group: members see it, outsiders do not.
	var up struct {
		Documents []struct {
			ID string `json:"id"`
		} `json:"documents"`
	}
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "plan.txt", Data: []byte("The research plan for the next quarter.\n")}},
		map[string]string{"group_id": g.ID}, http.StatusAccepted, &up)
	require.Len(t, up.Documents, 1)
	docPath := "/v1/documents/" + up.Documents[0].ID
	c.Do("GET", docPath, carol, nil, http.StatusOK, nil)

	// Alice leaves (bob is an admin too); carol leaves and loses the document at once.
	c.Do("DELETE", gp+"/members/"+aliceID, alice, nil, http.StatusNoContent, nil)
	c.Do("GET", gp, alice, nil, http.StatusNotFound, nil)
	c.Do("POST", gp+"/members", bob, map[string]any{"user_id": aliceID}, http.StatusCreated, nil)
	c.Do("DELETE", gp+"/members/"+carolID, carol, nil, http.StatusNoContent, nil)
	c.Do("GET", docPath, carol, nil, http.StatusNotFound, nil)
	c.Do("POST", gp+"/members", bob, map[string]any{"user_id": carolID}, http.StatusCreated, nil)

	// The last admin can be neither demoted nor removed, nor leave.
	c.Do("PATCH", gp+"/members/"+bobID, bob, map[string]any{"role": "member"}, http.StatusConflict, nil)
	c.Do("DELETE", gp+"/members/"+bobID, bob, nil, http.StatusConflict, nil)
	c.Do("DELETE", gp+"/members/"+carolID, bob, nil, http.StatusNoContent, nil)

	// Deleting the group returns its documents to their owner alone.
	c.Do("GET", docPath, bob, nil, http.StatusOK, nil)
	c.Do("DELETE", gp, bob, nil, http.StatusNoContent, nil)
	c.Do("GET", gp, bob, nil, http.StatusNotFound, nil)
	c.Do("DELETE", gp, bob, nil, http.StatusNotFound, nil)
	c.Do("GET", docPath, bob, nil, http.StatusNotFound, nil)
	var doc struct {
		GroupID *string `json:"group_id"`
		Private bool    `json:"private"`
	}
	c.Do("GET", docPath, alice, nil, http.StatusOK, &doc)
	require.Nil(t, doc.GroupID)
	require.False(t, doc.Private)
	c.Do("GET", "/v1/groups", alice, nil, http.StatusOK, &list)
	require.Empty(t, list.Groups)

	// The audit log: admins only, newest first, filtered, paged, with the denials.
	c.Do("GET", "/v1/admin/audit", alice, nil, http.StatusNotFound, nil)
	var page auditPage
	c.Do("GET", "/v1/admin/audit?action=group.delete", admin, nil, http.StatusOK, &page)
	require.Len(t, page.Entries, 2, "bob's refused attempt and his deletion")
	require.Equal(t, "success", page.Entries[0].Outcome)
	require.Equal(t, "denied", page.Entries[1].Outcome)
	require.Equal(t, g.ID, page.Entries[0].TargetID)
	require.Equal(t, bobID, *page.Entries[0].ActorID)
	require.EqualValues(t, 1, page.Entries[0].Details["documents_unshared"])
	require.Nil(t, page.NextCursor)

	var actions []string
	q := "/v1/admin/audit?limit=3&actor=" + bobID
	for pages := 0; ; pages++ {
		require.Less(t, pages, 20)
		c.Do("GET", q, admin, nil, http.StatusOK, &page)
		require.LessOrEqual(t, len(page.Entries), 3)
		for i, e := range page.Entries {
			require.Equal(t, bobID, *e.ActorID)
			if i > 0 {
				require.Less(t, e.ID, page.Entries[i-1].ID, "newest first")
			}
			actions = append(actions, e.Action+":"+e.Outcome)
		}
		if page.NextCursor == nil {
			break
		}
		q = "/v1/admin/audit?limit=3&actor=" + bobID + "&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	require.Equal(t, []string{
		"group.delete:success", "member.remove:success", "member.add:success", "member.add:success",
		"group.update:success", "member.remove:denied", "member.role:denied", "member.add:denied",
		"group.delete:denied", "group.update:denied",
	}, actions, "bob's actions, newest first, denials included")
	c.Do("GET", "/v1/admin/audit?actor="+carolID+"&action=member.leave", admin, nil, http.StatusOK, &page)
	require.Len(t, page.Entries, 1)
	c.Do("GET", "/v1/admin/audit?action=admin.denied", admin, nil, http.StatusOK, &page)
	require.Len(t, page.Entries, 1, "alice's look at the audit log was recorded")

	since := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	c.Do("GET", "/v1/admin/audit?since="+since, admin, nil, http.StatusOK, &page)
	require.Empty(t, page.Entries)
	requireProblemField(t, c.Do("GET", "/v1/admin/audit?since=yesterday", admin, nil, http.StatusBadRequest, nil), "since")
	requireProblemField(t, c.Do("GET", "/v1/admin/audit?cursor=nope", admin, nil, http.StatusBadRequest, nil), "cursor")
	requireProblemField(t, c.Do("GET", "/v1/admin/audit?limit=0", admin, nil, http.StatusBadRequest, nil), "limit")
}
