package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// caseFunc builds the rows of one route.
type caseFunc func(w *world, route string) []row

// matrixCases has an entry for every route; TestLeakMatrixCoversEveryRoute fails for
// a route without one. The re-index routes are listed ahead of being served.
var matrixCases = map[string]caseFunc{
	"GET /healthz": public, "GET /readyz": public, "GET /metrics": public, "GET /v1/openapi.json": public,
	"GET /": public, "HEAD /": public, "GET /assets/*": public, "HEAD /assets/*": public, "GET /favicon.ico": public,
	"POST /ui/session": uiSession, "GET /ui/session": uiSession, "DELETE /ui/session": uiSession,
	"GET /ui/auth": public, "GET /ui/auth/oidc/login": oidcOff, "GET /ui/auth/oidc/callback": oidcOff,
	"GET /ui/auth/oidc/logout": oidcOff,

	"GET /v1/me": self, "GET /v1/me/keys": self, "POST /v1/me/keys": self, "GET /v1/status": self,
	"GET /v1/models": self, "GET /v1/tools": self, "GET /v1/admin/mcp/servers": adminOnly,
	"DELETE /v1/me/keys/:id":                   revokeOwnKey,
	"POST /v1/admin/users":                     adminCreateUser,
	"GET /v1/admin/users":                      adminOnly,
	"GET /v1/admin/audit":                      adminOnly,
	"GET /v1/admin/analytics":                  adminAnalytics,
	"GET /v1/me/usage":                         myUsage,
	"GET /v1/me/export":                        exportCases,
	"DELETE /v1/me/chat/sessions":              purgeChatsCases,
	"DELETE /v1/me":                            deleteSelfCases,
	"GET /v1/admin/users/:id/export":           adminExportCases,
	"DELETE /v1/admin/users/:id/chat/sessions": adminPurgeChatsCases,
	"DELETE /v1/admin/users/:id":               adminDeleteUser,
	"PATCH /v1/admin/users/:id":                adminPatchUser,
	"GET /v1/admin/users/:id/keys":             adminUserKeys,
	"DELETE /v1/admin/users/:id/keys/:key_id":  adminUserKeys,

	"POST /v1/groups": anyUser, "GET /v1/groups": listGroups,
	"GET /v1/groups/:id": groupCases, "PATCH /v1/groups/:id": groupCases, "DELETE /v1/groups/:id": groupCases,
	"POST /v1/groups/:id/members":            groupCases,
	"PATCH /v1/groups/:id/members/:user_id":  memberCases,
	"DELETE /v1/groups/:id/members/:user_id": memberCases,
	"GET /v1/groups/:id/invitations":         groupInvitationCases,
	"DELETE /v1/groups/:id/invitations/:inv": groupInvitationCases,
	"GET /v1/me/invitations":                 myInvitations,
	"POST /v1/me/invitations/:id/accept":     answerInvitation,
	"POST /v1/me/invitations/:id/decline":    answerInvitation,
	"POST /v1/documents":                     uploadCases,
	"GET /v1/documents":                      listDocuments,
	"GET /v1/documents/:id":                  documentCases,
	"GET /v1/documents/:id/content":          documentCases,
	"PATCH /v1/documents/:id":                documentCases,
	"DELETE /v1/documents/:id":               documentCases,
	"POST /v1/documents/:id/retry":           documentCases,
	"POST /v1/documents/:id/refetch":         documentCases,
	"POST /v1/search":                        searchCases,
	"POST /v1/chat/sessions":                 withScopes(anyUser),
	"GET /v1/chat/sessions":                  chatCases,
	"GET /v1/chat/sessions/:id":              chatCases,
	"PATCH /v1/chat/sessions/:id":            withScopes(chatCases),
	"DELETE /v1/chat/sessions/:id":           chatCases,
	"POST /v1/chat/sessions/:id/messages":    withScopes(chatCases),
	"GET /v1/chat/turns/:id":                 chatCases,
	"GET /v1/chat/turns/:id/events":          chatCases,
	"POST /v1/chat/turns/:id/cancel":         chatCases,
	"POST /v1/chat/send":                     withScopes(askCases),
	"GET /v1/chat/search":                    chatCases,
	"POST /v1/chat/turns/:id/feedback":       chatCases,
	"GET /v1/chat/sessions/:id/export":       chatCases,
	"POST /v1/admin/reindex":                 reindexCases,
	"GET /v1/admin/reindex":                  reindexCases,
	"GET /v1/admin/reindex/:id":              reindexCases,
	"POST /v1/admin/reindex/:id/cancel":      reindexCases,
}

