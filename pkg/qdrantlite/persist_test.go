package qdrantlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

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
