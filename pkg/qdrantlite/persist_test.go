package qdrantlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/youworker/youworker/pkg/vector"
)

// TestWritesDuringCompactionSurviveRestart: with a threshold small enough
// that compactions run back to back, concurrent writers (new points, and
// overwrites of points written before) keep going while snapshots are being
// written; after a restart every point is there with its last vector and
// payload.
func TestWritesDuringCompactionSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	const writers, batches, perBatch = 6, 40, 16
	srv, st := start(t, dir, 32<<10)
	require.NoError(t, st.EnsureCollection(ctx, "yw_chunks_a", 4, vector.Dot))

	// Point (w, i) ends with version 2 when i is even: written once, then
	// overwritten by a later batch of the same writer.
	point := func(w, i, version int) vector.Point {
		p := chunk(fmt.Sprintf("w%d", w), i, "g1", float32(w), float32(i), float32(version), 1)
		p.Payload.ACLVersion = int64(version)
		return p
	}
	var g errgroup.Group
	for w := range writers {
		g.Go(func() error {
			for b := range batches {
				pts := make([]vector.Point, 0, perBatch)
				for j := range perBatch {
					pts = append(pts, point(w, b*perBatch+j, 1))
				}
				if b > 0 {
					// Overwrite the even points of the previous batch.
					for j := 0; j < perBatch; j += 2 {
						pts = append(pts, point(w, (b-1)*perBatch+j, 2))
					}
				}
				if err := st.Upsert(ctx, "yw_chunks_a", pts); err != nil {
					return err
				}
			}
			// The last batch's even points get their overwrite too.
			var pts []vector.Point
			for j := 0; j < perBatch; j += 2 {
				pts = append(pts, point(w, (batches-1)*perBatch+j, 2))
			}
			return st.Upsert(ctx, "yw_chunks_a", pts)
		})
	}
	require.NoError(t, g.Wait())
	stop(t, srv, st)
	require.FileExists(t, filepath.Join(dir, "collections", "yw_chunks_a", "snapshot.bin"), "compaction ran")

	_, st = start(t, dir, 32<<10)
	n, err := st.Count(ctx, "yw_chunks_a", nil)
	require.NoError(t, err)
	require.Equal(t, uint64(writers*batches*perBatch), n)
	for w := range writers {
		ids := make([]string, 0, batches*perBatch)
		for i := range batches * perBatch {
			ids = append(ids, point(w, i, 0).ID)
		}
		got, err := st.GetPoints(ctx, "yw_chunks_a", ids, true)
		require.NoError(t, err)
		require.Len(t, got, len(ids))
		byID := make(map[string]vector.Point, len(got))
		for _, p := range got {
			byID[p.ID] = p
		}
		for i := range batches * perBatch {
			want := point(w, i, 1+(i+1)%2)
			p, ok := byID[want.ID]
			require.True(t, ok, "point %d of writer %d", i, w)
			require.Equal(t, want.Payload, p.Payload, "point %d of writer %d", i, w)
			require.Equal(t, want.Vector, p.Vector, "point %d of writer %d", i, w)
		}
	}
}

// TestNoOpWritesAreNotLogged: a cleanup that finds nothing to delete or
// relabel costs no log record (and so no fsync), while one that does is
// logged and survives a restart.
func TestNoOpWritesAreNotLogged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	srv, st := start(t, dir, 0)
	require.NoError(t, st.EnsureCollection(ctx, "yw_chunks_a", 4, vector.Dot))
	require.NoError(t, st.Upsert(ctx, "yw_chunks_a", []vector.Point{chunk("a", 0, "g1", 1, 0, 0, 0), chunk("b", 0, "g1", 0, 1, 0, 0)}))
	size := func() int64 {
		info, err := os.Stat(currentLog(t, dir))
		require.NoError(t, err)
		return info.Size()
	}
	before := size()
	require.NoError(t, st.DeleteByFilter(ctx, "yw_chunks_a", vector.MatchDocument("nobody")))
	require.NoError(t, st.SetACLByFilter(ctx, "yw_chunks_a", vector.MatchDocument("nobody"), vector.ACL{OwnerID: "u2", ACLVersion: 2}))
	require.Equal(t, before, size(), "operations that select nothing are not logged")

	require.NoError(t, st.DeleteByFilter(ctx, "yw_chunks_a", vector.MatchDocument("a")))
	require.Greater(t, size(), before)
	stop(t, srv, st)

	_, st = start(t, dir, 0)
	n, err := st.Count(ctx, "yw_chunks_a", nil)
	require.NoError(t, err)
	require.Equal(t, uint64(1), n)
}

