package main

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// exportCases: everybody signed in exports their own data; the archive's manifest
// names exactly the fixture documents the caller owns and no chat of anybody else.
func exportCases(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "own data", want: gate(who, true, http.StatusOK), call: fixed(call{path: "/v1/me/export"})}
		if who != "anon" {
			r.check = func(t *testing.T, body string) {
				manifest := readArchiveFile(t, body, "manifest.json")
				for _, doc := range docNames {
					spec := docSpecs[doc]
					if spec.owner == who && !spec.deleted {
						require.Contains(t, manifest, w.id[doc], "%s's export has %s", who, doc)
					} else {
						require.NotContains(t, manifest, w.id[doc], "%s's export lacks %s", who, doc)
					}
				}
				if who != "U1" {
					require.NotContains(t, manifest, w.id["S1"], "U1's chat is U1's alone")
				}
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// purgeChatsCases: the purge takes the caller's chats and nobody else's. Each signed-in
// row purges a scratch user's chats, so the fixture's chats stay for the other rows;
// U1's chat S1 must survive every one of them.
func purgeChatsCases(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "own chats", want: gate(who, true, http.StatusNoContent),
			affects: []string{"session:S1"}, call: fixed(call{path: "/v1/me/chat/sessions"})}
		if who != "anon" {
			var scratch scratchChatter
			r.object, r.check = "a scratch user's own chats", scratch.purged(w)
			r.call = func(t *testing.T) call {
				scratch = newScratchChatter(t, w)
				return call{path: "/v1/me/chat/sessions", key: scratch.key}
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// scratchChatter is a user made for one row, with one chat, so that a row allowed
// to erase chats erases nobody's the other rows need.
type scratchChatter struct{ id, key, session string }

func newScratchChatter(t *testing.T, w *world) scratchChatter {
	var c scratchChatter
	c.id, c.key = w.newUser(t, "scratch-"+randomHex(4))
	var s struct{ ID string }
	w.do(t, "POST", "/v1/chat/sessions", c.key, map[string]any{"title": "to be purged"}, http.StatusCreated, &s)
	c.session = s.ID
	return c
}

// purged checks that the scratch user's chat is gone and U1's chat S1 is not.
func (c *scratchChatter) purged(w *world) func(t *testing.T, body string) {
	return func(t *testing.T, _ string) {
		w.do(t, "GET", "/v1/chat/sessions/"+c.session, c.key, nil, http.StatusNotFound, nil)
		w.do(t, "GET", "/v1/chat/sessions/"+w.id["S1"], w.key["U1"], nil, http.StatusOK, nil)
	}
}

// readArchiveFile returns one file of a zip held in body.
func readArchiveFile(t *testing.T, body, name string) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader([]byte(body)), int64(len(body)))
	require.NoError(t, err)
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			require.NoError(t, err)
			defer rc.Close()
			b, err := io.ReadAll(rc)
			require.NoError(t, err)
			return string(b)
		}
	}
	t.Fatalf("no %s in the archive", name)
	return ""
}

// deleteSelfCases: an account deletes itself and nothing of anybody else's. Each
// signed-in row deletes a scratch user, so the fixture's users stay for the other
// rows; U1's documents must survive every one of them.
func deleteSelfCases(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		body := map[string]any{"shared_documents": "transfer"}
		r := row{route: route, who: who, object: "own account", want: gate(who, true, http.StatusAccepted),
			affects: []string{"doc:D1"}, call: fixed(call{path: "/v1/me", body: body})}
		if who != "anon" {
			var scratchKey string
			r.object, r.call = "a scratch user's own account", func(t *testing.T) call {
				_, scratchKey = w.newUser(t, "scratch-"+randomHex(4))
				return call{path: "/v1/me", key: scratchKey, body: body}
			}
			r.check = func(t *testing.T, _ string) {
				w.do(t, "GET", "/v1/me", scratchKey, nil, http.StatusUnauthorized, nil)
				w.do(t, "GET", "/v1/documents/"+w.id["D1"], w.key["U1"], nil, http.StatusOK, nil)
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// adminExportCases: only an admin exports another user's data, and it holds what
// that user owns and nothing else (an audited, deliberate exception to admins not
// reading users' private documents); everybody else gets 404, U1 included for
// their own id.
func adminExportCases(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "U1's data", want: gate(who, who == "A", http.StatusOK),
			call: fixed(call{path: "/v1/admin/users/" + w.id["U1"] + "/export"})}
		if who == "A" {
			r.seenAs = "U1"
			r.check = func(t *testing.T, body string) {
				manifest := readArchiveFile(t, body, "manifest.json")
				require.Contains(t, manifest, w.id["D1"])
				require.NotContains(t, manifest, w.id["D4"], "U3's document is not U1's")
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// adminPurgeChatsCases: only an admin erases another user's chats; refused rows
// leave U1's chat S1 as it was, and the admin's row erases a scratch user's.
func adminPurgeChatsCases(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "U1's chats", want: gate(who, who == "A", http.StatusNoContent),
			affects: []string{"session:S1"}, call: fixed(call{path: "/v1/admin/users/" + w.id["U1"] + "/chat/sessions"})}
		if who == "A" {
			var scratch scratchChatter
			r.object, r.check = "a scratch user's chats", scratch.purged(w)
			r.call = func(t *testing.T) call {
				scratch = newScratchChatter(t, w)
				return call{path: "/v1/admin/users/" + scratch.id + "/chat/sessions"}
			}
		}
		rows = append(rows, r)
	}
	return rows
}
