package outbox

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/store"
)

// flaky fails the first failures publishes, then delegates.
type flaky struct {
	next     Publisher
	failures int32
	calls    atomic.Int32
}

func (f *flaky) Publish(ctx context.Context, subject, msgID string, payload []byte, hdr nats.Header) error {
	if f.calls.Add(1) <= f.failures {
		return errors.New("nats: connection closed")
	}
	return f.next.Publish(ctx, subject, msgID, payload, hdr)
}

func streamMsgs(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), queue.StreamJobs)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

func TestNothingIsLostWhenPublishFailsAfterTheDatabaseWrite(t *testing.T) {
	t.Parallel()
	ctx := logging.WithCorrelationID(context.Background(), "corr-1")
	q := queuetest.Start(t)
	st := store.NewTx(pgtest.Tx(t))
	require.NoError(t, Enqueue(ctx, st, job.IngestJob{DocumentID: "d1", Generation: 1}))

	pub := &flaky{next: queue.NewPublisher(q.JS, nil), failures: 2}
	relay := NewRelay(st, pub, time.Hour, logging.Discard())

	n, err := relay.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	backlog, err := st.OutboxBacklog(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, backlog, "a failed publish keeps the job in the outbox")
	require.Zero(t, streamMsgs(t, q.JS))

	deadline := time.Now().Add(10 * time.Second)
	for backlog > 0 {
		require.True(t, time.Now().Before(deadline), "the job never left the outbox")
		_, err = relay.Flush(ctx)
		require.NoError(t, err)
		backlog, err = st.OutboxBacklog(ctx)
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond) // poll interval while the retry delay runs out
	}
	require.EqualValues(t, 1, streamMsgs(t, q.JS), "published exactly once")
	require.GreaterOrEqual(t, pub.calls.Load(), int32(3))

	s, err := q.JS.Stream(ctx, queue.StreamJobs)
	require.NoError(t, err)
	msg, err := s.GetLastMsgForSubject(ctx, job.SubjectIngest)
	require.NoError(t, err)
	require.Equal(t, "corr-1", msg.Header.Get(logging.HeaderCorrelationID), "the correlation id travels with the job")
}

func TestRepublishingAfterACrashIsDeduplicated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := queuetest.Start(t)
	st := store.NewTx(pgtest.Tx(t))
	pub := queue.NewPublisher(q.JS, nil)
	// The relay published but died before deleting the row: the row is published again.
	for range 2 {
		require.NoError(t, Enqueue(ctx, st, job.DeleteJob{DocumentID: "d2"}))
		_, err := NewRelay(st, pub, time.Hour, logging.Discard()).Flush(ctx)
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, streamMsgs(t, q.JS))
}

func TestRunPublishesOnNotifyAndStopsWithContext(t *testing.T) {
	t.Parallel()
	q := queuetest.Start(t)
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	relay := NewRelay(st, queue.NewPublisher(q.JS, nil), time.Hour, logging.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()

	require.NoError(t, Enqueue(ctx, st, job.ChatJob{TurnID: "t1"}))
	relay.Notify()
	require.Eventually(t, func() bool { return streamMsgs(t, q.JS) == 1 }, 10*time.Second, 10*time.Millisecond,
		"Notify publishes without waiting for the hour-long poll")
	cancel()
	require.NoError(t, <-done)
}

func TestABatchIsPublishedTogetherOnceEachInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := queuetest.Start(t)
	st := store.NewTx(pgtest.Tx(t))
	const jobs = 25
	for i := range jobs {
		require.NoError(t, Enqueue(ctx, st, job.IngestJob{DocumentID: "d" + strconv.Itoa(i), Generation: 1}))
	}
	relay := NewRelay(st, queue.NewPublisher(q.JS, nil), time.Hour, logging.Discard())
	n, err := relay.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, jobs, n)
	backlog, err := st.OutboxBacklog(ctx)
	require.NoError(t, err)
	require.Zero(t, backlog)
	require.EqualValues(t, jobs, streamMsgs(t, q.JS), "each job published once")

	s, err := q.JS.Stream(ctx, queue.StreamJobs)
	require.NoError(t, err)
	for i := range jobs {
		msg, err := s.GetMsg(ctx, uint64(i+1))
		require.NoError(t, err)
		var j job.IngestJob
		require.NoError(t, job.Decode(msg.Data, &j))
		require.Equal(t, "d"+strconv.Itoa(i), j.DocumentID, "published in the order enqueued")
	}
}

// TestARelayOfSomeSubjectsLeavesTheRest: a relay of some subjects (the
// reindexer's) publishes their jobs and leaves the others to a relay that may
// publish them (the API's).
func TestARelayOfSomeSubjectsLeavesTheRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := queuetest.Start(t)
	st := store.NewTx(pgtest.Tx(t))
	require.NoError(t, Enqueue(ctx, st, job.DeleteJob{DocumentID: "d3"}))
	require.NoError(t, Enqueue(ctx, st, job.ACLJob{DocumentID: "d3", Version: 2}))
	pub := queue.NewPublisher(q.JS, nil)

	n, err := NewRelay(st, pub, time.Hour, logging.Discard()).Only(job.SubjectReindex, job.SubjectACL).Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.EqualValues(t, 1, streamMsgs(t, q.JS))
	backlog, err := st.OutboxBacklog(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, backlog, "the delete job waits for a relay that may publish it")

	n, err = NewRelay(st, pub, time.Hour, logging.Discard()).Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.EqualValues(t, 2, streamMsgs(t, q.JS))
}
