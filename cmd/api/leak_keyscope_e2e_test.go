package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/api"
	"github.com/youworker/youworker/pkg/llmtest"
)

// The leak matrix's dimension "key scope": an API key limited to some of its user's
// groups must not show documents of other groups (or of no group) anywhere — get,
// content, list, search in every mode, chat answers, citations and events — and a
// key without a route's scope is refused with 403 scope_denied on every route.

// limitedKeys are the fixture's group-limited keys: user and the groups the key reaches.
var limitedKeys = map[string]struct {
	user   string
	groups []string
}{
	"U1@G1": {"U1", []string{"G1"}},
	"U1@G3": {"U1", []string{"G3"}},
	"U2@G1": {"U2", []string{"G1"}},
	"U4@G3": {"U4", []string{"G3"}},
}

// keyScopeWorld is the leak matrix's world plus G3 (U1 admin, U4 member) and D6,
// U4's document shared in G3, so U1 belongs to two groups with documents in each.
type keyScopeWorld struct {
	*world
	docs        []string
	specs       map[string]docSpec
	memberships map[string]map[string]string
}

// sees is the rule for a limited key, restated as the test's oracle: what its user
// sees, and only in the key's groups.
func (k *keyScopeWorld) sees(who, doc string) bool {
	lk := limitedKeys[who]
	d := k.specs[doc]
	if d.deleted || !slices.Contains(lk.groups, d.group) {
		return false
	}
	if d.owner == lk.user {
		return true
	}
	_, member := k.memberships[d.group][lk.user]
	return !d.private && member
}

func (k *keyScopeWorld) requireNoLeak(t *testing.T, who, text string) {
	t.Helper()
	for _, d := range k.docs {
		if !k.sees(who, d) {
			require.NotContains(t, text, k.canary[d], "%s must not see the text of %s", who, d)
			require.NotContains(t, text, k.filename[d], "%s must not see the name of %s", who, d)
		}
	}
}

func (k *keyScopeWorld) requireExactly(t *testing.T, body string, want func(doc string) bool) {
	t.Helper()
	for _, d := range k.docs {
		require.Equal(t, want(d), strings.Contains(body, k.id[d]), "%s in %s", d, body)
	}
}

func newKeyScopeWorld(t *testing.T) *keyScopeWorld {
	llm := llmtest.New(t)
	w := newWorld(t, map[string]string{"YW_OLLAMA_URL": llm.URL, "YW_EMBED_MODEL": llmtest.EmbedModel, "YW_CHAT_BACKEND": "extractive"})
	k := &keyScopeWorld{world: w, docs: append(slices.Clone(docNames), "D6"), specs: map[string]docSpec{},
		memberships: map[string]map[string]string{"G3": {"U1": "admin", "U4": "member"}}}
	for d, s := range docSpecs {
		k.specs[d] = s
	}
	for g, m := range memberships {
		k.memberships[g] = m
	}
	w.id["G3"] = w.newGroup(t, w.key["U1"])
	w.addMember(t, w.id["G3"], w.key["U1"], w.id["U4"])
	k.specs["D6"] = docSpec{owner: "U4", group: "G3"}
	w.canary["D6"] = "CANARY-D6-" + randomHex(6)
	w.filename["D6"] = "secret-d6-" + randomHex(4) + ".txt"
	w.id["D6"] = w.uploadNamed(t, "U4", w.filename["D6"],
		fmt.Sprintf("Falcon ledger entry D6. The access code %s belongs to this record only.\n", w.canary["D6"]),
		map[string]string{"group_id": w.id["G3"]})
	w.waitReady(t, "U4", w.id["D6"])
	for who, lk := range limitedKeys {
		groups := make([]string, len(lk.groups))
		for i, g := range lk.groups {
			groups[i] = w.id[g]
		}
		var key struct {
			Key      string   `json:"key"`
			GroupIDs []string `json:"group_ids"`
		}
		w.do(t, "POST", "/v1/me/keys", w.key[lk.user], map[string]any{"name": who, "group_ids": groups}, http.StatusCreated, &key)
		require.Equal(t, groups, key.GroupIDs)
		w.key[who] = key.Key
	}
	return k
}