// fixed is a call that needs no preparation.
func fixed(c call) func(*testing.T) call { return func(*testing.T) call { return c } }

func method(route string) string { m, _, _ := strings.Cut(route, " "); return m }

func public(w *world, route string) []row {
	path := strings.Replace(strings.TrimPrefix(route, method(route)+" "), "*", "icon.svg", 1)
	var rows []row
	for _, who := range principals {
		rows = append(rows, row{route: route, who: who, object: "-", want: allow(http.StatusOK), call: fixed(call{path: path})})
	}
	return rows
}

// oidcOff: the matrix's platform has no OpenID provider, so its sign-in routes do
// not exist for anybody, whatever they send (oidc_e2e_test.go covers them with one).
func oidcOff(w *world, route string) []row {
	path := strings.TrimPrefix(route, method(route)+" ")
	var rows []row
	for _, who := range principals {
		rows = append(rows, row{route: route, who: who, object: "-", want: hidden,
			call: fixed(call{path: path + "?state=x&code=y"})})
	}
	return rows
}

// uiSession signs in with the principal's key; anon holds a key that is not one.
func uiSession(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		key := w.key[who]
		if who == "anon" {
			key = "yw_" + randomHex(20)
		}
		signIn := func(t *testing.T) (*http.Cookie, string) {
			resp, body := w.send(t, call{method: "POST", path: "/ui/session", body: map[string]any{"key": key}, noKey: true}, http.StatusCreated)
			var v struct {
				CSRF string `json:"csrf_token"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &v))
			return resp.Cookies()[0], v.CSRF
		}
		r := row{route: route, who: who, object: "own session"}
		switch method(route) {
		case "POST":
			r.want = gate(who, true, http.StatusCreated)
			r.call = fixed(call{path: "/ui/session", body: map[string]any{"key": key}, noKey: true})
		case "GET":
			r.want = gate(who, true, http.StatusOK)
			r.call = func(t *testing.T) call {
				if who == "anon" {
					return call{path: "/ui/session"}
				}
				cookie, _ := signIn(t)
				return call{path: "/ui/session", cookie: cookie, noKey: true}
			}
		case "DELETE":
			r.want = allow(http.StatusNoContent)
			r.call = func(t *testing.T) call {
				if who == "anon" {
					return call{path: "/ui/session"}
				}
				cookie, csrf := signIn(t)
				return call{path: "/ui/session", cookie: cookie, header: map[string]string{"X-CSRF-Token": csrf}, noKey: true}
			}
		}
		if who != "anon" && method(route) != "DELETE" {
			r.check = func(t *testing.T, body string) { require.Contains(t, body, `"id":"`+w.id[who]+`"`) }
		}
		rows = append(rows, r)
	}
	return rows
}

func self(w *world, route string) []row {
	path := strings.TrimPrefix(route, method(route)+" ")
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "self", want: gate(who, true, http.StatusOK), call: fixed(call{path: path})}
		switch {
		case method(route) == "POST":
			r.want = gate(who, true, http.StatusCreated)
		case path == "/v1/me" && who != "anon":
			r.check = func(t *testing.T, body string) { require.Contains(t, body, `"id":"`+w.id[who]+`"`) }
		case who != "U1" && who != "anon":
			r.check = func(t *testing.T, body string) { require.NotContains(t, body, w.id["K1"]) }
		}
		rows = append(rows, r)
	}
	return rows
}

func revokeOwnKey(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "K1 (U1's key)", want: gate(who, who == "U1", http.StatusNoContent),
			affects: []string{"key:K1"}, call: fixed(call{path: "/v1/me/keys/" + w.id["K1"]})}
		if who == "U1" {
			r.object, r.call = "a scratch key of U1", func(t *testing.T) call {
				var k struct{ ID string }
				w.do(t, "POST", "/v1/me/keys", w.key["U1"], nil, http.StatusCreated, &k)
				return call{path: "/v1/me/keys/" + k.ID}
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func adminOnly(w *world, route string) []row {
	path := strings.TrimPrefix(route, method(route)+" ")
	var rows []row
	for _, who := range principals {
		rows = append(rows, row{route: route, who: who, object: "-", want: gate(who, who == "A", http.StatusOK), call: fixed(call{path: path})})
	}
	return rows
}

func adminCreateUser(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		rows = append(rows, row{route: route, who: who, object: "new user", want: gate(who, who == "A", http.StatusCreated),
			affects: []string{"users"}, call: func(*testing.T) call {
				return call{path: "/v1/admin/users", body: map[string]any{"name": "made-by-" + strings.ToLower(who) + "-" + randomHex(3), "is_admin": true}}
			}})
	}
	return rows
}

func adminDeleteUser(w *world, route string) []row {
	var rows []row
	for _, target := range []string{"U2", "A"} {
		for _, who := range principals {
			r := row{route: route, who: who, object: target, want: gate(who, who == "A", http.StatusNoContent),
				affects: []string{"user:" + target}, call: fixed(call{path: "/v1/admin/users/" + w.id[target]})}
			switch {
			case who == "A" && target == "A":
				r.want = conflict
			case who == "A":
				r.object, r.call = "a scratch user", func(t *testing.T) call {
					id, _ := w.newUser(t, "scratch-"+randomHex(4))
					return call{path: "/v1/admin/users/" + id}
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// adminPatchUser: only an admin changes a user's admin flag and quota; others trying
// to make U1 an unlimited admin change nothing, and an admin cannot demote themself.
func adminPatchUser(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "U1", want: gate(who, who == "A", http.StatusOK), affects: []string{"quota:U1"},
			call: fixed(call{path: "/v1/admin/users/" + w.id["U1"], body: map[string]any{"is_admin": true, "quota_bytes": 0}})}
		if who == "A" {
			r.object, r.call = "a scratch user", func(t *testing.T) call {
				id, _ := w.newUser(t, "scratch-"+randomHex(4))
				return call{path: "/v1/admin/users/" + id, body: map[string]any{"is_admin": true, "quota_bytes": 0}}
			}
		}
		rows = append(rows, r)
	}
	rows = append(rows, row{route: route, who: "A", object: "A", want: conflict, affects: []string{"quota:A"},
		call: fixed(call{path: "/v1/admin/users/" + w.id["A"], body: map[string]any{"is_admin": false}})})
	return rows
}

func adminUserKeys(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "U1 and K1", affects: []string{"key:K1"}}
		if method(route) == "GET" {
			r.want, r.call = gate(who, who == "A", http.StatusOK), fixed(call{path: "/v1/admin/users/" + w.id["U1"] + "/keys"})
			if who == "A" {
				r.check = func(t *testing.T, body string) { require.Contains(t, body, w.id["K1"]) }
			}
		} else {
			r.want = gate(who, who == "A", http.StatusNoContent)
			r.call = fixed(call{path: "/v1/admin/users/" + w.id["U1"] + "/keys/" + w.id["K1"]})
			if who == "A" {
				r.object, r.call = "U4 and a scratch key of U4", func(t *testing.T) call {
					var k struct{ ID string }
					w.do(t, "POST", "/v1/me/keys", w.key["U4"], nil, http.StatusCreated, &k)
					return call{path: "/v1/admin/users/" + w.id["U4"] + "/keys/" + k.ID}
				}
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func anyUser(w *world, route string) []row {
	path := strings.TrimPrefix(route, method(route)+" ")
	var rows []row
	for _, who := range principals {
		rows = append(rows, row{route: route, who: who, object: "new", want: gate(who, true, http.StatusCreated),
			call: func(*testing.T) call {
				return call{path: path, body: map[string]any{"name": "new-" + randomHex(4), "title": "new"}}
			}})
	}
	return rows
}

func isMember(who, group string) bool { _, ok := memberships[group][who]; return ok }

func listGroups(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "-", want: gate(who, true, http.StatusOK), call: fixed(call{path: "/v1/groups"})}
		if who != "anon" {
			r.check = func(t *testing.T, body string) {
				for _, g := range []string{"G1", "G2"} {
					require.Equal(t, isMember(who, g), strings.Contains(body, w.id[g]), "%s listed for %s", g, who)
				}
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// scratchGroup makes a twin of G1 or G2: the same admin and members, so every
// principal has the same role in it.
func (w *world) scratchGroup(t *testing.T, group string) string {
	var admin string
	for who, role := range memberships[group] {
		if role == "admin" {
			admin = who
		}
	}
	id := w.newGroup(t, w.key[admin])
	for who, role := range memberships[group] {
		if role != "admin" {
			w.addMember(t, id, w.key[admin], w.id[who])
		}
	}
	return id
}

// groupCases covers a group and its members list; U4's id is the user_id in bodies.
func groupCases(w *world, route string) []row {
	var rows []row
	for _, g := range []string{"G1", "G2"} {
		for _, who := range principals {
			role := memberships[g][who]
			r := row{route: route, who: who, object: g, affects: []string{"group:" + g}}
			path := "/v1/groups/" + w.id[g]
			var allowed, refused any
			okStatus := http.StatusOK
			switch method(route) + " " + strings.TrimPrefix(route, method(route)+" /v1/groups/:id") {
			case "GET ":
				r.want = gate(who, role != "", http.StatusOK)
			case "PATCH ":
				allowed, refused = map[string]any{"description": "fixture"}, map[string]any{"name": "taken-over-" + randomHex(3)}
			case "DELETE ":
				okStatus = http.StatusNoContent
				for _, d := range docNames {
					if docSpecs[d].group == g {
						r.affects = append(r.affects, "doc:"+d)
					}
				}
			case "POST /members":
				r.object = g + " + user_id U4"
				okStatus = http.StatusAccepted // an invitation
				r.affects = append(r.affects, "invitations:"+g)
				allowed = map[string]any{"user_id": w.id["U4"]}
				refused = allowed
				path += "/members"
			}
			if method(route) != "GET" {
				switch {
				case who == "anon":
					r.want = unauth
				case role == "admin":
					r.want = allow(okStatus)
				case role == "member":
					r.want = forbidden
				default:
					r.want = hidden
				}
			}
			r.call = fixed(call{path: path, body: refused})
			if r.want.class == "allowed" {
				r.call = fixed(call{path: path, body: allowed})
				if method(route) != "GET" && method(route) != "PATCH" {
					r.object = "a scratch twin of " + r.object
					r.call = func(t *testing.T) call {
						return call{path: strings.Replace(path, w.id[g], w.scratchGroup(t, g), 1), body: allowed}
					}
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

func memberCases(w *world, route string) []row {
	var rows []row
	for _, target := range [][2]string{{"G1", "U1"}, {"G1", "U2"}, {"G2", "U3"}} {
		g, member := target[0], target[1]
		for _, who := range principals {
			role := memberships[g][who]
			path := "/v1/groups/" + w.id[g] + "/members/" + w.id[member]
			r := row{route: route, who: who, object: g + "/" + member, affects: []string{"group:" + g}}
			soleAdmin := memberships[g][member] == "admin" // every fixture group has one admin
			var allowed any
			switch {
			case who == "anon":
				r.want = unauth
			case role == "":
				r.want = hidden
			case method(route) == "PATCH" && role == "admin":
				r.want, allowed = allow(http.StatusOK), map[string]any{"role": memberships[g][member]}
			case method(route) == "PATCH":
				r.want = forbidden
			case who != member && role != "admin":
				r.want = forbidden
			case soleAdmin:
				r.want = conflict // the last admin can neither leave nor be removed
			default:
				r.want = allow(http.StatusNoContent)
			}
			r.call = fixed(call{path: path, body: map[string]any{"role": "admin"}})
			if method(route) == "DELETE" {
				r.call = fixed(call{path: path})
			}
			if r.want.class == "allowed" {
				r.call = fixed(call{path: path, body: allowed})
				if method(route) == "DELETE" {
					r.object = "a scratch twin of " + r.object
					r.call = func(t *testing.T) call {
						return call{path: strings.Replace(path, w.id[g], w.scratchGroup(t, g), 1)}
					}
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// groupFilters are the objects of list and search: no group, and each group by id.
var groupFilters = []string{"", "G1", "G2"}

func filterName(g string) string {
	if g == "" {
		return "no group_id"
	}
	return "group_id " + g
}

func uploadCases(w *world, route string) []row {
	var rows []row
	for _, g := range groupFilters {
		for _, who := range principals {
			form := map[string]string{"file": "a harmless note " + randomHex(8)}
			if g != "" {
				form["group_id"] = w.id[g]
			}
			r := row{route: route, who: who, object: filterName(g), want: gate(who, g == "" || isMember(who, g), http.StatusAccepted),
				call: fixed(call{path: "/v1/documents", form: form})}
			if who != "anon" {
				r.affects = []string{"library:" + who}
			}
			if r.want.class == "allowed" {
				r.check = func(t *testing.T, body string) { // leave the fixture as it was
					var up struct{ Documents []struct{ ID string } }
					require.NoError(t, json.Unmarshal([]byte(body), &up))
					w.do(t, "DELETE", "/v1/documents/"+up.Documents[0].ID, w.key[who], nil, http.StatusAccepted, nil)
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// requireExactly checks that body names exactly the fixture documents in want.
func (w *world) requireExactly(t *testing.T, body string, want func(doc string) bool) {
	t.Helper()
	for _, d := range docNames {
		require.Equal(t, want(d), strings.Contains(body, w.id[d]), "%s in %s", d, body)
	}
}

func listDocuments(w *world, route string) []row {
	var rows []row
	for _, g := range groupFilters {
		path := "/v1/documents?limit=200"
		if g != "" {
			path += "&group_id=" + w.id[g]
		}
		for _, who := range principals {
			r := row{route: route, who: who, object: filterName(g), want: gate(who, true, http.StatusOK), call: fixed(call{path: path})}
			if who != "anon" {
				r.check = func(t *testing.T, body string) {
					w.requireExactly(t, body, func(d string) bool { return sees(who, d) && (g == "" || docSpecs[d].group == g) })
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// searchModes are the retrievers a search may ask for: each is its own query path
// into the vector store, so each must keep to the rule.
var searchModes = []string{"hybrid", "lexical", "dense"}

func searchCases(w *world, route string) []row {
	var rows []row
	for _, g := range groupFilters {
		for _, mode := range searchModes {
			rows = append(rows, searchRows(w, route, g, mode)...)
		}
	}
	return rows
}

func searchRows(w *world, route, g, mode string) []row {
	body := map[string]any{"query": w.canaryQuestion(), "limit": 50, "mode": mode}
	if g != "" {
		body["group_id"] = w.id[g]
	}
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: filterName(g) + " " + mode, want: gate(who, g == "" || isMember(who, g), http.StatusOK),
			call: fixed(call{path: "/v1/search", body: body})}
		if r.want.class == "allowed" {
			r.check = func(t *testing.T, body string) {
				want := func(d string) bool { return sees(who, d) && (g == "" || docSpecs[d].group == g) }
				w.requireExactly(t, body, want)
				for _, d := range docNames {
					if want(d) {
						require.Contains(t, body, w.canary[d], "the hit carries its text")
					}
				}
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// attackerGroup is a group id a refused PATCH tries to move a document into.
func attackerGroup(who string) string {
	if who == "U3" {
		return "G2"
	}
	return "G1"
}

func documentCases(w *world, route string) []row {
	var rows []row
	sub := strings.TrimPrefix(route, method(route)+" /v1/documents/:id")
	for _, d := range docNames {
		spec := docSpecs[d]
		path := "/v1/documents/" + w.id[d] + sub
		for _, who := range principals {
			owner := who == spec.owner && !spec.deleted
			r := row{route: route, who: who, object: d, affects: []string{"doc:" + d}, call: fixed(call{path: path})}
			switch method(route) + " " + sub {
			case "GET ", "GET /content":
				r.want = gate(who, sees(who, d), http.StatusOK)
				if r.want.class == "allowed" {
					r.check = func(t *testing.T, body string) {
						require.Contains(t, body, map[string]string{"": w.filename[d], "/content": w.canary[d]}[sub])
					}
				}
				if r.want.class == "allowed" && sub == "/content" && w.textOnly[d] {
					// Imported from the legacy search index's text: no bytes to send.
					r.want = outcome{"original unavailable", []int{http.StatusNotFound}}
					r.check = func(t *testing.T, body string) { require.Contains(t, body, `"code":"original_unavailable"`) }
				}
			case "PATCH ":
				r.want = gate(who, owner, http.StatusOK)
				r.call = fixed(call{path: path, body: map[string]any{"group_id": w.id[attackerGroup(who)], "private": false}})
				if owner { // the document's own sharing again: allowed and changes nothing
					var group any
					if spec.group != "" {
						group = w.id[spec.group]
					}
					r.call = fixed(call{path: path, body: map[string]any{"group_id": group, "private": spec.private}})
				}
			case "DELETE ":
				r.want = gate(who, owner, http.StatusAccepted)
				if owner {
					r.object, r.call = "a scratch twin of "+d, func(t *testing.T) call {
						fields := map[string]string{"private": fmt.Sprint(spec.private)}
						if spec.group != "" {
							fields["group_id"] = w.id[spec.group]
						}
						id := w.uploadNamed(t, who, "twin.txt", "twin of "+d+" "+randomHex(8), fields)
						return call{path: "/v1/documents/" + id}
					}
				}
			case "POST /retry", "POST /refetch":
				r.want = gate(who, owner, 0)
				if owner {
					r.want = conflict // only a failed document can be retried, only one from a URL fetched again
				}
			}
			rows = append(rows, r)
		}
	}
	if method(route) == "PATCH" { // the owner names a group they are not in
		for _, c := range [][3]string{{"U1", "D1", "G2"}, {"U1", "D2", "G2"}, {"U3", "D4", "G1"}} {
			rows = append(rows, row{route: route, who: c[0], object: c[1] + " + group_id " + c[2], want: hidden,
				affects: []string{"doc:" + c[1]}, call: fixed(call{path: "/v1/documents/" + w.id[c[1]], body: map[string]any{"group_id": w.id[c[2]]}})})
		}
	}
	return rows
}

func chatCases(w *world, route string) []row {
	var rows []row
	pattern := strings.TrimPrefix(route, method(route)+" ")
	for _, who := range principals {
		r := row{route: route, who: who, object: "S1", affects: []string{"session:S1", "turn:T1"}}
		path := strings.Replace(pattern, ":id", w.id["S1"], 1)
		if strings.Contains(pattern, "/turns/") {
			r.object, path = "T1", strings.Replace(pattern, ":id", w.id["T1"], 1)
		}
		r.call = fixed(call{path: path})
		own := who == "U1"
		scratch := func(body any) func(t *testing.T) call {
			return func(t *testing.T) call {
				var s struct{ ID string }
				w.do(t, "POST", "/v1/chat/sessions", w.key["U1"], map[string]any{"title": "scratch"}, http.StatusCreated, &s)
				return call{path: strings.Replace(path, w.id["S1"], s.ID, 1), body: body}
			}
		}
		switch route {
		case "GET /v1/chat/sessions":
			r.object, r.want = "-", gate(who, true, http.StatusOK)
			if who != "anon" {
				r.check = func(t *testing.T, body string) { require.Equal(t, own, strings.Contains(body, w.id["S1"])) }
			}
		case "GET /v1/chat/sessions/:id", "GET /v1/chat/turns/:id", "GET /v1/chat/turns/:id/events":
			r.want = gate(who, own, http.StatusOK)
			if own {
				r.check = func(t *testing.T, body string) {
					require.Contains(t, body, w.canary["D1"], "the owner sees the answer")
				}
			}
		case "PATCH /v1/chat/sessions/:id":
			r.want = gate(who, own, http.StatusOK)
			r.call = fixed(call{path: path, body: map[string]any{"title": "renamed by " + who}})
			if own {
				r.call = fixed(call{path: path, body: map[string]any{"title": "ledger"}})
			}
		case "DELETE /v1/chat/sessions/:id":
			r.want = gate(who, own, http.StatusNoContent)
			if own {
				r.object, r.call = "a scratch session", scratch(nil)
			}
		case "POST /v1/chat/sessions/:id/messages":
			body := map[string]any{"content": w.canaryQuestion()}
			r.want, r.call = gate(who, own, http.StatusAccepted), fixed(call{path: path, body: body})
			if own {
				r.object, r.call = "a scratch session", scratch(body)
			}
		case "POST /v1/chat/turns/:id/cancel":
			r.want = gate(who, own, http.StatusAccepted) // T1 has finished: cancelling it is a no-op
		case "GET /v1/chat/search":
			// The words of D1's canary are in U1's chat (the answer quotes them):
			// only U1 finds them there.
			r.object, r.want = "S1's words", gate(who, true, http.StatusOK)
			r.call = fixed(call{path: "/v1/chat/search?q=" + url.QueryEscape(w.canary["D1"])})
			if who != "anon" {
				r.check = func(t *testing.T, body string) {
					require.Equal(t, own, strings.Contains(body, w.id["S1"]), "search results: %s", body)
					require.Equal(t, own, strings.Contains(body, w.canary["D1"]), "search results: %s", body)
				}
			}
		case "POST /v1/chat/turns/:id/feedback":
			r.want = gate(who, own, http.StatusNoContent)
			r.call = fixed(call{path: path, body: map[string]any{"rating": "down", "comment": "rated by " + who}})
		case "GET /v1/chat/sessions/:id/export":
			r.want = gate(who, own, http.StatusOK)
			if own {
				r.check = func(t *testing.T, body string) {
					require.Contains(t, body, w.canary["D1"], "the owner's export has the answer")
				}
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// askCases asks every principal's chat for every canary: the answer, citations and
// the whole event stream may only show documents the asker may see.
func askCases(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		rows = append(rows, row{route: route, who: who, object: "new session, every canary", want: gate(who, true, http.StatusOK),
			call: fixed(call{path: "/v1/chat/send", body: map[string]any{"content": w.canaryQuestion()}}),
			check: func(t *testing.T, body string) {
				if who == "anon" {
					return
				}
				var sent struct {
					Turn struct {
						ID        string
						Answer    string
						Citations []struct {
							DocumentID string `json:"document_id"`
						}
					}
				}
				require.NoError(t, json.Unmarshal([]byte(body), &sent))
				visible := 0
				for _, d := range docNames {
					if sees(who, d) {
						visible++
					}
				}
				ids := map[string]string{}
				for _, d := range docNames {
					ids[w.id[d]] = d
				}
				for _, c := range sent.Turn.Citations {
					require.True(t, sees(who, ids[c.DocumentID]), "%s was shown a citation of %s", who, ids[c.DocumentID])
				}
				require.Equal(t, visible > 0, len(sent.Turn.Citations) > 0, "citations: %s", body)
				require.Equal(t, visible > 0, strings.Contains(sent.Turn.Answer, "CANARY-"), "answer: %s", sent.Turn.Answer)
				var events strings.Builder
				for _, e := range readEvents(t, w.base, w.key[who], sent.Turn.ID, 0, 0) {
					events.WriteString(e.Type + " " + e.Data + "\n")
				}
				require.Contains(t, events.String(), "turn.completed")
				w.requireNoLeak(t, who, events.String())
			}})
	}
	for _, who := range principals {
		if who == "U1" {
			continue // U1 asking in S1 is the fixture's own first turn
		}
		rows = append(rows, row{route: route, who: who, object: "session_id S1", want: gate(who, false, 0),
			affects: []string{"session:S1"}, call: fixed(call{path: "/v1/chat/send", body: map[string]any{"content": w.canaryQuestion(), "session_id": w.id["S1"]}})})
	}
	return rows
}

// reindexCases: operator jobs are for admins only; everybody else gets 404.
func reindexCases(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "-", want: gate(who, who == "A", http.StatusOK)}
		job := func(t *testing.T) string {
			if w.id["J1"] == "" {
				var j struct{ ID string }
				w.do(t, "POST", "/v1/admin/reindex", w.key["A"], map[string]any{"kind": "acl-sync"}, http.StatusAccepted, &j)
				w.id["J1"] = j.ID
			}
			return w.id["J1"]
		}
		switch route {
		case "POST /v1/admin/reindex":
			r.call = fixed(call{path: "/v1/admin/reindex", body: map[string]any{"kind": "verify"}})
			if who == "A" {
				r.want = allow(http.StatusAccepted, http.StatusConflict)
			}
		case "GET /v1/admin/reindex":
			r.call = fixed(call{path: "/v1/admin/reindex"})
		default:
			r.object = "a job"
			suffix := strings.TrimPrefix(route, method(route)+" /v1/admin/reindex/:id")
			r.call = func(t *testing.T) call { return call{path: "/v1/admin/reindex/" + job(t) + suffix} }
			if who == "A" && suffix != "" {
				r.want = allow(http.StatusAccepted, http.StatusConflict)
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// groupInvitationCases: a group's admins list and withdraw its pending invitations;
// a member is refused, everybody else finds no group. I1 is G1's; asking for it
// through G2 finds nothing even for G2's admin.
func groupInvitationCases(w *world, route string) []row {
	var rows []row
	for _, g := range []string{"G1", "G2"} {
		for _, who := range principals {
			role := memberships[g][who]
			r := row{route: route, who: who, object: g, affects: []string{"invitations:G1"}}
			path := "/v1/groups/" + w.id[g] + "/invitations"
			okStatus := http.StatusOK
			if method(route) == "DELETE" {
				r.object, path, okStatus = g+"/I1", path+"/"+w.id["I1"], http.StatusNoContent
			}
			switch {
			case who == "anon":
				r.want = unauth
			case role == "admin" && method(route) == "DELETE" && g == "G2":
				r.want = hidden // I1 is not G2's
			case role == "admin":
				r.want = allow(okStatus)
			case role == "member":
				r.want = forbidden
			default:
				r.want = hidden
			}
			r.call = fixed(call{path: path})
			if r.want.class == "allowed" && method(route) == "GET" {
				r.check = func(t *testing.T, body string) {
					require.Equal(t, g == "G1", strings.Contains(body, w.id["I1"]), body)
				}
			}
			if r.want.class == "allowed" && method(route) == "DELETE" {
				r.object, r.call = "a scratch invitation of "+g, func(t *testing.T) call {
					scratch := w.newGroup(t, w.key[who])
					inv := w.invite(t, scratch, w.key[who], w.id["U4"])
					return call{path: "/v1/groups/" + scratch + "/invitations/" + inv}
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// myInvitations: each caller sees only the invitations waiting for them.
func myInvitations(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "-", want: gate(who, true, http.StatusOK), call: fixed(call{path: "/v1/me/invitations"})}
		if who != "anon" {
			r.check = func(t *testing.T, body string) {
				require.Equal(t, who == "U4", strings.Contains(body, w.id["I1"]), body)
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// answerInvitation: only the invitee answers an invitation; for everybody else it
// does not exist, and refusing them leaves it pending.
func answerInvitation(w *world, route string) []row {
	var rows []row
	verb := strings.TrimPrefix(route, "POST /v1/me/invitations/:id/")
	for _, who := range principals {
		r := row{route: route, who: who, object: "I1 (U4's)", want: gate(who, who == "U4", http.StatusOK),
			affects: []string{"invitations:G1", "group:G1"}, call: fixed(call{path: "/v1/me/invitations/" + w.id["I1"] + "/" + verb})}
		if verb == "decline" {
			r.want = gate(who, who == "U4", http.StatusNoContent)
		}
		if who == "U4" {
			r.object, r.call = "a scratch invitation of U4", func(t *testing.T) call {
				inv := w.invite(t, w.newGroup(t, w.key["U1"]), w.key["U1"], w.id["U4"])
				return call{path: "/v1/me/invitations/" + inv + "/" + verb}
			}
		}
		rows = append(rows, r)
	}
	return rows
}
