package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Events replays a turn's events after afterSeq (0 for all of them), then
// follows new ones live, until ctx ends. Each event arrives once, in order.
//
// Live events come from one ordered consumer per process over every turn
// (turnHub), not from a consumer per reader: a JetStream consumer filtered on
// one turn makes the server step over every other turn's events to find the
// next of its own, so a thousand open streams would cost the server a thousand
// scans of the same messages. The price is that a process with any reader
// receives every turn's events, including those nobody reads there: cheap while
// API replicas are few. A reader that connects mid-turn first replays
// what the hub had already passed with a consumer of its own (Follow), then
// takes the hub's events from there.
//
// The channel is closed when ctx ends, when the reader falls too far behind
// (readerBacklog events), or when the log cannot be followed any longer; a
// client then resumes with the last sequence it received. The caller must
// cancel ctx to release the reader.
//
// A reader with nothing to replay (a new or caught-up client, an idle turn)
// costs no goroutine: the hub sends to its channel and ctx's end releases it.
// Only a replay runs in a goroutine of its own, until the reader is live.
func (t *Turns) Events(ctx context.Context, turnID string, afterSeq uint64) (<-chan Event, error) {
	if err := validToken(turnID); err != nil {
		return nil, fmt.Errorf("turn events: %w", err)
	}
	r := &hubReader{out: make(chan Event, readerChan), done: ctx.Done()}
	passed, turnLast, err := t.hub.register(ctx, turnID, r)
	if err != nil {
		return nil, fmt.Errorf("turn events for %s: %w", turnID, err)
	}
	context.AfterFunc(ctx, func() {
		t.hub.unregister(turnID, r)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.drop()
	})
	var end uint64 // the last of the turn's events the hub had passed
	if afterSeq < passed {
		if end, err = t.lastStored(ctx, turnID); err != nil {
			if ctx.Err() == nil {
				t.log.Warn("turn events replay stopped", "turn_id", turnID, "error", err)
			}
			r.mu.Lock()
			r.drop()
			r.mu.Unlock()
			return r.out, nil
		}
		end = min(max(end, turnLast), passed)
	}
	if end <= afterSeq {
		// Nothing of this turn was stored before the hub's position.
		r.goLive(afterSeq)
		return r.out, nil
	}
	r.mu.Lock()
	if r.dead {
		r.mu.Unlock()
		return r.out, nil // ctx ended meanwhile
	}
	r.sending = true
	r.mu.Unlock()
	go func() {
		last, err := t.replay(ctx, turnID, afterSeq, end, r.out)
		if err != nil {
			if ctx.Err() == nil {
				t.log.Warn("turn events replay stopped", "turn_id", turnID, "error", err)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			r.sending = false
			r.drop()
			return
		}
		r.goLive(last)
	}()
	return r.out, nil
}

// replay sends the turn's events after afterSeq up to and including end, which
// is stored and not after the hub's position when the reader registered (the
// hub brings everything later), and returns the last sequence sent.
func (t *Turns) replay(ctx context.Context, turnID string, afterSeq, end uint64, out chan<- Event) (uint64, error) {
	last := afterSeq
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := t.Follow(rctx, turnID, afterSeq)
	if err != nil {
		return last, err
	}
	for ev := range ch {
		if ev.Seq > end {
			return last, nil
		}
		select {
		case out <- ev:
			last = ev.Seq
		case <-ctx.Done():
			return last, ctx.Err()
		}
		if ev.Seq >= end {
			return last, nil
		}
	}
	if ctx.Err() != nil {
		return last, ctx.Err()
	}
	return last, errors.New("replay ended early")
}

// lastSeqOf returns the sequence of the turn's last stored event, 0 if none.
func (t *Turns) lastSeqOf(ctx context.Context, turnID string) (uint64, error) {
	stream, err := t.turnsStream(ctx)
	if err != nil {
		return 0, err
	}
	msg, err := stream.GetLastMsgForSubject(ctx, TurnSubject(turnID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return msg.Sequence, nil
}

// turnsStream returns the turn event stream's handle, looked up once.
func (t *Turns) turnsStream(ctx context.Context) (jetstream.Stream, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stream == nil {
		s, err := t.js.Stream(ctx, StreamTurns)
		if err != nil {
			return nil, err
		}
		t.stream = s
	}
	return t.stream, nil
}

// readerBacklog is how many events a reader may have waiting. The hub never
// waits for a reader: one that lets this many pile up is disconnected.
const readerBacklog = 128

// readerChan is the room in a reader's channel. A reader that keeps up needs
// little; a burst beyond it waits in the reader's pending list, up to
// readerBacklog in all, and a goroutine started for the burst feeds it to the
// channel. A full-size channel would cost every open stream 9 KiB, most of
// them idle.
const readerChan = 16

// hubReader is one Events call. Until it goes live, the hub parks the turn's
// events in pending while the reader replays what came before; from then on
// the hub sends straight to out, or, when out is full, parks them for flush.
//
// Events reach out in order from one sender at a time: the hub under mu, or,
// while sending is set, the replay or flush goroutine without mu. out is
// closed once, by whoever ends the reader last.
type hubReader struct {
	out  chan Event
	done <-chan struct{} // the Events call's ctx

	mu      sync.Mutex
	live    bool
	dead    bool
	sending bool // a goroutine sends to out without holding mu
	closed  bool
	pending []Event
	last    uint64 // once live: the last sequence sent or parked
}

// offer hands the reader an event; the hub's lock is held.
func (r *hubReader) offer(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.dead:
		return
	case r.live && ev.Seq <= r.last:
		return
	case r.live && len(r.pending) == 0 && !r.sending:
		select {
		case r.out <- ev:
			r.last = ev.Seq
			return
		default:
		}
	}
	if len(r.pending)+len(r.out) >= readerBacklog {
		r.drop()
		return
	}
	r.pending = append(r.pending, ev)
	if r.live {
		r.last = ev.Seq
		r.flushLater()
	}
}

// drop gives up on the reader and closes out unless a goroutine is still
// sending to it; r.mu is held.
func (r *hubReader) drop() {
	r.dead = true
	r.pending = nil
	r.closeOut()
}

// closeOut closes out once, when nobody sends to it any more; r.mu is held.
func (r *hubReader) closeOut() {
	if r.dead && !r.sending && !r.closed {
		r.closed = true
		close(r.out)
	}
}

// goLive lets the hub send to the reader directly from last on: the end of a
// replay, or the start of a reader that replays nothing. What the hub parked
// meanwhile follows in order.
func (r *hubReader) goLive(last uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sending = false
	if r.dead {
		r.closeOut()
		return
	}
	parked := r.pending[:0]
	for _, ev := range r.pending {
		if ev.Seq > last {
			parked = append(parked, ev)
			last = ev.Seq
		}
	}
	r.pending, r.live, r.last = parked, true, last
	for len(r.pending) > 0 {
		select {
		case r.out <- r.pending[0]:
			r.pending = r.pending[1:]
			continue
		default:
		}
		r.flushLater()
		return
	}
	r.pending = nil
}

// flushLater starts the goroutine that feeds pending to out; r.mu is held.
func (r *hubReader) flushLater() {
	if !r.sending {
		r.sending = true
		go r.flush()
	}
}

// flush sends the parked events as the reader takes them, then ends.
func (r *hubReader) flush() {
	for {
		r.mu.Lock()
		if r.dead || len(r.pending) == 0 {
			r.sending = false
			r.pending = nil
			r.closeOut()
			r.mu.Unlock()
			return
		}
		ev := r.pending[0]
		r.mu.Unlock()
		select {
		case r.out <- ev:
			r.mu.Lock()
			if len(r.pending) > 0 { // dropped meanwhile otherwise
				r.pending = r.pending[1:]
			}
			r.mu.Unlock()
		case <-r.done:
			r.mu.Lock()
			r.sending = false
			r.drop()
			r.mu.Unlock()
			return
		}
	}
}

// turnHub follows every turn's events with one ordered consumer while this
// process has readers, and hands each event to the readers of its turn.
type turnHub struct {
	js  jetstream.JetStream
	log *slog.Logger

	mu      sync.Mutex
	run     *hubRun // nil while nobody reads
	readers map[string]map[*hubReader]struct{}
	// The last sequence the hub passed of each turn among its latest
	// recentKept events, and those events oldest first (a ring from
	// recentNext). A reader's replay ends no earlier than this: the stream's
	// leader may not yet answer with an event the hub's consumer, on another
	// replica, has already passed.
	recent     map[string]uint64
	recentRing []recentEvent
	recentNext int
}

// recentEvent is one event the hub passed, for turnHub.recent.
type recentEvent struct {
	turnID string
	seq    uint64
}

// recentKept is how many of its latest events the hub remembers the turns
// of: far more than the leader of the stream can lag behind a replica.
const recentKept = 4096

// passedRecently records that the hub passed seq of turnID; h.mu is held.
func (h *turnHub) passedRecently(turnID string, seq uint64) {
	if h.recent == nil {
		h.recent = map[string]uint64{}
		h.recentRing = make([]recentEvent, 0, recentKept)
	}
	if len(h.recentRing) < recentKept {
		h.recentRing = append(h.recentRing, recentEvent{turnID, seq})
	} else {
		old := h.recentRing[h.recentNext]
		if h.recent[old.turnID] == old.seq {
			delete(h.recent, old.turnID)
		}
		h.recentRing[h.recentNext] = recentEvent{turnID, seq}
		h.recentNext = (h.recentNext + 1) % recentKept
	}
	h.recent[turnID] = seq
}

// hubRun is one life of the hub's consumer, from the first reader to the last.
type hubRun struct {
	it     jetstream.MessagesContext
	passed uint64 // sequence of the last event dispatched (or skipped at start)
}

// register adds r to turnID's readers, starting the hub if it is idle, and
// returns the hub's position, passed: events after it reach r through offer.
// turnLast is the last event of the turn the hub passed lately, 0 if none.
func (h *turnHub) register(ctx context.Context, turnID string, r *hubReader) (passed, turnLast uint64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.run == nil {
		run, err := h.start(ctx)
		if err != nil {
			return 0, 0, err
		}
		h.run = run
	}
	if h.readers == nil {
		h.readers = map[string]map[*hubReader]struct{}{}
	}
	set := h.readers[turnID]
	if set == nil {
		set = map[*hubReader]struct{}{}
		h.readers[turnID] = set
	}
	set[r] = struct{}{}
	return h.run.passed, h.recent[turnID], nil
}

// unregister removes r; the last reader out stops the hub.
func (h *turnHub) unregister(turnID string, r *hubReader) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.readers[turnID]
	if _, ok := set[r]; !ok {
		return // dropped with the rest when the hub failed
	}
	delete(set, r)
	if len(set) == 0 {
		delete(h.readers, turnID)
	}
	// Empty sets are deleted, so no turns means no readers.
	if len(h.readers) == 0 && h.run != nil {
		h.run.it.Stop()
		h.run = nil
	}
}

// start opens the consumer just past the stream's last event; h.mu is held.
func (h *turnHub) start(ctx context.Context) (*hubRun, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := h.js.Stream(ctx, StreamTurns)
	if err != nil {
		return nil, err
	}
	last := stream.CachedInfo().State.LastSeq
	cons, err := h.js.OrderedConsumer(ctx, StreamTurns, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{SubjectTurnsAll},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       last + 1,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, err
	}
	run := &hubRun{it: it, passed: last}
	go h.follow(run)
	return run, nil
}

// follow dispatches the run's events until its iterator stops.
func (h *turnHub) follow(run *hubRun) {
	for {
		msg, err := run.it.Next()
		if err != nil {
			if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				h.fail(run, err)
			}
			return
		}
		md, err := msg.Metadata()
		if err != nil {
			continue
		}
		turnID, ok := strings.CutPrefix(msg.Subject(), SubjectTurnPrefix)
		if !ok {
			continue
		}
		ev := Event{Seq: md.Sequence.Stream, Type: msg.Headers().Get(HeaderEventType), Data: msg.Data(), Time: md.Timestamp}
		h.mu.Lock()
		if h.run != run {
			h.mu.Unlock()
			return // stopped meanwhile
		}
		run.passed = ev.Seq
		h.passedRecently(turnID, ev.Seq)
		for r := range h.readers[turnID] {
			r.offer(ev)
		}
		h.mu.Unlock()
	}
}

// fail disconnects every reader of a run whose consumer broke; the next
// reader starts a new run.
func (h *turnHub) fail(run *hubRun, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.run != run {
		return
	}
	h.log.Warn("turn events stopped", "error", err)
	for _, set := range h.readers {
		for r := range set {
			r.mu.Lock()
			r.drop()
			r.mu.Unlock()
		}
	}
	h.readers, h.run = nil, nil
	run.it.Stop()
}
