package api

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestKeepAlivePingsEveryStreamOncePerIntervalFromOneTicker(t *testing.T) {
	t.Parallel()
	const every = 320 * time.Millisecond
	k := newKeepAlive(every)

	// Streams opened at different moments are each pinged about an interval
	// after they opened, then every interval, by the one ticker.
	var wg sync.WaitGroup
	gaps := make([][]time.Duration, 8)
	for i := range gaps {
		time.Sleep(every / 10)
		slot := k.join()
		wg.Go(func() {
			defer k.leave()
			last := time.Now()
			for range 3 {
				<-k.due(slot)
				gaps[i] = append(gaps[i], time.Since(last))
				last = time.Now()
			}
		})
	}
	wg.Wait()
	for _, g := range gaps {
		for _, gap := range g {
			// A slot's tick may come up to one slot early or, on a busy machine, late.
			require.Greater(t, gap, every-2*every/keepAliveSlots)
			require.Less(t, gap, 3*every)
		}
	}

	// With every stream gone the ticker stops.
	k.mu.Lock()
	defer k.mu.Unlock()
	require.Zero(t, k.open)
	require.Nil(t, k.stop)
}
