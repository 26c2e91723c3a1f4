package main

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

type invitationJSON struct {
	ID            string  `json:"id"`
	GroupID       string  `json:"group_id"`
	GroupName     string  `json:"group_name"`
	UserID        string  `json:"user_id"`
	UserName      string  `json:"user_name"`
	Role          string  `json:"role"`
	InvitedBy     *string `json:"invited_by"`
	InvitedByName *string `json:"invited_by_name"`
}

type invitationsJSON struct {
	Invitations []invitationJSON `json:"invitations"`
}

// invite asks a user into a group the way a group admin does by default, and
// returns the invitation.
func invite(t *testing.T, c *apitest.Client, groupID, adminKey string, body map[string]any) invitationJSON {
	t.Helper()
	var out struct {
		Invitation invitationJSON `json:"invitation"`
	}
	c.Do("POST", "/v1/groups/"+groupID+"/members", adminKey, body, http.StatusAccepted, &out)
	return out.Invitation
}

// join makes a user a member of a group as the default deployment does: the group
// admin invites, the user accepts.
func join(t *testing.T, c *apitest.Client, groupID, adminKey, userID, userKey string) {
	t.Helper()
	inv := invite(t, c, groupID, adminKey, map[string]any{"user_id": userID})
	c.Do("POST", "/v1/me/invitations/"+inv.ID+"/accept", userKey, nil, http.StatusOK, nil)
}

