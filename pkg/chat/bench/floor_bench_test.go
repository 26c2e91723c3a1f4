package bench_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// jetStreamFloor measures publish → ordered consumer on the same server, with the
// same load shape as the relay phase: k logs, each written at the token interval
// by a synchronous publisher and read by its own ordered consumer (Follow).
func jetStreamFloor(ctx context.Context, r *rig, o options) (samples, error) {
	var mu sync.Mutex
	var lat samples
	g, gctx := errgroup.WithContext(ctx)
	run := time.Now().UnixNano()
	for i := range o.k {
		id := fmt.Sprintf("floor-%d-%d", run, i)
		rctx, cancel := context.WithCancel(gctx)
		ch, err := r.p.Turns.Follow(rctx, id, 0)
		if err != nil {
			cancel()
			return nil, err
		}
		g.Go(func() error {
			defer cancel()
			local := make(samples, 0, o.tokens)
			for ev := range ch {
				at := time.Now()
				sent, _ := strconv.ParseInt(string(ev.Data), 10, 64)
				local = append(local, at.Sub(time.Unix(0, sent)))
				if len(local) == o.tokens {
					break
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
			if len(local) != o.tokens {
				return fmt.Errorf("floor log %d: %d of %d events", i, len(local), o.tokens)
			}
			return nil
		})
		g.Go(func() error {
			tick := time.NewTicker(o.interval)
			defer tick.Stop()
			for range o.tokens {
				select {
				case <-tick.C:
				case <-gctx.Done():
					return gctx.Err()
				}
				now := strconv.FormatInt(time.Now().UnixNano(), 10)
				if _, err := r.p.Turns.PublishEvent(gctx, id, "token", []byte(now)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return lat, g.Wait()
}

// probeLogs is how many logs the floor probe writes during the relay phase.
const probeLogs = 4

// startProbe measures the JetStream floor while the turns run: a few logs written
// at the token interval by a synchronous publisher, each read by its own ordered
// consumer, as jetStreamFloor does alone. stop ends it and returns the latencies.
func startProbe(ctx context.Context, r *rig, interval time.Duration) (stop func() samples, err error) {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var lat samples
	var wg sync.WaitGroup
	run := time.Now().UnixNano()
	for i := range probeLogs {
		id := fmt.Sprintf("probe-%d-%d", run, i)
		ch, err := r.p.Turns.Follow(ctx, id, 0)
		if err != nil {
			cancel()
			wg.Wait()
			return nil, err
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for ev := range ch {
				at := time.Now()
				sent, _ := strconv.ParseInt(string(ev.Data), 10, 64)
				mu.Lock()
				lat = append(lat, at.Sub(time.Unix(0, sent)))
				mu.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
				case <-ctx.Done():
					return
				}
				now := strconv.FormatInt(time.Now().UnixNano(), 10)
				if _, err := r.p.Turns.PublishEvent(ctx, id, "token", []byte(now)); err != nil {
					return
				}
			}
		}()
	}
	return func() samples {
		cancel()
		wg.Wait()
		return lat
	}, nil
}