func TestLeakMatrixKeyScopeEndToEnd(t *testing.T) {
	t.Parallel()
	k := newKeyScopeWorld(t)
	rows := 0
	for who := range limitedKeys {
		key := k.key[who]
		for _, d := range k.docs {
			for _, sub := range []string{"", "/content"} {
				want := http.StatusNotFound
				if k.sees(who, d) {
					want = http.StatusOK
				}
				_, body := k.send(t, call{method: "GET", path: "/v1/documents/" + k.id[d] + sub, key: key}, want)
				k.requireNoLeak(t, who, body)
				rows++
			}
		}
		for _, g := range []string{"", "G1", "G2", "G3"} {
			path := "/v1/documents?limit=200"
			if g != "" {
				path += "&group_id=" + k.id[g]
			}
			_, body := k.send(t, call{method: "GET", path: path, key: key}, http.StatusOK)
			k.requireExactly(t, body, func(d string) bool { return k.sees(who, d) && (g == "" || k.specs[d].group == g) })
			rows++
			for _, mode := range searchModes {
				req := map[string]any{"query": k.canaryQuestionAll(), "limit": 50, "mode": mode}
				want := http.StatusOK
				if g != "" {
					req["group_id"] = k.id[g]
					if !slices.Contains(limitedKeys[who].groups, g) {
						want = http.StatusNotFound // a group outside the key does not exist for it
					}
				}
				_, body := k.send(t, call{method: "POST", path: "/v1/search", key: key, body: req}, want)
				k.requireNoLeak(t, who, body)
				if want == http.StatusOK {
					wanted := func(d string) bool { return k.sees(who, d) && (g == "" || k.specs[d].group == g) }
					k.requireExactly(t, body, wanted)
					for _, d := range k.docs {
						if wanted(d) {
							require.Contains(t, body, k.canary[d], "%s's hit carries its text", d)
						}
					}
				}
				rows++
			}
		}
		k.requireChatKeepsToTheKey(t, who)
		rows++
	}
	// The user's own documents outside the key's groups cannot be changed through it.
	for _, c := range []struct{ who, doc string }{{"U1@G1", "D1"}, {"U1@G3", "D1"}, {"U1@G3", "D2"}, {"U4@G3", "D4"}} {
		before := k.snapshot(t, "doc:"+c.doc)
		for _, r := range []call{
			{method: "PATCH", path: "/v1/documents/" + k.id[c.doc], body: map[string]any{"private": true}},
			{method: "POST", path: "/v1/documents/" + k.id[c.doc] + "/retry"},
			{method: "DELETE", path: "/v1/documents/" + k.id[c.doc]},
		} {
			r.key = k.key[c.who]
			_, body := k.send(t, r, http.StatusNotFound)
			k.requireNoLeak(t, c.who, body)
			rows++
		}
		require.Equal(t, before, k.snapshot(t, "doc:"+c.doc))
	}
	// Uploads go into the key's groups only.
	form := func(group string) map[string]string {
		f := map[string]string{"file": "a harmless note " + randomHex(8)}
		if group != "" {
			f["group_id"] = k.id[group]
		}
		return f
	}
	k.send(t, call{method: "POST", path: "/v1/documents", key: k.key["U1@G1"], form: form("")}, http.StatusBadRequest)
	k.send(t, call{method: "POST", path: "/v1/documents", key: k.key["U1@G1"], form: form("G3")}, http.StatusNotFound)
	_, body := k.send(t, call{method: "POST", path: "/v1/documents", key: k.key["U1@G1"], form: form("G1")}, http.StatusAccepted)
	var up struct{ Documents []struct{ ID string } }
	require.NoError(t, json.Unmarshal([]byte(body), &up))
	k.do(t, "DELETE", "/v1/documents/"+up.Documents[0].ID, k.key["U1@G1"], nil, http.StatusAccepted, nil)
	t.Logf("key scope: %d rows over %d limited keys", rows+3, len(limitedKeys))
}