// TestSparseVectorsSurviveRestart: sparse vectors, the idf statistics and
// the sparse config come back after a restart, whether they are replayed
// from the log or loaded from a snapshot: an idf query gives the same
// points with the same scores, and Get the same vectors.
func TestSparseVectorsSurviveRestart(t *testing.T) {
	t.Parallel()
	for name, compact := range map[string]int64{"log": 0, "snapshot": 2048} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ctx := context.Background()
			srv, c := startRaw(t, dir, compact)
			coll := hybridFixture(t, target{client: c, embedded: true})
			rng := rand.New(rand.NewPCG(3, 4))
			for b := range 8 {
				var pts []*qdrant.PointStruct
				for i := range 25 {
					id := uint64(100 + b*25 + i)
					var idx []uint32
					var val []float32
					for j := range 1 + rng.IntN(12) {
						idx = append(idx, uint32(j*7+rng.IntN(7)))
						val = append(val, rng.Float32())
					}
					vecs := qdrant.NewVectorsMap(map[string]*qdrant.Vector{"": qdrant.NewVectorDense([]float32{rng.Float32(), rng.Float32()}), lexical: qdrant.NewVectorSparse(idx, val)})
					if i%5 == 0 {
						vecs = qdrant.NewVectorsDense([]float32{1, 1})
					}
					pts = append(pts, &qdrant.PointStruct{Id: qdrant.NewIDNum(id), Vectors: vecs})
				}
				_, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: coll, Wait: qdrant.PtrOf(true), Points: pts})
				require.NoError(t, err)
			}
			_, err := c.Delete(ctx, &qdrant.DeletePoints{CollectionName: coll, Wait: qdrant.PtrOf(true), Points: qdrant.NewPointsSelector(qdrant.NewIDNum(2), qdrant.NewIDNum(101), qdrant.NewIDNum(150))})
			require.NoError(t, err)

			state := func(c *qdrant.Client) ([]*qdrant.ScoredPoint, []*qdrant.RetrievedPoint, *qdrant.CollectionInfo) {
				res, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: coll, Using: qdrant.PtrOf(lexical), Limit: qdrant.PtrOf[uint64](50),
					Query: qdrant.NewQuerySparse([]uint32{1, 3, 8, 15, 30}, []float32{1, 1, 0.5, 2, 1})})
				require.NoError(t, err)
				require.Len(t, res, 50)
				pts, err := c.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: coll, WithVectors: qdrant.NewWithVectors(true), Limit: qdrant.PtrOf[uint32](1000)})
				require.NoError(t, err)
				require.Len(t, pts, 201)
				info, err := c.GetCollectionInfo(ctx, coll)
				require.NoError(t, err)
				return res, pts, info
			}
			wantRes, wantPts, wantInfo := state(c)
			require.NoError(t, c.Close())
			require.NoError(t, srv.Close())
			if compact > 0 {
				require.FileExists(t, filepath.Join(dir, "collections", coll, "snapshot.bin"))
			}

			_, c = startRaw(t, dir, compact)
			gotRes, gotPts, gotInfo := state(c)
			require.True(t, proto.Equal(&qdrant.QueryResponse{Result: wantRes}, &qdrant.QueryResponse{Result: gotRes}), "same idf scores after restart")
			require.True(t, proto.Equal(&qdrant.ScrollResponse{Result: wantPts}, &qdrant.ScrollResponse{Result: gotPts}), "same vectors after restart")
			require.True(t, proto.Equal(wantInfo.GetConfig().GetParams(), gotInfo.GetConfig().GetParams()))
		})
	}
}

// TestMetaWithoutSparseLoads: a collection written before sparse vectors
// existed (no "sparse" key in its config) loads as one without them.
func TestMetaWithoutSparseLoads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	coll := filepath.Join(dir, "collections", "old")
	require.NoError(t, os.MkdirAll(coll, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(coll, "collection.json"), []byte(`{"dim":2,"distance":3}`), 0o600))
	_, c := startRaw(t, dir, 0)
	ctx := context.Background()
	info, err := c.GetCollectionInfo(ctx, "old")
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.GetConfig().GetParams().GetVectorsConfig().GetParams().GetSize())
	require.Nil(t, info.GetConfig().GetParams().GetSparseVectorsConfig())
	_, err = c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "old", Wait: qdrant.PtrOf(true), Points: []*qdrant.PointStruct{
		{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"": qdrant.NewVectorDense([]float32{1, 0}), lexical: qdrant.NewVectorSparse([]uint32{1}, []float32{1})})},
	}})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "no sparse vector is configured: %v", err)
}

