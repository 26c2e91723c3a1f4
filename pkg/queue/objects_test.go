package queue_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
)

// randomReader yields n deterministic pseudo-random bytes without holding
// them in memory.
func randomReader(n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{1, 2, 3}), n)
}

func TestObjectsRoundTrip(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	objs, err := queue.NewObjects(ctx, srv.JS)
	require.NoError(t, err)

	info, err := objs.Put(ctx, "doc-small", strings.NewReader("hello"))
	require.NoError(t, err)
	require.Equal(t, int64(5), info.Size)
	require.Equal(t, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", info.SHA256)

	rc, err := objs.Get(ctx, "doc-small")
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.Equal(t, "hello", string(b))

	require.NoError(t, objs.Delete(ctx, "doc-small"))
	require.NoError(t, objs.Delete(ctx, "doc-small"), "deleting twice is fine: delete jobs run at least once")
	_, err = objs.Get(ctx, "doc-small")
	require.ErrorIs(t, err, queue.ErrObjectNotFound)
	_, err = objs.Info(ctx, "never-there")
	require.ErrorIs(t, err, queue.ErrObjectNotFound)
}

func TestObjectsLargeStreamed(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	objs, err := queue.NewObjects(ctx, srv.JS)
	require.NoError(t, err)

	const size = 20 << 20
	want := sha256.New()
	_, err = io.Copy(want, randomReader(size))
	require.NoError(t, err)
	wantSum := hex.EncodeToString(want.Sum(nil))

	info, err := objs.Put(ctx, "doc-large", randomReader(size))
	require.NoError(t, err)
	require.Equal(t, int64(size), info.Size)
	require.Equal(t, wantSum, info.SHA256)

	stored, err := objs.Info(ctx, "doc-large")
	require.NoError(t, err)
	require.Equal(t, wantSum, stored.SHA256, "the server-side digest matches the one computed while streaming")
	require.Equal(t, int64(size), stored.Size)

	rc, err := objs.Get(ctx, "doc-large")
	require.NoError(t, err)
	defer rc.Close()
	got := sha256.New()
	n, err := io.Copy(got, rc)
	require.NoError(t, err)
	require.Equal(t, int64(size), n)
	require.Equal(t, wantSum, hex.EncodeToString(got.Sum(nil)))
}

func TestObjectsStoreCap(t *testing.T) {
	t.Parallel()
	const capBytes = 1 << 20
	srv := queuetest.Start(t, queuetest.WithConfig(func(c *queue.Config) { c.UploadMaxBytes = capBytes }))
	ctx := testCtx(t)
	objs, err := queue.NewObjects(ctx, srv.JS)
	require.NoError(t, err)

	used, limit, err := objs.Usage(ctx)
	require.NoError(t, err)
	require.Zero(t, used)
	require.EqualValues(t, capBytes, limit)

	// Fill the store with 300 KiB objects until it refuses one.
	var stored []string
	for i := 0; ; i++ {
		require.Less(t, i, 10, "a 1 MiB store cannot take ten 300 KiB objects")
		name := fmt.Sprintf("doc-%d", i)
		_, err := objs.Put(ctx, name, io.LimitReader(rand.NewChaCha8([32]byte{byte(i)}), 300<<10))
		if err != nil {
			require.ErrorIs(t, err, queue.ErrStoreFull)
			break
		}
		stored = append(stored, name)
	}
	require.Len(t, stored, 3)
	used, _, err = objs.Usage(ctx)
	require.NoError(t, err)
	require.LessOrEqual(t, used, int64(capBytes))
	_, err = objs.Info(ctx, "doc-3")
	require.ErrorIs(t, err, queue.ErrObjectNotFound, "nothing of a refused object is kept")

	// The other streams do not share the cap: turn events still publish.
	_, err = srv.JS.Publish(ctx, queue.SubjectTurnPrefix+"t1", bytes.Repeat([]byte("x"), 512<<10))
	require.NoError(t, err)

	// A full store can always shrink, and then takes new objects again.
	require.NoError(t, objs.Delete(ctx, stored[0]))
	_, err = objs.Get(ctx, stored[0])
	require.ErrorIs(t, err, queue.ErrObjectNotFound)
	_, err = objs.Put(ctx, "doc-after-delete", io.LimitReader(rand.NewChaCha8([32]byte{42}), 300<<10))
	require.NoError(t, err)

	// Lowering the cap below what is stored refuses new objects and keeps the old ones.
	cfg := srv.Config
	cfg.UploadMaxBytes = 64 << 10
	require.NoError(t, queue.Setup(ctx, srv.JS, cfg))
	_, err = objs.Put(ctx, "doc-small", strings.NewReader("hello"))
	require.ErrorIs(t, err, queue.ErrStoreFull)
	rc, err := objs.Get(ctx, stored[1])
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.EqualValues(t, 300<<10, n)
}

func TestObjectsDeleteOnAFullStore(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t, queuetest.WithConfig(func(c *queue.Config) { c.UploadMaxBytes = 1 << 20 }))
	ctx := testCtx(t)
	objs, err := queue.NewObjects(ctx, srv.JS)
	require.NoError(t, err)
	var names []string
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("doc-%d", i)
		_, err := objs.Put(ctx, name, io.LimitReader(rand.NewChaCha8([32]byte{byte(i)}), 300<<10))
		require.NoError(t, err)
		names = append(names, name)
	}
	// Fill the rest to the last byte the stream takes (as other uploads would), so
	// there is no room left even for the small delete marker an object store writes.
	filler := "$O." + queue.BucketUploads + ".C.filler"
	for size := 64 << 10; size > 0; {
		if _, err := srv.JS.Publish(ctx, filler, make([]byte, size)); err != nil {
			require.ErrorContains(t, err, "maximum bytes exceeded")
			size /= 2
		}
	}
	_, err = srv.JS.Publish(ctx, "$O."+queue.BucketUploads+".M.marker", nil)
	require.ErrorContains(t, err, "maximum bytes exceeded", "the store is full to the last byte")

	require.NoError(t, objs.Delete(ctx, names[0]), "deleting from a full store must work")
	_, err = objs.Info(ctx, names[0])
	require.ErrorIs(t, err, queue.ErrObjectNotFound)
	require.NoError(t, objs.Delete(ctx, names[0]), "and deleting again too")
	_, err = objs.Put(ctx, "fits-again", io.LimitReader(rand.NewChaCha8([32]byte{9}), 200<<10))
	require.NoError(t, err)
}
