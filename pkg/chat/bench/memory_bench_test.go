package bench_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/llmtest"
)

// streamMemory opens k event streams on turns waiting for their first token and
// reports the heap and stack growth per stream.
func streamMemory(ctx context.Context, r *rig, o options) (heap, stack float64, err error) {
	texts := r.prepare(o.k, 1, "memory", llmtest.Script{Tokens: []string{"ok"}, FirstTokenDelay: 3 * time.Second})
	ids := make([]string, o.k)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i, text := range texts {
		g.Go(func() (err error) { ids[i], err = r.submit(gctx, text); return err })
	}
	if err := g.Wait(); err != nil {
		return 0, 0, err
	}
	// Every turn is running and waiting on the model before the baseline.
	deadline := time.Now().Add(30 * time.Second)
	for r.model.Count("/api/chat") < o.k {
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("only %d of %d turns reached the model", r.model.Count("/api/chat"), o.k)
		}
		time.Sleep(10 * time.Millisecond)
	}
	h0, s0 := memNow()
	var started sync.WaitGroup
	started.Add(o.k)
	done := make(chan error, o.k)
	for _, id := range ids {
		go func() {
			var once sync.Once
			done <- r.stream(ctx, id, func(e sseEvent) {
				if e.typ == "turn.started" {
					once.Do(started.Done)
				}
			})
			once.Do(started.Done)
		}()
	}
	started.Wait()
	h1, s1 := memNow()
	for range o.k {
		if err := <-done; err != nil {
			return 0, 0, err
		}
	}
	return float64(int64(h1)-int64(h0)) / float64(o.k), float64(int64(s1)-int64(s0)) / float64(o.k), nil
}

func memNow() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.StackInuse
}
