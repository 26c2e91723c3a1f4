package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// waitForWaiters blocks until n acquirers are queued.
func waitForWaiters(t *testing.T, p *slotPool, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.waiters) == n
	}, 5*time.Second, time.Millisecond)
}

func TestSlotPoolServesTheDocumentClosestToDone(t *testing.T) {
	t.Parallel()
	p := newSlotPool(1)
	ctx := context.Background()
	require.NoError(t, p.acquire(ctx, 100))

	order := make(chan string, 4)
	queue := func(name string, remaining int) {
		go func() {
			if p.acquire(ctx, remaining) == nil {
				order <- name
			}
		}()
	}
	queue("long", 500)
	waitForWaiters(t, p, 1)
	queue("short, first", 16)
	waitForWaiters(t, p, 2)
	queue("short, second", 16)
	waitForWaiters(t, p, 3)
	queue("middle", 200)
	waitForWaiters(t, p, 4)

	for _, want := range []string{"short, first", "short, second", "middle", "long"} {
		p.release()
		require.Equal(t, want, <-order)
	}
	p.release()
	require.Equal(t, 1, p.free)
}

func TestSlotPoolCancelledWaiterLeavesTheQueue(t *testing.T) {
	t.Parallel()
	p := newSlotPool(1)
	require.NoError(t, p.acquire(context.Background(), 1))

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.acquire(ctx, 1) }()
	waitForWaiters(t, p, 1)
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	waitForWaiters(t, p, 0)

	// The slot held all along comes back to the pool, not to the gone waiter.
	p.release()
	require.Equal(t, 1, p.free)
	require.NoError(t, p.acquire(context.Background(), 1))
}

func TestSlotPoolNeverLosesASlot(t *testing.T) {
	t.Parallel()
	const size = 3
	p := newSlotPool(size)
	done := make(chan struct{})
	for i := range 40 {
		go func() {
			defer func() { done <- struct{}{} }()
			// Some give up while queued or just as they are granted a slot.
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%5)*100*time.Microsecond)
			defer cancel()
			if i%2 == 0 {
				ctx = context.Background()
			}
			if p.acquire(ctx, i%7) == nil {
				time.Sleep(50 * time.Microsecond)
				p.release()
			}
		}()
	}
	for range 40 {
		<-done
	}
	require.Equal(t, size, p.free)
	require.Empty(t, p.waiters)
}
