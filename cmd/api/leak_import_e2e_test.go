package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/legacyimport"
	"github.com/youworker/youworker/pkg/legacyimport/legacytest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

// importedSees is who sees each document of the legacy Standard deployment after
// the import, by the rule restated: its owner, and the members of its group when it
// is not private. A document without a group went to its owner's personal group.
var importedSees = map[string][]string{
	"handbook.txt":  {"alice", "bob"},  // alice's, shared in Engineering (alice, bob)
	"notes.md":      {"alice"},         // alice's, no group: her personal group
	"salaries.pdf":  {"bob"},           // bob's, private in Engineering
	"pipeline.xlsx": {"carol", "dave"}, // carol's, shared in Sales (carol, dave)
	"archive.txt":   {"bob"},           // bob's, in a group without members: his personal group
}

var importedWords = map[string]string{
	"handbook.txt": legacytest.HandbookWord, "notes.md": legacytest.NotesWord, "salaries.pdf": legacytest.SalariesWord,
	"pipeline.xlsx": legacytest.PipelineWord, "archive.txt": legacytest.ArchiveWord,
}

// importedSessions are the chats each imported user owns, by title.
var importedSessions = map[string][]string{"alice": {"Quarterly numbers", "Weather"}, "bob": {""}, "carol": nil, "dave": nil}

// runLegacyImport imports the deployment into the platform env names, as
// `reindexer import-legacy` does, while the API (and its workers) run.
func runLegacyImport(t *testing.T, env map[string]string, legacy *legacytest.Deployment) *legacyimport.Report {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(getenv(env))
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	a, err := app.Open(ctx, cfg, logger, app.Options{Program: "reindexer-import"})
	require.NoError(t, err)
	defer a.Close()
	p := a.Platform
	target := legacyimport.Target{Store: p.Store, Index: p.Index, EmbedMetrics: p.EmbedMetrics, Audit: a.Services.Audit,
		Documents: service.NewDocuments(p.Store, p.Objects, a.Services.Audit, service.DocumentsConfig{MaxUploadBytes: cfg.MaxUploadBytes}, logger),
		Reindex:   a.Services.Reindex, PollEvery: 20 * time.Millisecond, Logger: logger}
	rep, err := legacyimport.Run(ctx, legacyimport.Options{DB: legacy.DBURL, Qdrant: legacy.QdrantURL, Uploads: legacy.Uploads,
		MessageSecrets: []string{legacytest.Secret}}, target)
	require.NoError(t, err)
	return rep
}

