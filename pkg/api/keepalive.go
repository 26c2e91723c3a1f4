package api

import (
	"sync"
	"time"
)

// keepAlive tells long-lived streams when to send a ping, from one ticker for
// the whole server rather than a timer per stream: a server holding ten
// thousand idle streams (chat tabs left open) then has one timer, not ten
// thousand.
//
// The interval is cut into slots, ticked in turn. A stream joins the slot that
// has just ticked, so its first ping comes one interval after it opened, and
// the streams' pings spread over the interval instead of all leaving at once.
// A slot's signal is a channel closed when it ticks, which wakes every stream
// of the slot without the ticker knowing them.
//
// The ticker runs only while streams are open, so a server that streams
// nothing, or a handler tested without a server, leaves no goroutine behind.
type keepAlive struct {
	every time.Duration

	mu    sync.Mutex
	slots []chan struct{}
	next  int           // the slot the next tick signals
	open  int           // streams joined
	stop  chan struct{} // ends the ticker; nil while none runs
}

// keepAliveSlots is how many groups the streams' pings are spread over.
const keepAliveSlots = 16

func newKeepAlive(every time.Duration) *keepAlive {
	k := &keepAlive{every: every, slots: make([]chan struct{}, keepAliveSlots)}
	for i := range k.slots {
		k.slots[i] = make(chan struct{})
	}
	return k
}

// join adds a stream and returns its slot; the stream must call leave when
// it ends.
func (k *keepAlive) join() (slot int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.open++
	if k.stop == nil {
		k.stop = make(chan struct{})
		go k.tick(k.stop)
	}
	return (k.next + len(k.slots) - 1) % len(k.slots)
}

// leave removes a stream; the last one out stops the ticker.
func (k *keepAlive) leave() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.open--; k.open == 0 {
		close(k.stop)
		k.stop = nil
	}
}

// due returns a channel closed when slot next ticks, a ping interval after
// the last time it did. Call it again after each ping.
func (k *keepAlive) due(slot int) <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.slots[slot]
}

// tick signals one slot per interval/len(slots) until stop closes.
func (k *keepAlive) tick(stop <-chan struct{}) {
	t := time.NewTicker(k.every / time.Duration(len(k.slots)))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			k.mu.Lock()
			close(k.slots[k.next])
			k.slots[k.next] = make(chan struct{})
			k.next = (k.next + 1) % len(k.slots)
			k.mu.Unlock()
		}
	}
}
