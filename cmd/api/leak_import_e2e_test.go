package main

import (
	"context"
	"encoding/json"
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
func runLegacyImport(t *testing.T, env map[string]string, legacy *legacytest.Standard) *legacyimport.Report {
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
	env := map[string]string{"YW_DATABASE_URL": dbURL, "YW_NATS_URL": nats.URL, "YW_QDRANT_URL": "http://" + lite.Addr(),
		"YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": t.TempDir(), "YW_LOG_LEVEL": "error",
		"YW_RATE_LIMIT_RPS": "100000", "YW_RATE_LIMIT_BURST": "100000"}
	base := startAPI(t, env)
	rep := runLegacyImport(t, env, legacy)
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