// TestImportedUsersSeeExactlyTheirData imports the legacy Standard deployment into a
// running platform and asks, through the API with the users' old keys, what each
// sees: exactly their documents, their groups' documents, their chats; everything
// else answers 404 and never shows up in a list or a search.
func TestImportedUsersSeeExactlyTheirData(t *testing.T) {
	t.Parallel()
	legacy := legacytest.NewStandard(t)
	_, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	lite, _ := vectortest.StartLite(t, t.TempDir())
	env := importEnv(dbURL, nats.URL, "http://"+lite.Addr(), t.TempDir())
	base := startAPI(t, env)
	rep := runLegacyImport(t, env, legacy.Deployment)
	require.Equal(t, 5, rep.ToImport.Documents)

	out, code := cli(t, env, "keys", "rotate", "--name", "dave")
	require.Equal(t, 0, code, out)
	w := &world{base: base, http: &http.Client{Timeout: 60 * time.Second}, contract: loadContract(t, base),
		key: map[string]string{"alice": legacy.AliceKey, "bob": legacy.BobKey, "carol": legacy.CarolKey, "dave": lastLine(out)},
		id:  map[string]string{}}
	users := []string{"alice", "bob", "carol", "dave"}

	// Every user signs in with the key they had; lists show exactly their documents.
	for _, who := range users {
		var me struct {
			Name    string `json:"name"`
			IsAdmin bool   `json:"is_admin"`
		}
		w.do(t, "GET", "/v1/me", w.key[who], nil, http.StatusOK, &me)
		require.Equal(t, who == "alice", me.IsAdmin, who)
		var list struct {
			Documents []struct {
				ID, Filename, Status string
				OriginalAvailable    bool `json:"original_available"`
			} `json:"documents"`
		}
		w.do(t, "GET", "/v1/documents?limit=200", w.key[who], nil, http.StatusOK, &list)
		var names []string
		for _, d := range list.Documents {
			names = append(names, d.Filename)
			w.id[d.Filename] = d.ID
			require.Equal(t, "ready", d.Status, d.Filename)
			require.Equal(t, d.Filename == "handbook.txt", d.OriginalAvailable, d.Filename)
		}
		var want []string
		for name, seers := range importedSees {
			if slices.Contains(seers, who) {
				want = append(want, name)
			}
		}
		require.ElementsMatch(t, want, names, "%s's documents", who)
	}
	require.Len(t, w.id, len(importedSees))

	for name, seers := range importedSees {
		for _, who := range users {
			sees := slices.Contains(seers, who)
			status := http.StatusNotFound
			if sees {
				status = http.StatusOK
			}
			body := w.do(t, "GET", "/v1/documents/"+w.id[name], w.key[who], nil, status, nil)
			if !sees {
				require.NotContains(t, body, name)
			}
			// Search finds the imported chunks, only for who may see them.
			body = w.do(t, "POST", "/v1/search", w.key[who], map[string]any{"query": importedWords[name], "limit": 50}, http.StatusOK, nil)
			require.Equal(t, sees, strings.Contains(body, w.id[name]), "%s searching %s: %s", who, name, body)
			if !sees {
				require.NotContains(t, body, importedWords[name])
			}
		}
	}

	// The original bytes where the file was re-ingested; a clear 404 where only the
	// text was recovered.
	_, body := w.send(t, call{method: "GET", path: "/v1/documents/" + w.id["handbook.txt"] + "/content", key: w.key["bob"]}, http.StatusOK)
	require.Contains(t, body, legacytest.HandbookWord)
	_, body = w.send(t, call{method: "GET", path: "/v1/documents/" + w.id["notes.md"] + "/content", key: w.key["alice"]}, http.StatusNotFound)
	require.Contains(t, body, `"code":"original_unavailable"`)
	w.send(t, call{method: "GET", path: "/v1/documents/" + w.id["notes.md"] + "/content", key: w.key["bob"]}, http.StatusNotFound)

	// Chats: each user's own, and nobody else's.
	sessionIDs := map[string]string{}
	for _, who := range users {
		var list struct {
			Sessions []struct{ ID, Title string } `json:"sessions"`
		}
		w.do(t, "GET", "/v1/chat/sessions", w.key[who], nil, http.StatusOK, &list)
		var titles []string
		for _, s := range list.Sessions {
			titles = append(titles, s.Title)
			sessionIDs[s.ID] = who
		}
		require.ElementsMatch(t, importedSessions[who], titles, "%s's chats", who)
	}
	for id, owner := range sessionIDs {
		for _, who := range users {
			status := http.StatusNotFound
			if who == owner {
				status = http.StatusOK
			}
			w.do(t, "GET", "/v1/chat/sessions/"+id, w.key[who], nil, status, nil)
		}
	}

	// The old keys became keys of the current format; the short one stays legacy.
	var keys struct {
		Keys []struct{ Name, Prefix string } `json:"keys"`
	}
	w.do(t, "GET", "/v1/me/keys", w.key["alice"], nil, http.StatusOK, &keys)
	require.Len(t, keys.Keys, 1)
	require.Equal(t, service.LegacyKeyName, keys.Keys[0].Name)
	w.do(t, "GET", "/v1/me/keys", w.key["carol"], nil, http.StatusOK, &keys)
	require.Empty(t, keys.Keys)

	// The import is among the jobs an admin sees; a non-admin sees no admin route.
	var jobs struct {
		Jobs []struct{ ID, Kind, Status string } `json:"jobs"`
	}
	w.do(t, "GET", "/v1/admin/reindex", w.key["alice"], nil, http.StatusOK, &jobs)
	kinds := map[string]string{}
	for _, j := range jobs.Jobs {
		kinds[j.Kind] = j.Status
	}
	require.Equal(t, map[string]string{"legacy-import": "completed", "group-migration": "completed"}, kinds)
	w.do(t, "GET", "/v1/admin/reindex", w.key["bob"], nil, http.StatusNotFound, nil)
	raw := w.do(t, "GET", "/v1/admin/reindex/"+rep.JobID, w.key["alice"], nil, http.StatusOK, nil)
	var job struct{ Params map[string]any }
	require.NoError(t, json.Unmarshal([]byte(raw), &job))
	require.NotContains(t, raw, legacytest.Secret)
}

func importEnv(dbURL, natsURL, qdrantURL, dataDir string) map[string]string {
	return map[string]string{"YW_DATABASE_URL": dbURL, "YW_NATS_URL": natsURL, "YW_QDRANT_URL": qdrantURL,
		"YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": dataDir, "YW_LOG_LEVEL": "error",
		"YW_RATE_LIMIT_RPS": "100000", "YW_RATE_LIMIT_BURST": "100000"}
}

