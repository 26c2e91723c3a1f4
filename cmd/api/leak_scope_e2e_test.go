package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api"
)

// Scoped grounding in the leak matrix: every route that takes a scope, asked by
// every principal with a scope naming each fixture document and group, and one
// that does not exist. A scope may name only what its caller can see, and is
// refused in the same words when it names anything else (400 naming the field,
// as for an id that exists nowhere); an accepted scope only narrows: the answer,
// its citations and the whole event stream show the documents the caller may see
// within the scope, and nothing of any other.

// withScopes adds the scope rows of a route to its other rows.
func withScopes(cases caseFunc) caseFunc {
	return func(w *world, route string) []row { return append(cases(w, route), scopeCases(w, route)...) }
}

// scopeTargets are what the rows' scopes name: each document, each group, and X,
// a document that does not exist.
var scopeTargets = []string{"D1", "D2", "D3", "D4", "D5", "G1", "G2", "X"}

// missingID names nothing that exists.
const missingID = "6f1c2a7e-0b8d-4c1e-9a55-3d2f1e0c9b77"

func isGroup(target string) bool { return strings.HasPrefix(target, "G") }

// scopeBody is the scope naming target.
func (w *world) scopeBody(target string) map[string]any {
	id := missingID
	if target != "X" {
		id = w.id[target]
	}
	if isGroup(target) {
		return map[string]any{"group_ids": []string{id}}
	}
	return map[string]any{"document_ids": []string{id}}
}

// mayScope is whether who may name target in a scope: a document they see, a
// group they are a member of.
func mayScope(who, target string) bool {
	switch {
	case target == "X":
		return false
	case isGroup(target):
		return isMember(who, target)
	}
	return sees(who, target)
}

// inScope is whether doc may be found by who under a scope naming target: it must
// be both visible to who and within the scope.
func inScope(who, target, doc string) bool {
	if !sees(who, doc) {
		return false
	}
	if isGroup(target) {
		return docSpecs[doc].group == target
	}
	return doc == target
}

// requireScopeRefused requires the refusal of a scope naming target, in the words
// used for what does not exist.
func requireScopeRefused(t *testing.T, target, body string) {
	t.Helper()
	var p api.Problem
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	want := []map[string]string{{"field": "scope.document_ids[0]", "message": "no such document"}}
	if isGroup(target) {
		want = []map[string]string{{"field": "scope.group_ids[0]", "message": "no such group"}}
	}
	var got []map[string]string
	for _, f := range p.Errors {
		got = append(got, map[string]string{"field": f.Field, "message": f.Message})
	}
	require.Equal(t, want, got, "the same words whether it exists or not: %s", body)
	require.Equal(t, want[0]["field"]+": "+want[0]["message"], p.Detail)
}

// requireScopedAnswer requires that a scoped turn's answer, citations and events
// show exactly the documents who may find within target's scope.
func (w *world) requireScopedAnswer(t *testing.T, who, target string, turn turnBody) {
	t.Helper()
	ids := map[string]string{}
	for _, d := range docNames {
		ids[w.id[d]] = d
	}
	var want, cited []string
	for _, d := range docNames {
		if inScope(who, target, d) {
			want = append(want, d)
		}
	}
	seen := map[string]bool{}
	for _, c := range turn.Citations {
		if d := ids[c.DocumentID]; !seen[d] {
			seen[d] = true
			cited = append(cited, d)
		}
	}
	sort.Strings(cited)
	require.Equal(t, want, cited, "%s with a scope of %s: citations", who, target)
	var events strings.Builder
	for _, e := range readEvents(t, w.base, w.key[who], turn.ID, 0, 0) {
		events.WriteString(e.Type + " " + e.Data + "\n")
	}
	require.Contains(t, events.String(), "turn.completed")
	for _, d := range docNames {
		shown := inScope(who, target, d)
		for _, text := range []string{turn.Answer, events.String()} {
			require.Equal(t, shown, strings.Contains(text, w.canary[d]), "%s with a scope of %s: the text of %s", who, target, d)
		}
		if !shown {
			require.NotContains(t, events.String(), w.filename[d], "%s with a scope of %s: the name of %s", who, target, d)
		}
	}
}