// TestSparseWritesDuringCompaction: writers overwrite points with new
// sparse vectors (moving them between posting lists) and queries run while
// snapshots are written back to back; the snapshot reads each point's
// sparse vector without the lock, so under -race this checks that it never
// reads what writers change. After a restart the idf query answers as
// before.
func TestSparseWritesDuringCompaction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	srv, c := startRaw(t, dir, 16<<10)
	coll := hybridFixture(t, target{client: c, embedded: true})
	q := &qdrant.QueryPoints{CollectionName: coll, Using: qdrant.PtrOf(lexical), Limit: qdrant.PtrOf[uint64](100),
		Query: qdrant.NewQuerySparse([]uint32{0, 5, 9}, []float32{1, 1, 1})}
	var g errgroup.Group
	for w := range 4 {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for b := range 30 {
				var pts []*qdrant.PointStruct
				for i := range 10 {
					// Points repeat across batches, so most writes overwrite.
					id := uint64(1000*(w+1) + (b*10+i)%70)
					idx := []uint32{uint32(rng.IntN(10)), uint32(10 + rng.IntN(10))}
					pts = append(pts, &qdrant.PointStruct{Id: qdrant.NewIDNum(id), Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{
						"": qdrant.NewVectorDense([]float32{1, 0}), lexical: qdrant.NewVectorSparse(idx, []float32{rng.Float32(), rng.Float32()}),
					})})
				}
				if _, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: coll, Wait: qdrant.PtrOf(true), Points: pts}); err != nil {
					return err
				}
				if _, err := c.Query(ctx, q); err != nil {
					return err
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	want, err := c.Query(ctx, q)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, srv.Close())
	require.FileExists(t, filepath.Join(dir, "collections", coll, "snapshot.bin"), "compaction ran")

	_, c = startRaw(t, dir, 16<<10)
	got, err := c.Query(ctx, q)
	require.NoError(t, err)
	require.True(t, proto.Equal(&qdrant.QueryResponse{Result: want}, &qdrant.QueryResponse{Result: got}))
}

// TestTextIndexSettingsSurviveRestart: a full-text index written before its
// tokenizer settings were kept loads with Qdrant's defaults (words,
// lowercased), and settings given at creation survive a restart.
func TestTextIndexSettingsSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	coll := filepath.Join(dir, "collections", "old")
	require.NoError(t, os.MkdirAll(coll, 0o700))
	meta := fmt.Sprintf(`{"dim":2,"distance":3,"indexes":[{"field":"t","schema":%d}]}`, qdrant.PayloadSchemaType_Text)
	require.NoError(t, os.WriteFile(filepath.Join(coll, "collection.json"), []byte(meta), 0o600))
	ctx := context.Background()
	count := func(c *qdrant.Client, collection, text string) uint64 {
		n, err := c.Count(ctx, &qdrant.CountPoints{CollectionName: collection, Exact: qdrant.PtrOf(true),
			Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchText("t", text)}}})
		require.NoError(t, err)
		return n
	}
	write := func(c *qdrant.Client, collection string) {
		_, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: collection, Wait: qdrant.PtrOf(true), Points: []*qdrant.PointStruct{
			{Id: qdrant.NewIDNum(1), Vectors: qdrant.NewVectors(1, 0), Payload: qdrant.NewValueMap(map[string]any{"t": "A Party"})},
		}})
		require.NoError(t, err)
	}
	srv, c := startRaw(t, dir, 0)
	write(c, "old")
	require.Equal(t, uint64(1), count(c, "old", "party"), "words, lowercased")
	require.Zero(t, count(c, "old", "art"), "not substrings")

	require.NoError(t, c.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "cased",
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Dot})}))
	_, err := c.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{CollectionName: "cased", Wait: qdrant.PtrOf(true), FieldName: "t",
		FieldType:        qdrant.PtrOf(qdrant.FieldType_FieldTypeText),
		FieldIndexParams: qdrant.NewPayloadIndexParamsText(&qdrant.TextIndexParams{Tokenizer: qdrant.TokenizerType_Whitespace, Lowercase: qdrant.PtrOf(false)})})
	require.NoError(t, err)
	write(c, "cased")
	require.Zero(t, count(c, "cased", "party"))
	require.NoError(t, srv.Close())

	_, c = startRaw(t, dir, 0)
	require.Equal(t, uint64(1), count(c, "old", "party"))
	require.Zero(t, count(c, "cased", "party"), "case kept after a restart")
	require.Equal(t, uint64(1), count(c, "cased", "Party"))
	info, err := c.GetCollectionInfo(ctx, "cased")
	require.NoError(t, err)
	params := info.GetPayloadSchema()["t"].GetParams().GetTextIndexParams()
	require.Equal(t, qdrant.TokenizerType_Whitespace, params.GetTokenizer())
	require.False(t, params.GetLowercase())
}
