package qdrantlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/youworker/youworker/pkg/qdrantlite"
	"github.com/youworker/youworker/pkg/vector"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func chunk(doc string, i int, group string, vec ...float32) vector.Point {
	return vector.Point{
		ID:      vector.PointID(doc, i, "e"),
		Vector:  vec,
		Payload: vector.Payload{DocumentID: doc, OwnerID: "u", GroupID: group, ChunkIndex: i, Embedder: "e", ACLVersion: 1},
	}
}

func start(t testing.TB, dir string, compact int64) (*qdrantlite.Server, *vector.Store) {
	t.Helper()
	ctx := context.Background()
	srv, err := qdrantlite.Start(ctx, qdrantlite.Config{Dir: dir, Addr: "127.0.0.1:0", CompactBytes: compact}, vectortest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	st, err := vector.New(ctx, vector.Config{URL: "http://" + srv.Addr()}, vectortest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return srv, st
}

func stop(t *testing.T, srv *qdrantlite.Server, st *vector.Store) {
	t.Helper()
	require.NoError(t, st.Close())
	require.NoError(t, srv.Close())
}

// populate writes 200 points of 10 documents, relabels two of them and
// deletes one, so a reload has to replay every kind of operation in order.
func populate(t *testing.T, st *vector.Store) {
	ctx := context.Background()
	require.NoError(t, st.EnsureCollection(ctx, "yw_chunks_a", 4, vector.Cosine))
	for d := range 10 {
		var pts []vector.Point
		for i := range 20 {
			pts = append(pts, chunk(fmt.Sprintf("d%d", d), i, "g1", float32(d+1), float32(i), 1, 0))
		}
		require.NoError(t, st.Upsert(ctx, "yw_chunks_a", pts))
	}
	require.NoError(t, st.SetACLByFilter(ctx, "yw_chunks_a", vector.MatchDocuments("d1", "d2"), vector.ACL{OwnerID: "u2", GroupID: "g2", Private: true, ACLVersion: 2}))
	// Depends on the relabel above having happened first.
	require.NoError(t, st.SetPayloadByFilter(ctx, "yw_chunks_a", &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword(vector.FieldGroupID, "g2")}}, map[string]any{vector.FieldACLVersion: 3}))
	require.NoError(t, st.DeleteByFilter(ctx, "yw_chunks_a", vector.MatchDocument("d9")))
	require.NoError(t, st.SwitchAlias(ctx, "yw_chunks", "yw_chunks_a"))
}

func checkPopulated(t *testing.T, st *vector.Store) {
	t.Helper()
	ctx := context.Background()
	n, err := st.Count(ctx, "yw_chunks", nil)
	require.NoError(t, err)
	require.Equal(t, uint64(180), n)
	n, err = st.Count(ctx, "yw_chunks", &qdrant.Filter{Must: []*qdrant.Condition{
		qdrant.NewMatchKeyword(vector.FieldGroupID, "g2"),
		qdrant.NewMatchInt(vector.FieldACLVersion, 3),
		qdrant.NewMatchBool(vector.FieldPrivate, true),
	}})
	require.NoError(t, err)
	require.Equal(t, uint64(40), n)
	pts, err := st.GetPoints(ctx, "yw_chunks", []string{vector.PointID("d3", 7, "e")}, true)
	require.NoError(t, err)
	require.Len(t, pts, 1)
	require.Equal(t, vector.Payload{DocumentID: "d3", OwnerID: "u", GroupID: "g1", ChunkIndex: 7, Embedder: "e", ACLVersion: 1}, pts[0].Payload)
	require.InDeltaSlice(t, []float32{4 / 8.1240384, 7 / 8.1240384, 1 / 8.1240384, 0}, pts[0].Vector, 1e-5, "cosine vectors are stored normalised")
	target, err := st.ResolveAlias(ctx, "yw_chunks")
	require.NoError(t, err)
	require.Equal(t, "yw_chunks_a", target)
	info, err := st.Info(ctx, "yw_chunks")
	require.NoError(t, err)
	require.Len(t, info.Indexes, 6)
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, st := start(t, dir, 0)
	populate(t, st)
	checkPopulated(t, st)
	stop(t, srv, st)

	_, st = start(t, dir, 0)
	checkPopulated(t, st)
}

func TestCompactionKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A tiny threshold compacts after nearly every write.
	srv, st := start(t, dir, 2048)
	populate(t, st)
	checkPopulated(t, st)
	stop(t, srv, st)

	coll := filepath.Join(dir, "collections", "yw_chunks_a")
	require.FileExists(t, filepath.Join(coll, "snapshot.bin"))
	logs, err := filepath.Glob(filepath.Join(coll, "wal-*.log"))
	require.NoError(t, err)
	require.Len(t, logs, 1, "compacted logs are removed")

	srv, st = start(t, dir, 2048)
	checkPopulated(t, st)
	// Writes after a reload of a snapshot land in the right log.
	require.NoError(t, st.DeleteByFilter(context.Background(), "yw_chunks", vector.MatchDocument("d0")))
	stop(t, srv, st)
	_, st = start(t, dir, 2048)
	n, err := st.Count(context.Background(), "yw_chunks", nil)
	require.NoError(t, err)
	require.Equal(t, uint64(160), n)
}

func currentLog(t *testing.T, dir string) string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "collections", "yw_chunks_a", "wal-*.log"))
	require.NoError(t, err)
	require.NotEmpty(t, logs)
	return logs[len(logs)-1]
}

func TestTornTailIsIgnored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, st := start(t, dir, 0)
	populate(t, st)
	stop(t, srv, st)

	// A crash in the middle of an append leaves a partial record.
	f, err := os.OpenFile(currentLog(t, dir), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte{0x00, 0x10, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02})
	require.NoError(t, err)
	require.NoError(t, f.Close())

	srv, st = start(t, dir, 0)
	checkPopulated(t, st)
	// New writes after the cut survive the next restart too.
	require.NoError(t, st.Upsert(context.Background(), "yw_chunks", []vector.Point{chunk("late", 0, "", 1, 1, 1, 1)}))
	stop(t, srv, st)
	_, st = start(t, dir, 0)
	n, err := st.Count(context.Background(), "yw_chunks", vector.MatchDocument("late"))
	require.NoError(t, err)
	require.Equal(t, uint64(1), n)
}

func TestTruncatedLastRecordDropsOnlyIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	srv, st := start(t, dir, 0)
	require.NoError(t, st.EnsureCollection(ctx, "yw_chunks_a", 4, vector.Dot))
	require.NoError(t, st.Upsert(ctx, "yw_chunks_a", []vector.Point{chunk("a", 0, "", 1, 0, 0, 0)}))
	require.NoError(t, st.Upsert(ctx, "yw_chunks_a", []vector.Point{chunk("b", 0, "", 0, 1, 0, 0)}))
	stop(t, srv, st)

	path := currentLog(t, dir)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, info.Size()-3))

	_, st = start(t, dir, 0)
	hits, err := st.Search(ctx, "yw_chunks_a", []float32{1, 1, 0, 0}, nil, 10)
	require.NoError(t, err)
	require.Len(t, hits, 1)
	require.Equal(t, "a", hits[0].Payload.DocumentID)
}

func TestDeleteCollectionRemovesDataAndAliases(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	srv, st := start(t, dir, 0)
	populate(t, st)
	require.NoError(t, st.DeleteCollection(ctx, "yw_chunks_a"))
	_, err := st.ResolveAlias(ctx, "yw_chunks")
	require.ErrorIs(t, err, vector.ErrNotFound)
	stop(t, srv, st)
	_, st = start(t, dir, 0)
	names, err := st.ListCollections(ctx)
	require.NoError(t, err)
	require.Empty(t, names)
	require.NoDirExists(t, filepath.Join(dir, "collections", "yw_chunks_a"))
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.Error(t, qdrantlite.Config{}.Validate())
	require.Error(t, qdrantlite.Config{Dir: "x", Addr: "0.0.0.0:6344"}.Validate(), "non-loopback needs AllowRemote")
	require.NoError(t, qdrantlite.Config{Dir: "x", Addr: "0.0.0.0:6344", AllowRemote: true}.Validate())
	require.NoError(t, qdrantlite.Config{Dir: "x", Addr: "127.0.0.1:0"}.Validate())
	require.NoError(t, qdrantlite.Config{Dir: "x", Addr: "localhost:0"}.Validate())
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := qdrantlite.Start(ctx, qdrantlite.Config{Dir: t.TempDir(), Addr: "127.0.0.1:0", APIKey: "k"}, vectortest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	_, err = vector.New(ctx, vector.Config{URL: srv.Addr(), APIKey: "wrong"}, vectortest.Logger())
	require.Error(t, err)
	st, err := vector.New(ctx, vector.Config{URL: srv.Addr(), APIKey: "k"}, vectortest.Logger())
	require.NoError(t, err)
	require.NoError(t, st.Health(ctx))
	require.NoError(t, st.Close())
}
