package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// revocationDoc is a document made for one revocation scenario.
type revocationDoc struct{ id, canary string }

func (w *world) revocationDoc(t *testing.T, who, group string) revocationDoc {
	t.Helper()
	secret := randomHex(6)
	canary := "CANARY-REVOKE-" + secret
	fields := map[string]string{}
	if group != "" {
		fields["group_id"] = w.id[group]
	}
	text := fmt.Sprintf("Falcon ledger revocation record. The access code %s belongs to this record only.\n", canary)
	id := w.uploadNamed(t, who, "revocation-"+secret+".txt", text, fields)
	return revocationDoc{id: id, canary: canary}
}

// requireSees checks, with the very next requests after a change and no waiting,
// whether who sees d: get, list, search, and the citations and stream of a chat turn.
func (w *world) requireSees(t *testing.T, who string, d revocationDoc, want bool) {
	t.Helper()
	key := w.key[who]
	status := http.StatusNotFound
	if want {
		status = http.StatusOK
	}
	w.do(t, "GET", "/v1/documents/"+d.id, key, nil, status, nil)
	list := w.do(t, "GET", "/v1/documents?limit=200", key, nil, http.StatusOK, nil)
	require.Equal(t, want, strings.Contains(list, d.id), "%s lists the document: %v", who, want)
	question := "falcon ledger access code " + strings.TrimPrefix(d.canary, "CANARY-REVOKE-")
	hits := w.do(t, "POST", "/v1/search", key, map[string]any{"query": question, "limit": 50}, http.StatusOK, nil)
	require.Equal(t, want, strings.Contains(hits, d.canary), "%s finds the document: %v", who, want)
	res := w.ask(t, key, "", question)
	require.Equal(t, want, slices.Contains(res.Cited, d.id), "%s's chat cites the document: %v: %s", who, want, res.TurnJSON)
	require.Equal(t, want, strings.Contains(res.TurnJSON+res.Events, d.canary), "%s's chat quotes the document: %v", who, want)
}

func TestRevocationTakesEffectOnTheNextRequest(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	// U4 joins G1 (accepting the fixture's invitation I1); U2 joins G2. Every
	// document below is shared with a group.
	w.do(t, "POST", "/v1/me/invitations/"+w.id["I1"]+"/accept", w.key["U4"], nil, http.StatusOK, nil)
	w.addMember(t, w.id["G2"], w.key["U3"], w.id["U2"])
	unshare := w.revocationDoc(t, "U1", "G1")
	private := w.revocationDoc(t, "U1", "G1")
	deleted := w.revocationDoc(t, "U1", "G1")
	ofDeletedUser := w.revocationDoc(t, "U3", "G2")
	for _, d := range []revocationDoc{unshare, private, deleted} {
		w.waitReady(t, "U1", d.id)
	}
	w.waitReady(t, "U3", ofDeletedUser.id)
	for _, d := range []revocationDoc{unshare, private, deleted, ofDeletedUser} {
		w.requireSees(t, "U2", d, true)
	}

	t.Run("unshare with PATCH group_id null", func(t *testing.T) {
		w.do(t, "PATCH", "/v1/documents/"+unshare.id, w.key["U1"], map[string]any{"group_id": nil}, http.StatusOK, nil)
		w.requireSees(t, "U2", unshare, false)
		w.requireSees(t, "U1", unshare, true)
	})
	t.Run("make private, then share again", func(t *testing.T) {
		w.do(t, "PATCH", "/v1/documents/"+private.id, w.key["U1"], map[string]any{"private": true}, http.StatusOK, nil)
		w.requireSees(t, "U2", private, false)
		w.do(t, "PATCH", "/v1/documents/"+private.id, w.key["U1"], map[string]any{"private": false}, http.StatusOK, nil)
		w.requireSees(t, "U2", private, true)
	})
	t.Run("document deletion", func(t *testing.T) {
		w.do(t, "DELETE", "/v1/documents/"+deleted.id, w.key["U1"], nil, http.StatusAccepted, nil)
		w.requireSees(t, "U2", deleted, false)
		w.requireSees(t, "U1", deleted, false)
	})
	t.Run("leave group", func(t *testing.T) {
		w.do(t, "DELETE", "/v1/groups/"+w.id["G1"]+"/members/"+w.id["U2"], w.key["U2"], nil, http.StatusNoContent, nil)
		w.requireSees(t, "U2", private, false)
		w.requireSees(t, "U4", private, true) // the others in the group keep it
	})
	t.Run("removal by a group admin", func(t *testing.T) {
		w.do(t, "DELETE", "/v1/groups/"+w.id["G1"]+"/members/"+w.id["U4"], w.key["U1"], nil, http.StatusNoContent, nil)
		w.requireSees(t, "U4", private, false)
	})
	t.Run("user deletion", func(t *testing.T) {
		w.do(t, "DELETE", "/v1/admin/users/"+w.id["U3"], w.key["A"], nil, http.StatusNoContent, nil)
		w.do(t, "GET", "/v1/me", w.key["U3"], nil, http.StatusUnauthorized, nil)
		w.requireSees(t, "U2", ofDeletedUser, false)
	})
	t.Run("key revocation", func(t *testing.T) {
		var k struct{ ID, Key string }
		w.do(t, "POST", "/v1/me/keys", w.key["U2"], nil, http.StatusCreated, &k)
		resp, _ := w.send(t, call{method: "POST", path: "/ui/session", body: map[string]any{"key": k.Key}}, http.StatusCreated)
		cookie := resp.Cookies()[0]
		w.do(t, "GET", "/v1/me", k.Key, nil, http.StatusOK, nil)
		w.send(t, call{method: "GET", path: "/v1/me", cookie: cookie}, http.StatusOK)

		w.do(t, "DELETE", "/v1/me/keys/"+k.ID, w.key["U2"], nil, http.StatusNoContent, nil)
		w.do(t, "GET", "/v1/me", k.Key, nil, http.StatusUnauthorized, nil)
		w.send(t, call{method: "GET", path: "/v1/me", cookie: cookie}, http.StatusUnauthorized)
		w.do(t, "POST", "/v1/search", k.Key, map[string]any{"query": "falcon ledger"}, http.StatusUnauthorized, nil)
		w.do(t, "GET", "/v1/me", w.key["U2"], nil, http.StatusOK, nil) // the other key still works
	})
	t.Run("key revocation by an admin", func(t *testing.T) {
		if !slices.Contains(routeTable(t), "DELETE /v1/admin/users/:id/keys/:key_id") {
			t.Skip("the server has no admin key revocation route")
		}
		var k struct{ ID, Key string }
		w.do(t, "POST", "/v1/me/keys", w.key["U4"], nil, http.StatusCreated, &k)
		w.do(t, "GET", "/v1/me", k.Key, nil, http.StatusOK, nil)
		w.send(t, call{method: "DELETE", path: "/v1/admin/users/" + w.id["U4"] + "/keys/" + k.ID, key: w.key["A"]}, http.StatusNoContent)
		w.do(t, "GET", "/v1/me", k.Key, nil, http.StatusUnauthorized, nil)
	})
}
