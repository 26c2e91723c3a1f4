package queue_test

import (
	"crypto/sha256"
	"encoding/hex"
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