// canaryQuestionAll asks for every document of the key-scope world at once.
func (k *keyScopeWorld) canaryQuestionAll() string {
	q := "falcon ledger access code"
	for _, d := range k.docs {
		q += " " + k.canary[d][strings.LastIndex(k.canary[d], "-")+1:]
	}
	return q
}

// requireChatKeepsToTheKey asks for every canary with a limited key: the answer,
// its citations and the whole event stream show only documents the key reaches.
func (k *keyScopeWorld) requireChatKeepsToTheKey(t *testing.T, who string) {
	t.Helper()
	_, body := k.send(t, call{method: "POST", path: "/v1/chat/send", key: k.key[who], body: map[string]any{"content": k.canaryQuestionAll()}}, http.StatusOK)
	var sent struct {
		Turn struct {
			ID        string
			Status    string
			Answer    string
			Citations []struct {
				DocumentID string `json:"document_id"`
			}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(body), &sent))
	require.Equal(t, "completed", sent.Turn.Status, body)
	names := map[string]string{}
	visible := 0
	for _, d := range k.docs {
		names[k.id[d]] = d
		if k.sees(who, d) {
			visible++
		}
	}
	for _, c := range sent.Turn.Citations {
		require.True(t, k.sees(who, names[c.DocumentID]), "%s was shown a citation of %s", who, names[c.DocumentID])
	}
	require.Equal(t, visible > 0, len(sent.Turn.Citations) > 0, "citations: %s", body)
	k.requireNoLeak(t, who, body)
	var events strings.Builder
	for _, e := range readEvents(t, k.base, k.key[who], sent.Turn.ID, 0, 0) {
		events.WriteString(e.Type + " " + e.Data + "\n")
	}
	require.Contains(t, events.String(), "turn.completed")
	k.requireNoLeak(t, who, events.String())
}

// scopeOfRoute is the scope each route must need, restated by rule as the test's
// oracle: admin routes need admin, chat routes chat, reading documents and groups
// documents:read, changing them documents:write; the caller's own account needs
// none. A route this rule does not know fails the test until it is taught.
func scopeOfRoute(route string) (access.Scope, bool) {
	m, path, _ := strings.Cut(route, " ")
	switch {
	case route == "GET /v1/me/export", route == "DELETE /v1/me", route == "GET /v1/admin/users/:id/export":
		// The whole account, or another user's private documents: no limited key.
		return access.ScopeFull, true
	case path == "/v1/me/chat/sessions":
		return access.ScopeChat, true
	case strings.HasPrefix(path, "/v1/admin/"):
		return access.ScopeAdmin, true
	case strings.HasPrefix(path, "/v1/chat/"):
		return access.ScopeChat, true
	case path == "/v1/search":
		return access.ScopeDocumentsRead, true
	case path == "/v1/models", path == "/v1/tools":
		// What chat offers: models to choose and tools it calls.
		return access.ScopeChat, true
	case strings.HasPrefix(path, "/v1/documents"), strings.HasPrefix(path, "/v1/groups"), strings.HasPrefix(path, "/v1/me/invitations"):
		if m == "GET" {
			return access.ScopeDocumentsRead, true
		}
		return access.ScopeDocumentsWrite, true
	case slices.Contains([]string{"/v1/me", "/v1/status", "/v1/me/keys", "/v1/me/keys/:id", "/v1/me/usage"}, path):
		return access.ScopeNone, true
	}
	return "", false
}

