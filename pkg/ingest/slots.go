package ingest

import (
	"container/heap"
	"context"
	"sync"
)

// slotPool bounds the embedding requests in flight across the documents a
// worker processes, and hands a freed slot to the waiting document with the
// fewest chunks left to embed (the earliest waiter among equals).
//
// Why not take turns: documents sharing the pool evenly advance at one pace and
// finish together, and then all of them download, parse and chunk their
// successors at the same moment while the embedder sits idle. Serving the
// document closest to done staggers the finishes, so one document's parsing
// overlaps the others' embedding; it also gets a small document, the one a
// user is waiting on, ready first instead of behind a long one.
type slotPool struct {
	mu      sync.Mutex
	free    int
	waiters slotWaiters
	arrived uint64
}

func newSlotPool(size int) *slotPool { return &slotPool{free: size} }

// acquire takes a slot for a request of a document with remaining chunks left
// to embed (this request's included), waiting until one is free or ctx ends.
func (p *slotPool) acquire(ctx context.Context, remaining int) error {
	p.mu.Lock()
	if p.free > 0 && len(p.waiters) == 0 {
		p.free--
		p.mu.Unlock()
		return nil
	}
	p.arrived++
	w := &slotWaiter{remaining: remaining, arrival: p.arrived, granted: make(chan struct{})}
	heap.Push(&p.waiters, w)
	p.mu.Unlock()

	select {
	case <-w.granted:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		if w.index >= 0 {
			heap.Remove(&p.waiters, w.index)
			p.mu.Unlock()
			return ctx.Err()
		}
		p.mu.Unlock()
		// Granted while we gave up: pass the slot on.
		p.release()
		return ctx.Err()
	}
}

// release returns a slot, handing it straight to the first waiter if any.
func (p *slotPool) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiters) == 0 {
		p.free++
		return
	}
	w := heap.Pop(&p.waiters).(*slotWaiter)
	close(w.granted)
}

type slotWaiter struct {
	remaining int
	arrival   uint64
	granted   chan struct{}
	index     int // in the heap; -1 once granted or removed
}

// slotWaiters is a min-heap by (remaining, arrival).
type slotWaiters []*slotWaiter

func (h slotWaiters) Len() int { return len(h) }
func (h slotWaiters) Less(i, j int) bool {
	if h[i].remaining != h[j].remaining {
		return h[i].remaining < h[j].remaining
	}
	return h[i].arrival < h[j].arrival
}
func (h slotWaiters) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *slotWaiters) Push(x any) {
	w := x.(*slotWaiter)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *slotWaiters) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	w.index = -1
	*h = old[:len(old)-1]
	return w
}