// turnBody is a turn as the rows read it.
type turnBody struct {
	ID        string          `json:"id"`
	Status    string          `json:"status"`
	Answer    string          `json:"answer"`
	Scope     json.RawMessage `json:"scope"`
	Citations []struct {
		DocumentID string `json:"document_id"`
	} `json:"citations"`
}

// waitTurn follows a turn's events to its end and returns it as stored.
func (w *world) waitTurn(t *testing.T, who, id string) turnBody {
	t.Helper()
	readEvents(t, w.base, w.key[who], id, 0, 0)
	var turn turnBody
	w.do(t, "GET", "/v1/chat/turns/"+id, w.key[who], nil, http.StatusOK, &turn)
	require.Equal(t, "completed", turn.Status, turn.Answer)
	return turn
}

func scopeCases(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		for _, target := range scopeTargets {
			scope := w.scopeBody(target)
			ok := mayScope(who, target)
			r := row{route: route, who: who, object: "scope " + target}
			refused := func(t *testing.T, body string) { requireScopeRefused(t, target, body) }
			switch route {
			case "POST /v1/chat/sessions":
				r.want = gate(who, true, http.StatusCreated)
				r.call = fixed(call{path: "/v1/chat/sessions", body: map[string]any{"title": "scoped", "scope": scope}})
				if who != "anon" && !ok {
					r.want, r.check = invalid, refused
				}
			case "PATCH /v1/chat/sessions/:id":
				// Only U1's S1 exists for this route: to everybody else it is hidden,
				// whatever the scope names.
				r.object = "S1, scope " + target
				r.want, r.affects = gate(who, who == "U1", http.StatusOK), []string{"session:S1"}
				r.call = fixed(call{path: "/v1/chat/sessions/" + w.id["S1"], body: map[string]any{"scope": scope}})
				switch {
				case who == "U1" && ok:
					r.object, r.call = "a scratch session, scope "+target, w.scratchSession(route, map[string]any{"scope": scope})
					r.check = func(t *testing.T, body string) { require.Contains(t, body, scopeID(w, target)) }
				case who == "U1":
					r.want, r.check = invalid, refused
				}
			case "POST /v1/chat/sessions/:id/messages":
				r.object = "S1, scope " + target
				r.want, r.affects = gate(who, who == "U1", http.StatusAccepted), []string{"session:S1", "turn:T1"}
				body := map[string]any{"content": w.canaryQuestion(), "scope": scope}
				r.call = fixed(call{path: "/v1/chat/sessions/" + w.id["S1"] + "/messages", body: body})
				switch {
				case who == "U1" && ok:
					r.object, r.call = "a scratch session, scope "+target, w.scratchSession(route, body)
					r.check = func(t *testing.T, body string) {
						var posted struct {
							Turn turnBody `json:"turn"`
						}
						require.NoError(t, json.Unmarshal([]byte(body), &posted))
						require.Contains(t, string(posted.Turn.Scope), scopeID(w, target))
						w.requireScopedAnswer(t, who, target, w.waitTurn(t, who, posted.Turn.ID))
					}
				case who == "U1":
					r.want, r.check = invalid, refused
				}
			case "POST /v1/chat/send":
				r.want = gate(who, true, http.StatusOK)
				r.call = fixed(call{path: "/v1/chat/send", body: map[string]any{"content": w.canaryQuestion(), "scope": scope}})
				switch {
				case who == "anon":
				case ok:
					r.check = func(t *testing.T, body string) {
						var sent struct {
							Turn turnBody `json:"turn"`
						}
						require.NoError(t, json.Unmarshal([]byte(body), &sent))
						require.Equal(t, "completed", sent.Turn.Status)
						w.requireScopedAnswer(t, who, target, sent.Turn)
					}
				default:
					r.want, r.check = invalid, refused
				}
			}
			rows = append(rows, r)
		}
	}
	if route == "POST /v1/chat/send" {
		rows = append(rows, w.revokedScopeRow(route))
	}
	return rows
}