func TestInvitationsEndToEnd(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-invitations-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn"})
	c := apitest.NewClient(t, base)
	aliceID, alice := groupsUser(t, c, admin, "alice")
	bobID, bob := groupsUser(t, c, admin, "bob")
	carolID, carol := groupsUser(t, c, admin, "carol")

	var g groupJSON
	c.Do("POST", "/v1/groups", alice, map[string]any{"name": "Research"}, http.StatusCreated, &g)
	gp := "/v1/groups/" + g.ID
	var up struct {
		Documents []struct{ ID string } `json:"documents"`
	}
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "plan.txt", Data: []byte("The quarterly research plan.\n")}},
		map[string]string{"group_id": g.ID}, http.StatusAccepted, &up)
	docPath := "/v1/documents/" + up.Documents[0].ID

	// Adding bob invites him: nothing is granted yet.
	inv := invite(t, c, g.ID, alice, map[string]any{"name": "bob", "role": "admin"})
	require.Equal(t, invitationJSON{ID: inv.ID, GroupID: g.ID, GroupName: "Research", UserID: bobID, UserName: "bob", Role: "admin",
		InvitedBy: &aliceID, InvitedByName: ptrTo("alice")}, inv)
	c.Do("GET", gp, bob, nil, http.StatusNotFound, nil)
	c.Do("GET", docPath, bob, nil, http.StatusNotFound, nil)
	c.Do("GET", gp, alice, nil, http.StatusOK, &g)
	require.Equal(t, 1, g.MemberCount)

	// Duplicates, members and people who may not see the group get clear problems.
	requireCode(t, c.Do("POST", gp+"/members", alice, map[string]any{"user_id": bobID}, http.StatusConflict, nil), "conflict")
	requireCode(t, c.Do("POST", gp+"/members", alice, map[string]any{"user_id": aliceID}, http.StatusConflict, nil), "conflict")
	requireCode(t, c.Do("POST", gp+"/members", carol, map[string]any{"user_id": carolID}, http.StatusNotFound, nil), "not_found")
	requireCode(t, c.Do("GET", gp+"/invitations", carol, nil, http.StatusNotFound, nil), "not_found")
	requireCode(t, c.Do("DELETE", gp+"/invitations/"+inv.ID, carol, nil, http.StatusNotFound, nil), "not_found")

	// Bob sees the invitation; nobody else can answer it.
	var mine invitationsJSON
	c.Do("GET", "/v1/me/invitations", bob, nil, http.StatusOK, &mine)
	require.Equal(t, []invitationJSON{inv}, mine.Invitations)
	c.Do("GET", "/v1/me/invitations", carol, nil, http.StatusOK, &mine)
	require.Empty(t, mine.Invitations)
	var pending invitationsJSON
	c.Do("GET", gp+"/invitations", alice, nil, http.StatusOK, &pending)
	require.Equal(t, []invitationJSON{inv}, pending.Invitations)
	c.Do("POST", "/v1/me/invitations/"+inv.ID+"/accept", carol, nil, http.StatusNotFound, nil)
	c.Do("POST", "/v1/me/invitations/"+inv.ID+"/decline", alice, nil, http.StatusNotFound, nil)
	c.Do("POST", "/v1/me/invitations/not-a-uuid/accept", bob, nil, http.StatusNotFound, nil)

	// Accepting grants the invited role at once: the group, its documents and search.
	var m memberJSON
	c.Do("POST", "/v1/me/invitations/"+inv.ID+"/accept", bob, nil, http.StatusOK, &m)
	require.Equal(t, memberJSON{UserID: bobID, Name: "bob", Role: "admin"}, m)
	c.Do("GET", gp, bob, nil, http.StatusOK, &g)
	require.Equal(t, "admin", g.Role)
	c.Do("GET", docPath, bob, nil, http.StatusOK, nil)
	c.Do("POST", "/v1/me/invitations/"+inv.ID+"/accept", bob, nil, http.StatusNotFound, nil)

	// Carol declines hers; bob, now an admin, withdraws a second one.
	inv = invite(t, c, g.ID, bob, map[string]any{"user_id": carolID})
	c.Do("POST", "/v1/me/invitations/"+inv.ID+"/decline", carol, nil, http.StatusNoContent, nil)
	c.Do("GET", docPath, carol, nil, http.StatusNotFound, nil)
	inv = invite(t, c, g.ID, bob, map[string]any{"user_id": carolID})
	c.Do("DELETE", gp+"/invitations/"+uuid.NewString(), alice, nil, http.StatusNotFound, nil)
	c.Do("DELETE", gp+"/invitations/"+inv.ID, alice, nil, http.StatusNoContent, nil)
	c.Do("POST", "/v1/me/invitations/"+inv.ID+"/accept", carol, nil, http.StatusNotFound, nil)
	c.Do("GET", gp+"/invitations", alice, nil, http.StatusOK, &pending)
	require.Empty(t, pending.Invitations)

	// A member who is not a group admin may not invite or see the pending list.
	join(t, c, g.ID, alice, carolID, carol)
	requireCode(t, c.Do("POST", gp+"/members", carol, map[string]any{"name": "admin"}, http.StatusForbidden, nil), "forbidden")
	requireCode(t, c.Do("GET", gp+"/invitations", carol, nil, http.StatusForbidden, nil), "forbidden")

	// Every step is audited, and so are the refusals of a member (an outsider's are
	// answered as for a group that does not exist).
	var page auditPage
	var actions []string
	c.Do("GET", "/v1/admin/audit?limit=200", admin, nil, http.StatusOK, &page)
	for i := len(page.Entries) - 1; i >= 0; i-- {
		if e := page.Entries[i]; e.TargetID == g.ID {
			actions = append(actions, e.Action+":"+e.Outcome)
		}
	}
	require.Equal(t, []string{"group.create:success", "invitation.create:success", "member.add:success", "invitation.accept:success", "invitation.create:success",
		"invitation.decline:success", "invitation.create:success", "invitation.withdraw:success", "invitation.create:success",
		"member.add:success", "invitation.accept:success", "member.add:denied", "invitation.list:denied"}, actions)
}

func ptrTo(s string) *string { return &s }

func requireCode(t *testing.T, resp apitest.Response, code string) {
	t.Helper()
	require.Contains(t, resp.Body, `"code":"`+code+`"`)
}
