package outbox

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/store"
)

// failingAsync fails its first asynchronous publishes' acknowledgements; its
// synchronous publishes, the relay's way, get through.
type failingAsync struct {
	*queue.Publisher
	failures int32
	calls    atomic.Int32
}

func (f *failingAsync) PublishAsync(ctx context.Context, subject, msgID string, payload []byte, hdr nats.Header) (func(context.Context) error, error) {
	if f.calls.Add(1) <= f.failures {
		return func(context.Context) error { return errors.New("nats: timeout") }, nil
	}
	return f.Publisher.PublishAsync(ctx, subject, msgID, payload, hdr)
}

// runRelay runs relay until the test ends.
func runRelay(t *testing.T, relay *Relay) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	require.Eventually(t, relay.running.Load, 5*time.Second, time.Millisecond)
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// enqueueNow commits a job written by EnqueueNow.
func enqueueNow(t *testing.T, ctx context.Context, st *store.Store, args job.Args) Pending {
	t.Helper()
	var p Pending
	require.NoError(t, st.InTx(ctx, func(tx *store.Store) error {
		var err error
		p, err = EnqueueNow(ctx, tx, args)
		return err
	}))
	return p
}

func TestSendPublishesACommittedJobAtOnceAndDeletesItsRow(t *testing.T) {
	t.Parallel()
	ctx := logging.WithCorrelationID(context.Background(), "corr-send")
	q := queuetest.Start(t)
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	relay := NewRelay(st, queue.NewPublisher(q.JS, nil), time.Hour, logging.Discard())
	runRelay(t, relay)

	p := enqueueNow(t, ctx, st, job.ChatJob{TurnID: "t-send"})
	// Until sent, the relays leave the row alone.
	n, err := NewRelay(st, queue.NewPublisher(q.JS, nil), time.Hour, logging.Discard()).Flush(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a row Send is about to publish is not the relays' yet")

	relay.Send(ctx, p)
	require.Eventually(t, func() bool { return streamMsgs(t, q.JS) == 1 }, 5*time.Second, time.Millisecond,
		"published without the hour-long poll or a Notify")
	require.Eventually(t, func() bool {
		backlog, err := st.OutboxBacklog(ctx)
		require.NoError(t, err)
		return backlog == 0
	}, 5*time.Second, 5*time.Millisecond, "the row goes once the stream has the job")
	s, err := q.JS.Stream(ctx, queue.StreamJobs)
	require.NoError(t, err)
	msg, err := s.GetLastMsgForSubject(ctx, job.SubjectChat)
	require.NoError(t, err)
	require.Equal(t, "corr-send", msg.Header.Get(logging.HeaderCorrelationID))
	require.Equal(t, job.ChatJob{TurnID: "t-send"}.MsgID(), msg.Header.Get(nats.MsgIdHdr))
}

func TestAJobSendCouldNotPublishIsTheRelaysAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := queuetest.Start(t)
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	pub := &failingAsync{Publisher: queue.NewPublisher(q.JS, nil), failures: 1}
	relay := NewRelay(st, pub, time.Hour, logging.Discard())
	runRelay(t, relay)

	relay.Send(ctx, enqueueNow(t, ctx, st, job.ChatJob{TurnID: "t-fail"}))
	require.Eventually(t, func() bool {
		backlog, err := st.OutboxBacklog(ctx)
		require.NoError(t, err)
		return backlog == 0 && streamMsgs(t, q.JS) == 1
	}, 5*time.Second, 5*time.Millisecond, "the relay publishes it without waiting for the grace or the poll")
}

func TestSendWithoutARunningRelayLeavesTheJobToTheRelay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := queuetest.Start(t)
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	relay := NewRelay(st, queue.NewPublisher(q.JS, nil), time.Hour, logging.Discard())

	relay.Send(ctx, enqueueNow(t, ctx, st, job.ChatJob{TurnID: "t-idle"}))
	require.Zero(t, streamMsgs(t, q.JS))
	n, err := relay.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the row is due at once")
	require.EqualValues(t, 1, streamMsgs(t, q.JS))
}

func TestARowNeverSentIsTheRelaysAfterTheGrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	st := store.New(pool)
	before := time.Now()
	p := enqueueNow(t, ctx, st, job.ChatJob{TurnID: "t-died"})
	var due time.Time
	require.NoError(t, pool.QueryRow(ctx, "SELECT available_at FROM outbox WHERE id = $1", p.id).Scan(&due))
	require.WithinDuration(t, before.Add(sendGrace), due, 2*time.Second,
		"a process that died before sending delays its job by the grace, no more")
}
