package queue_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
)

// readSeqs reads n events and returns their sequences.
func readSeqs(t *testing.T, ch <-chan queue.Event, n int) []uint64 {
	t.Helper()
	seqs := make([]uint64, 0, n)
	for range n {
		seqs = append(seqs, nextEvent(t, ch).Seq)
	}
	return seqs
}

func TestTurnEventsReadersJoiningMidTurnMissNothing(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	turns := queue.NewTurns(srv.JS, nil, nil)

	// A reader of another turn keeps the shared consumer running throughout,
	// so readers below join it mid-stream rather than start it.
	otherCtx, stopOther := context.WithCancel(ctx)
	defer stopOther()
	other, err := turns.Events(otherCtx, "turn-other", 0)
	require.NoError(t, err)

	const total = 300
	var (
		mu     sync.Mutex
		stored []uint64
	)
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := range total {
			seq, err := turns.PublishEvent(ctx, "turn-x", "token", fmt.Appendf(nil, `{"text":"%d"}`, i))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			stored = append(stored, seq)
			mu.Unlock()
			if i%3 == 0 {
				_, _ = turns.PublishEvent(ctx, "turn-noise", "token", []byte(`{}`))
			}
		}
	}()

	// Readers join while the turn is being written, each from a different
	// point, and read as a client does until the terminal event.
	type joined struct {
		after uint64
		got   []uint64
		done  chan struct{}
	}
	var readers []*joined
	for len(readers) < 6 {
		mu.Lock()
		n := len(stored)
		var after uint64
		if n > 0 && len(readers)%2 == 1 {
			after = stored[n/2] // a client resuming from an event it saw
		}
		mu.Unlock()
		ch, err := turns.Events(ctx, "turn-x", after)
		require.NoError(t, err)
		r := &joined{after: after, done: make(chan struct{})}
		readers = append(readers, r)
		go func() {
			defer close(r.done)
			for ev := range ch {
				r.got = append(r.got, ev.Seq)
				if ev.Type == "turn.completed" {
					return
				}
			}
		}()
		time.Sleep(5 * time.Millisecond)
	}
	<-published
	final, err := turns.PublishEvent(ctx, "turn-x", "turn.completed", []byte(`{}`))
	require.NoError(t, err)
	stored = append(stored, final)

	for i, r := range readers {
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("reader %d: no terminal event within 10s", i)
		}
		var want []uint64
		for _, seq := range stored {
			if seq > r.after {
				want = append(want, seq)
			}
		}
		require.Equal(t, want, r.got, "reader %d after %d", i, r.after)
	}
	select {
	case ev := <-other:
		t.Fatalf("another turn's reader got event %d", ev.Seq)
	default:
	}
}

func TestTurnEventsSlowReaderIsDisconnectedOthersUnaffected(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	turns := queue.NewTurns(srv.JS, nil, nil)

	slow, err := turns.Events(ctx, "turn-s", 0)
	require.NoError(t, err)
	fast, err := turns.Events(ctx, "turn-s", 0)
	require.NoError(t, err)

	const total = 400 // far past a reader's backlog
	var got []uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range fast {
			got = append(got, ev.Seq)
			if len(got) == total {
				return
			}
		}
	}()
	var want []uint64
	for range total {
		seq, err := turns.PublishEvent(ctx, "turn-s", "token", []byte(`{}`))
		require.NoError(t, err)
		want = append(want, seq)
	}
	<-done
	require.Equal(t, want, got)

	// The reader that never read is cut off after its backlog, in order, and
	// its channel closes: the client resumes from the last event it received.
	var last uint64
	n := 0
	for ev := range slow {
		require.Greater(t, ev.Seq, last)
		last = ev.Seq
		n++
	}
	require.Less(t, n, total)
	resumed, err := turns.Events(ctx, "turn-s", last)
	require.NoError(t, err)
	require.Equal(t, want[n:], readSeqs(t, resumed, total-n))
}