// TestEveryRouteRefusesKeysWithoutItsScope derives the routes from the router: each
// /v1 route must declare the scope the rule above gives it, refuse with 403
// scope_denied a key holding every other scope, and let a key holding just that
// scope through to the handler.
func TestEveryRouteRefusesKeysWithoutItsScope(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	keyWith := map[string]string{}
	mint := func(who string, scopes []access.Scope) string {
		var k struct{ Key string }
		w.do(t, "POST", "/v1/me/keys", w.key[who], map[string]any{"scopes": scopes}, http.StatusCreated, &k)
		return k.Key
	}
	for _, s := range access.AllScopes {
		keyWith["A:"+string(s)] = mint("A", []access.Scope{s})
		keyWith["A:all but "+string(s)] = mint("A", slices.DeleteFunc(slices.Clone(access.AllScopes), func(o access.Scope) bool { return o == s }))
		if s != access.ScopeAdmin {
			keyWith["U1:all but "+string(s)] = mint("U1", slices.DeleteFunc(slices.Clone(access.AllScopes[:3]), func(o access.Scope) bool { return o == s }))
		}
	}
	keyWith["A:every scope"] = mint("A", access.AllScopes)
	var limited struct{ Key string }
	w.do(t, "POST", "/v1/me/keys", w.key["U1"], map[string]any{"group_ids": []string{w.id["G1"]}}, http.StatusCreated, &limited)
	keyWith["U1:G1 only"] = limited.Key
	routes := 0
	for _, route := range routeTable(t) {
		method, pattern, _ := strings.Cut(route, " ")
		if !strings.HasPrefix(pattern, "/v1/") || pattern == "/v1/openapi.json" {
			continue
		}
		routes++
		want, known := scopeOfRoute(route)
		require.True(t, known, "%s: teach scopeOfRoute which scope this route needs, and declare it in pkg/api/scopes.go", route)
		got, declared := api.RouteScope(method, pattern)
		require.True(t, declared, "%s declares no scope in pkg/api/scopes.go", route)
		require.Equal(t, want, got, "%s declares the wrong scope", route)
		path := pattern
		for strings.Contains(path, ":") {
			i := strings.Index(path, ":")
			j := strings.Index(path[i:]+"/", "/")
			path = path[:i] + uuid.NewString() + path[i+j:]
		}
		t.Run(route, func(t *testing.T) {
			if want == access.ScopeFull {
				for _, denied := range []string{"A:every scope", "U1:G1 only"} {
					_, body := w.send(t, call{method: method, path: path, key: keyWith[denied]}, http.StatusForbidden)
					require.Contains(t, body, `"code":"scope_denied"`, denied)
				}
				_, body := w.send(t, call{method: method, path: path, key: w.key["A"]},
					http.StatusOK, http.StatusNotFound, http.StatusBadRequest, http.StatusConflict)
				require.NotContains(t, body, "scope_denied")
				return
			}
			if want == access.ScopeNone {
				for _, s := range access.AllScopes {
					resp, body := w.send(t, call{method: method, path: path, key: keyWith["A:"+string(s)]},
						http.StatusOK, http.StatusCreated, http.StatusNoContent, http.StatusNotFound, http.StatusBadRequest)
					require.NotContains(t, body, "scope_denied", "%d", resp.StatusCode)
				}
				return
			}
			for _, denied := range []string{"A:all but " + string(want), "U1:all but " + string(want)} {
				if keyWith[denied] == "" {
					continue
				}
				_, body := w.send(t, call{method: method, path: path, key: keyWith[denied]}, http.StatusForbidden)
				require.Contains(t, body, `"code":"scope_denied"`, denied)
			}
			// With the scope, the request reaches its handler, which judges the
			// made-up ids and empty bodies on their own terms.
			_, body := w.send(t, call{method: method, path: path, key: keyWith["A:"+string(want)]},
				http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusNoContent, http.StatusNotFound,
				http.StatusBadRequest, http.StatusConflict, http.StatusUnsupportedMediaType)
			require.NotContains(t, body, "scope_denied")
		})
	}
	require.Greater(t, routes, 40, "the router's /v1 routes were found")
}
