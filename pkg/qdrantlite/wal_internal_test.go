package qdrantlite

import (
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGroupCommit: writers that append while an fsync is running are all made
// durable by one following fsync, not one each.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	w, err := openWAL(filepath.Join(t.TempDir(), walName(1)), 0)
	require.NoError(t, err)
	var syncs atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	realSync := w.fsync
	w.fsync = func() error {
		if syncs.Add(1) == 1 {
			close(entered)
			<-release
		}
		return realSync()
	}

	first, err := w.append(frame(opUpsert, []byte("first")))
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 9)
	wg.Go(func() { errs <- w.sync(first) })
	<-entered

	// Appends go on while the disk is busy; their writers queue up behind
	// the running fsync, which started before their records existed.
	for i := range 8 {
		end, err := w.append(frame(opUpsert, []byte{byte(i)}))
		require.NoError(t, err)
		wg.Go(func() { errs <- w.sync(end) })
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int32(2), syncs.Load(), "one fsync for the first writer, one for the eight that arrived during it")
	require.NoError(t, w.close())
}

// TestFailedSyncPoisonsLog: after a failed fsync the log never reports
// durability again, neither to the writers it covered nor to later ones.
func TestFailedSyncPoisonsLog(t *testing.T) {
	t.Parallel()
	w, err := openWAL(filepath.Join(t.TempDir(), walName(1)), 0)
	require.NoError(t, err)
	ok, err := w.append(frame(opUpsert, []byte("durable")))
	require.NoError(t, err)
	require.NoError(t, w.sync(ok))

	realSync := w.fsync
	w.fsync = func() error { return errors.New("disk gone") }
	lost, err := w.append(frame(opUpsert, []byte("lost")))
	require.NoError(t, err)
	require.ErrorContains(t, w.sync(lost), "disk gone")
	require.NoError(t, w.sync(ok), "records synced before the failure stay durable")

	w.fsync = realSync
	_, err = w.append(frame(opUpsert, []byte("later")))
	require.ErrorContains(t, err, "disk gone")
	require.ErrorContains(t, w.sync(lost), "disk gone", "a later fsync must not be trusted")
	require.ErrorContains(t, w.close(), "disk gone")
}