func TestTurnEventsRestartAfterEveryReaderLeft(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	turns := queue.NewTurns(srv.JS, nil, nil)

	for round := range 3 {
		rctx, cancel := context.WithCancel(ctx)
		ch, err := turns.Events(rctx, "turn-r", 0)
		require.NoError(t, err)
		seq, err := turns.PublishEvent(ctx, "turn-r", "token", fmt.Appendf(nil, `{"round":%d}`, round))
		require.NoError(t, err)
		// Every round replays the earlier rounds' events, then gets the new one live.
		seqs := readSeqs(t, ch, round+1)
		require.Equal(t, seq, seqs[round])
		cancel()
		for range ch { // drain until closed
		}
	}
}

func TestTurnEventsOutliveTheReaderThatStartedThem(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	turns := queue.NewTurns(srv.JS, nil, nil)

	firstCtx, leave := context.WithCancel(ctx)
	first, err := turns.Events(firstCtx, "turn-first", 0)
	require.NoError(t, err)
	second, err := turns.Events(ctx, "turn-second", 0)
	require.NoError(t, err)
	leave()
	for range first { // drain until closed
	}

	seq, err := turns.PublishEvent(ctx, "turn-second", "token", []byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, seq, nextEvent(t, second).Seq)
}

// Not parallel: it counts the process's goroutines.
func TestTurnEventsIdleReadersHoldNoGoroutine(t *testing.T) {
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	turns := queue.NewTurns(srv.JS, nil, nil)

	// The first reader starts the shared consumer; the count starts after it.
	first, err := turns.Events(ctx, "turn-idle", 0)
	require.NoError(t, err)
	before := runtime.NumGoroutine()
	const readers = 200
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chans := []<-chan queue.Event{first}
	for range readers {
		ch, err := turns.Events(rctx, "turn-idle", 0)
		require.NoError(t, err)
		chans = append(chans, ch)
	}
	// Open streams on a turn that says nothing cost the process no goroutine each.
	require.Less(t, runtime.NumGoroutine()-before, readers/10)

	// A burst larger than a reader's channel, none of it read meanwhile, still
	// reaches every reader whole, in order, once.
	const burst = 100
	var want []uint64
	for range burst {
		seq, err := turns.PublishEvent(ctx, "turn-idle", "token", []byte(`{}`))
		require.NoError(t, err)
		want = append(want, seq)
	}
	for _, ch := range chans {
		require.Equal(t, want, readSeqs(t, ch, burst))
	}

	// Ending the readers' context closes their channels and leaves nothing running.
	cancel()
	for _, ch := range chans[1:] {
		for range ch {
		}
	}
	require.Eventually(t, func() bool { return runtime.NumGoroutine()-before < readers/10 }, 10*time.Second, 20*time.Millisecond)
}

// A client resuming mid-turn replays up to the turn's last stored event, as
// the stream's leader reports it. The hub's consumer may run on a replica that
// applied an event before the leader did: the replay must still reach every
// event the hub passed, or that event is lost to the client. Found by the
// chaos harness (pkg/chaos): one token missing from a resumed stream.
func TestTurnEventsResumeReachesWhatTheHubPassedWhenTheLeaderLags(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	turns := queue.NewTurns(srv.JS, nil, nil)
	queue.LagLastStored(turns)

	// A reader of the turn keeps the hub running, and sees each event pass.
	live, err := turns.Events(ctx, "turn-lag", 0)
	require.NoError(t, err)
	var seqs []uint64
	for i := range 5 {
		seq, err := turns.PublishEvent(ctx, "turn-lag", "token", fmt.Appendf(nil, `{"text":"%d"}`, i))
		require.NoError(t, err)
		seqs = append(seqs, seq)
		_, _ = turns.PublishEvent(ctx, "turn-other", "token", []byte(`{}`))
	}
	require.Equal(t, seqs, readSeqs(t, live, len(seqs)))

	// Resumed after the third: the leader answers with the fourth as the last,
	// the hub has passed the fifth.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resumed, err := turns.Events(rctx, "turn-lag", seqs[2])
	require.NoError(t, err)
	require.Equal(t, seqs[3:], readSeqs(t, resumed, 2))
}