func scopeID(w *world, target string) string {
	if target == "X" {
		return missingID
	}
	return w.id[target]
}

// scratchSession makes a session of U1's for an allowed write, so S1 stays as it is.
func (w *world) scratchSession(route string, body any) func(t *testing.T) call {
	return func(t *testing.T) call {
		var s struct{ ID string }
		w.do(t, "POST", "/v1/chat/sessions", w.key["U1"], map[string]any{"title": "scratch"}, http.StatusCreated, &s)
		path := strings.Replace(strings.TrimPrefix(route, method(route)+" "), ":id", s.ID, 1)
		return call{path: path, body: body}
	}
}

// revokedScopeRow: a scope outlives the access it was chosen under and then finds
// nothing. U2 grounds a chat in a document U1 shares with G1, and in G1; U1 then
// makes that document private. U2's next question finds G1's other document and
// nothing of the one U1 took back, though the chat's scope still names it.
func (w *world) revokedScopeRow(route string) row {
	var scratchCanary, scratchName, scratchID string
	return row{route: route, who: "U2", object: "a chat scoped to a G1 document since made private", want: allow(http.StatusOK),
		call: func(t *testing.T) call {
			scratchCanary = "CANARY-TAKEN-BACK-" + randomHex(6)
			scratchName = "taken-back-" + randomHex(4) + ".txt"
			text := fmt.Sprintf("Falcon ledger entry taken back. The access code %s belongs to this record only.\n", scratchCanary)
			scratchID = w.uploadNamed(t, "U1", scratchName, text, map[string]string{"group_id": w.id["G1"]})
			w.waitReady(t, "U1", scratchID)
			t.Cleanup(func() { w.do(t, "DELETE", "/v1/documents/"+scratchID, w.key["U1"], nil, http.StatusAccepted, nil) })
			var s struct{ ID string }
			w.do(t, "POST", "/v1/chat/sessions", w.key["U2"], map[string]any{"title": "taken back",
				"scope": map[string]any{"document_ids": []string{scratchID}, "group_ids": []string{w.id["G1"]}}}, http.StatusCreated, &s)
			// While U2 may see it, the chat finds it.
			question := w.canaryQuestion() + " " + scratchCanary[strings.LastIndex(scratchCanary, "-")+1:]
			before := w.do(t, "POST", "/v1/chat/send", w.key["U2"], map[string]any{"content": question, "session_id": s.ID}, http.StatusOK, nil)
			require.Contains(t, before, scratchCanary, "the scoped chat finds the document while it is shared")
			w.do(t, "PATCH", "/v1/documents/"+scratchID, w.key["U1"], map[string]any{"group_id": w.id["G1"], "private": true}, http.StatusOK, nil)
			return call{path: "/v1/chat/send", body: map[string]any{"content": question, "session_id": s.ID}}
		},
		check: func(t *testing.T, body string) {
			var sent struct {
				SessionID string   `json:"session_id"`
				Turn      turnBody `json:"turn"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &sent))
			require.Contains(t, string(sent.Turn.Scope), scratchID, "the scope still names it")
			w.requireScopedAnswer(t, "U2", "G1", sent.Turn)
			var events strings.Builder
			for _, e := range readEvents(t, w.base, w.key["U2"], sent.Turn.ID, 0, 0) {
				events.WriteString(e.Type + " " + e.Data + "\n")
			}
			for _, text := range []string{body, events.String()} {
				require.NotContains(t, text, scratchCanary, "the document taken back is never found")
				require.NotContains(t, text, scratchName)
			}
			for _, c := range sent.Turn.Citations {
				require.NotEqual(t, scratchID, c.DocumentID)
			}
		}}
}