// newImportedWorld builds the leak matrix's fixture in a legacy deployment — its
// users with legacy keys, its groups, its documents (D1 and D2 with their files,
// the others from the legacy collection's text only) — and imports it into a
// running platform; the rest of the fixture (the deleted D5, an invitation, a spare
// key, a chat) is made through the API as newWorld does. Every request of the
// matrix then signs in with a key the legacy deployment issued.
func newImportedWorld(t *testing.T, extraEnv map[string]string) *world {
	t.Helper()
	legacy := legacytest.New(t)
	_, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	lite, _ := vectortest.StartLite(t, t.TempDir())
	env := importEnv(dbURL, nats.URL, "http://"+lite.Addr(), t.TempDir())
	admin := "bootstrap-admin-key-" + randomHex(12)
	env["YW_BOOTSTRAP_ADMIN_KEY"] = admin
	for k, v := range extraEnv {
		env[k] = v
	}
	base := startAPI(t, env)
	w := &world{base: base, http: &http.Client{Timeout: 60 * time.Second}, contract: loadContract(t, base),
		key: map[string]string{"A": admin, "anon": ""}, id: map[string]string{},
		canary: map[string]string{}, filename: map[string]string{}, textOnly: map[string]bool{}}
	var me struct {
		ID string `json:"id"`
	}
	w.do(t, "GET", "/v1/me", admin, nil, http.StatusOK, &me)
	w.id["A"] = me.ID

	// Recent history, so usage analytics count the documents in their default range.
	legacy.StartAt(time.Now().UTC().Add(-2 * time.Hour))
	legacyID := map[string]int64{}
	for _, u := range []string{"U1", "U2", "U3", "U4"} {
		w.key[u] = "legacy-" + strings.ToLower(u) + "-key-" + randomHex(12)
		legacyID[u] = legacy.User(strings.ToLower(u)+"-"+randomHex(3), false, w.key[u])
	}
	groupName := map[string]string{}
	for g, members := range memberships {
		groupName[g] = "g-" + randomHex(4)
		legacyID[g] = legacy.Group(groupName[g], "fixture")
		for _, u := range []string{"U1", "U2", "U3", "U4"} {
			if role, ok := members[u]; ok {
				legacy.Member(legacyID[u], legacyID[g], role)
			}
		}
	}
	for _, d := range docNames {
		spec := docSpecs[d]
		w.canary[d] = "CANARY-" + d + "-" + randomHex(6)
		w.filename[d] = "secret-" + strings.ToLower(d) + "-" + randomHex(4) + ".txt"
		text := fmt.Sprintf("Falcon ledger entry %s. The access code %s belongs to this record only.", d, w.canary[d])
		doc := legacytest.Doc{User: legacyID[spec.owner], Group: legacyID[spec.group], Private: spec.private,
			Name: w.filename[d], MIME: "text/plain", Chunks: []string{text}}
		if d == "D1" || d == "D2" {
			doc.File = []byte(text + "\n")
		} else {
			w.textOnly[d] = true
		}
		legacy.Document(doc)
	}
	rep := runLegacyImport(t, env, legacy)
	require.Equal(t, 4, rep.ToImport.Users)
	require.Equal(t, 2, rep.ToImport.FromFiles)

	for _, u := range []string{"U1", "U2", "U3", "U4"} {
		w.do(t, "GET", "/v1/me", w.key[u], nil, http.StatusOK, &me)
		w.id[u] = me.ID
	}
	for g := range memberships {
		var groups struct {
			Groups []struct{ ID, Name string } `json:"groups"`
		}
		w.do(t, "GET", "/v1/groups", w.key[map[string]string{"G1": "U1", "G2": "U3"}[g]], nil, http.StatusOK, &groups)
		for _, gr := range groups.Groups {
			if gr.Name == groupName[g] {
				w.id[g] = gr.ID
			}
		}
		require.NotEmpty(t, w.id[g], "group %s was imported", g)
	}
	for _, d := range docNames {
		var list struct {
			Documents []struct{ ID, Filename string } `json:"documents"`
		}
		w.do(t, "GET", "/v1/documents?limit=200", w.key[docSpecs[d].owner], nil, http.StatusOK, &list)
		for _, doc := range list.Documents {
			if doc.Filename == w.filename[d] {
				w.id[d] = doc.ID
			}
		}
		require.NotEmpty(t, w.id[d], "document %s was imported", d)
		w.waitReady(t, docSpecs[d].owner, w.id[d])
	}
	w.finishFixture(t)
	return w
}

// TestLeakMatrixOverImportedData runs the whole leak matrix over a platform whose
// users, keys, groups and documents came from the legacy deployment.
func TestLeakMatrixOverImportedData(t *testing.T) {
	t.Parallel()
	llm := llmtest.New(t)
	w := newImportedWorld(t, map[string]string{"YW_OLLAMA_URL": llm.URL, "YW_EMBED_MODEL": llmtest.EmbedModel, "YW_CHAT_BACKEND": "extractive"})
	w.runMatrix(t)
}
