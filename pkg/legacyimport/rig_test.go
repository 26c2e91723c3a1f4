package legacyimport

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/legacyimport/legacytest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

// rig is the platform an import writes to, running as the programs do: the outbox
// relay, the ingest consumer (for re-ingested files) and the reindex consumer (for
// the group migration), on a fresh database, an embedded NATS and an embedded
// vector store, with the built-in lexical embedder.
type rig struct {
	t    *testing.T
	app  *app.App
	st   *store.Store
	pool *pgxpool.Pool
	vs   *vector.Store
}

func newRig(t *testing.T) *rig {
	t.Helper()
	pool, dbURL := pgtest.NewDB(t)
	nats := queuetest.Start(t)
	lite, vs := vectortest.StartLite(t, t.TempDir())
	env := map[string]string{"YW_DATABASE_URL": dbURL, "YW_NATS_URL": nats.URL, "YW_QDRANT_URL": "http://" + lite.Addr(),
		"YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": t.TempDir(), "YW_LOG_LEVEL": "error"}
	cfg, err := config.Load(func(k string) string { return env[k] })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Program: "legacy-import-test", Relay: true, Ingest: true, Reindex: true})
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, l, nil) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		a.Close()
	})
	return &rig{t: t, app: a, st: a.Platform.Store, pool: pool, vs: vs}
}

// target is what the reindexer's command line hands the import, with the
// services of the running app (their relay wakes at once).
func (r *rig) target() Target {
	p := r.app.Platform
	return Target{Store: p.Store, Index: p.Index, EmbedMetrics: p.EmbedMetrics, Documents: r.app.Services.Documents,
		Reindex: r.app.Services.Reindex, Audit: r.app.Services.Audit, PollEvery: 20 * time.Millisecond}
}

func options(s *legacytest.Standard) Options {
	return Options{DB: s.DBURL, Qdrant: s.QdrantURL, Collection: s.Collection, Uploads: s.Uploads,
		MessageSecrets: []string{legacytest.Secret}}
}

func (r *rig) count(sql string, args ...any) int {
	r.t.Helper()
	var n int
	require.NoError(r.t, r.pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func (r *rig) id(kind string, legacyID int64) string {
	r.t.Helper()
	id, err := r.st.LegacyTarget(context.Background(), kind, legacyID)
	require.NoError(r.t, err, "%s %d was imported", kind, legacyID)
	return id
}

// principal is an imported user as the API sees them.
func (r *rig) principal(legacyUser int64) access.Principal {
	r.t.Helper()
	ctx := context.Background()
	u, err := r.st.GetUser(ctx, r.id(store.LegacyUser, legacyUser))
	require.NoError(r.t, err)
	groups, err := r.st.GroupIDsOf(ctx, u.ID)
	require.NoError(r.t, err)
	return access.Principal{UserID: u.ID, Name: u.Name, IsAdmin: u.IsAdmin, GroupIDs: groups}
}

// waitReady waits until the document is ready (the ingest consumer works on
// re-ingested files in the background).
func (r *rig) waitReady(id string) store.Document {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := r.st.GetDocument(context.Background(), id)
		require.NoError(r.t, err)
		if d.Status == store.StatusReady {
			return d
		}
		require.NotEqual(r.t, store.StatusFailed, d.Status, "document %s failed: %+v", id, d.Error)
		require.True(r.t, time.Now().Before(deadline), "document %s still %s", id, d.Status)
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// searchDocs returns the documents a search by p finds.
func (r *rig) searchDocs(p access.Principal, query string) []string {
	r.t.Helper()
	hits, err := r.app.Services.Search.Search(context.Background(), p, service.SearchRequest{Query: query, Limit: 50})
	require.NoError(r.t, err)
	var ids []string
	for _, h := range hits {
		ids = append(ids, h.DocumentID)
	}
	return ids
}

var errCrash = errors.New("simulated crash")
