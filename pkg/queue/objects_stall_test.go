package queue_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
)

// A read of an object whose chunks stop coming fails within the open timeout,
// however long the caller's own deadline (an ingest job has 30 minutes): the job
// is retried, instead of being held by a read that waits for that deadline while
// its heartbeats keep it from going to another worker. Found by the chaos
// harness (pkg/chaos) when a NATS node was killed.
func TestObjectReadFailsSoonWhenItsChunksStall(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	objs, err := queue.NewObjects(ctx, srv.JS)
	require.NoError(t, err)
	_, err = objs.Put(ctx, "documents/stalled", bytes.NewReader(bytes.Repeat([]byte("x"), 1<<16)))
	require.NoError(t, err)
	restore := queue.SetObjectOpenTimeout(time.Second)
	defer restore()

	// The object's chunks stop coming, as when the node serving the read dies
	// and the read's consumer is not recreated: here, they are gone.
	store, err := srv.JS.ObjectStore(ctx, queue.BucketUploads)
	require.NoError(t, err)
	info, err := store.GetInfo(ctx, "documents/stalled")
	require.NoError(t, err)
	stream, err := srv.JS.Stream(ctx, "OBJ_"+queue.BucketUploads)
	require.NoError(t, err)
	require.NoError(t, stream.Purge(ctx, jetstream.WithPurgeSubject(fmt.Sprintf("$O.%s.C.%s", queue.BucketUploads, info.NUID))))

	jobCtx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	rc, err := objs.Get(jobCtx, "documents/stalled")
	if err == nil {
		_, err = rc.Read(make([]byte, 1<<16))
		_ = rc.Close()
	}
	require.Error(t, err)
	require.Less(t, time.Since(start), 10*time.Second, "failed within the open timeout, not the job's")
}
