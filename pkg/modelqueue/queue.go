// Package modelqueue schedules chat turns onto a model's slots fairly across
// the whole fleet of agent workers. The queue itself lives in PostgreSQL (the
// store's model_queue), so the model's parallelism holds however many workers
// run; NATS only carries the news: whoever changes the queue publishes its new
// order, and each waiting turn reads its place from it at once instead of
// asking the database.
package modelqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/youworker/youworker/pkg/store"
)

// Defaults of Config.
const (
	DefaultLease = 30 * time.Second
	DefaultPoll  = 5 * time.Second
)

// Config tunes the queue.
type Config struct {
	// Limits bound each model; Limits.Parallel must be positive.
	Limits store.ModelLimits
	// DefaultModel is the model of turns that name none.
	DefaultModel string
	// Poll is how often a waiting turn checks the queue itself, for what no
	// message announces: a lease running out, a minute's limit freeing up, or a
	// lost message.
	Poll time.Duration
}

// Queue hands out model slots. It is safe for concurrent use.
type Queue struct {
	store  *store.Store
	nc     *nats.Conn
	cfg    Config
	logger *slog.Logger

	mu     sync.Mutex
	last   map[string]snapshot   // per model, the newest order this process saw
	rounds map[string]*rounds    // per model, the rebalances of this process
	news   map[string]*listeners // per model, this process's waiting turns
}

// listeners are the turns of this process waiting for a model, following its
// announcements through one subscription. Each waiting turn used to subscribe
// and decode every announcement itself: in a burst of k turns that was k
// copies of every message and k² orders decoded.
type listeners struct {
	sub     *nats.Subscription
	waiting map[chan snapshot]struct{}
	newest  time.Time // of the newest order passed on
}

// rounds runs a model's rebalances one at a time and lets callers share them.
// A rebalance takes the model's lock in the database and several round trips
// under it, so a burst of turns joining or leaving, each rebalancing on its
// own, queued on that lock one after the other: a hundred turns starting
// together waited for a hundred rebalances. Every caller needs only a
// rebalance that begins after its own change to the queue; callers arriving
// while one runs all share the next, so a burst costs two.
type rounds struct {
	running bool
	next    *round // the round that starts when the running one ends
}

// round is one rebalance, shared by every caller that joined it, with the
// turns those callers bring into the queue or take out of it.
type round struct {
	changes store.QueueChanges
	done    chan struct{}
	s       snapshot
	err     error
}

// New returns a queue over st, announcing changes on nc.
func New(st *store.Store, nc *nats.Conn, cfg Config, logger *slog.Logger) (*Queue, error) {
	if cfg.Limits.Parallel < 1 {
		return nil, errors.New("modelqueue: the model's parallelism must be at least 1")
	}
	if cfg.Limits.Lease <= 0 {
		cfg.Limits.Lease = DefaultLease
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	return &Queue{store: st, nc: nc, cfg: cfg, logger: logger.With("component", "model-queue"), last: map[string]snapshot{}, rounds: map[string]*rounds{}, news: map[string]*listeners{}}, nil
}

// snapshot is a model's queue as one rebalance left it. At is the database's
// clock, so snapshots are ordered even when messages cross.
type snapshot struct {
	At      time.Time `json:"at"`
	Granted []string  `json:"granted"`
	Waiting []string  `json:"waiting"`
}

func (s snapshot) state() store.ModelQueueState {
	return store.ModelQueueState{Granted: s.Granted, Waiting: s.Waiting}
}

// Subject is where a model's queue changes are announced. Model names hold
// dots and colons, which subjects cannot, so the subject carries a hash.
func Subject(model string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(model))
	return fmt.Sprintf("yw.modelqueue.%016x", h.Sum64())
}

// Acquire puts a turn in its model's queue and returns once the turn holds a
// slot. While it waits, onPosition is called with each new place (1: next). The
// returned release frees the slot; call it when the turn no longer needs the
// model. If ctx ends first the turn leaves the queue and ctx's error is returned.
func (q *Queue) Acquire(ctx context.Context, turn store.Turn, onPosition func(position int) error) (release func(), err error) {
	model := turn.Model
	if model == "" {
		model = q.cfg.DefaultModel
	}
	news, stopListening, err := q.listen(model)
	if err != nil {
		return nil, fmt.Errorf("follow the model queue: %w", err)
	}
	defer stopListening()
	leave := func() {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := q.rebalance(lctx, model, store.QueueChanges{Leave: []string{turn.ID}}); err != nil {
			q.logger.WarnContext(ctx, "leaving the model queue", "turn_id", turn.ID, "model", model, "error", err)
		}
	}
	// The turn joins the line with the next rebalance, whose order comes back.
	seen, err := q.rebalance(ctx, model, store.QueueChanges{Join: []store.QueuedTurn{{TurnID: turn.ID, UserID: turn.UserID}}})
	if ctx.Err() != nil {
		leave() // the rebalance may still bring it in
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("join the model queue: %w", err)
	}
	// The queue is checked in the background: a check waits for the queue's
	// lock, and meanwhile this turn keeps reading the news, which tells it its
	// place as soon as anyone's check has it. A check's own result comes back
	// too, for when it changed nothing others would announce.
	checks := make(chan snapshot, 4)
	check := func() {
		go func() {
			s, err := q.rebalance(ctx, model, store.QueueChanges{})
			if err != nil {
				if ctx.Err() == nil {
					q.logger.WarnContext(ctx, "checking the model queue", "model", model, "error", err)
				}
				return
			}
			select {
			case checks <- s:
			default: // a newer check's result is on its way
			}
		}()
	}
	poll := time.NewTimer(q.jitteredPoll())
	defer poll.Stop()
	inLine, reported := false, 0
	for {
		switch pos := seen.state().Position(turn.ID); {
		case pos == 0:
			return q.hold(ctx, turn.ID, leave), nil
		case pos < 0 && inLine:
			leave()
			return nil, fmt.Errorf("turn %s left the queue of %s unexpectedly", turn.ID, model)
		case pos > 0 && pos != reported:
			inLine, reported = true, pos
			if err := onPosition(pos); err != nil {
				leave()
				return nil, err
			}
		}
		select {
		case <-ctx.Done():
			leave()
			return nil, ctx.Err()
		case s := <-news:
			// In a burst of changes only the newest order matters: a waiting
			// user is told where they stand now, not every step on the way.
			if !s.At.Before(seen.At) {
				seen = s
			}
		case s := <-checks:
			if !s.At.Before(seen.At) {
				seen = s
			}
		case <-poll.C:
			poll.Reset(q.jitteredPoll())
			check()
		}
	}
}

// listen follows model's announcements for one waiting turn until stop: the
// channel holds the newest order not yet read.
func (q *Queue) listen(model string) (news <-chan snapshot, stop func(), err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.news[model]
	if l == nil {
		l = &listeners{waiting: map[chan snapshot]struct{}{}}
		if l.sub, err = q.nc.Subscribe(Subject(model), func(m *nats.Msg) { q.announced(model, l, m) }); err != nil {
			return nil, nil, err
		}
		q.news[model] = l
	}
	ch := make(chan snapshot, 1)
	l.waiting[ch] = struct{}{}
	return ch, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		delete(l.waiting, ch)
		if len(l.waiting) == 0 && q.news[model] == l {
			_ = l.sub.Unsubscribe()
			delete(q.news, model)
		}
	}, nil
}

// announced passes an announcement on to every waiting turn of this process,
// unless a newer order was passed on already.
func (q *Queue) announced(model string, l *listeners, m *nats.Msg) {
	q.mu.Lock()
	older := announcedAt(m.Data).Before(l.newest)
	q.mu.Unlock()
	if older {
		return
	}
	var s snapshot
	if err := json.Unmarshal(m.Data, &s); err != nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if s.At.Before(l.newest) {
		return
	}
	l.newest = s.At
	q.noteLocked(model, s)
	for ch := range l.waiting {
		select {
		case <-ch: // an older order not read yet gives way
		default:
		}
		ch <- s
	}
}

// announcedAt reads when an announced order was taken without decoding the
// order: snapshot's first field, which encoding/json writes first. An
// announcement of another shape reads as the zero time, so it is decoded only
// while no order was passed on yet.
func announcedAt(data []byte) time.Time {
	rest, ok := bytes.CutPrefix(data, []byte(`{"at":"`))
	if !ok {
		return time.Time{}
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return time.Time{}
	}
	at, err := time.Parse(time.RFC3339Nano, string(rest[:end]))
	if err != nil {
		return time.Time{}
	}
	return at
}

// hold keeps a granted slot's lease alive until release is called.
func (q *Queue) hold(ctx context.Context, turnID string, leave func()) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(q.cfg.Limits.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				ok, err := q.store.RenewModelSlot(context.WithoutCancel(ctx), turnID, q.cfg.Limits.Lease)
				if err != nil || !ok {
					q.logger.WarnContext(ctx, "the turn's model slot could not be renewed", "turn_id", turnID, "error", err)
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-stopped
			leave()
		})
	}
}

// rebalance applies changes, lets the store grant free slots and returns the
// queue, from a rebalance that begins after the call (see rounds). If ctx ends
// first, the rebalance still runs, changes included, for the others sharing it.
func (q *Queue) rebalance(ctx context.Context, model string, changes store.QueueChanges) (snapshot, error) {
	q.mu.Lock()
	rs := q.rounds[model]
	if rs == nil {
		rs = &rounds{}
		q.rounds[model] = rs
	}
	r := rs.next
	if r == nil {
		r = &round{done: make(chan struct{})}
		rs.next = r
	}
	r.changes.Join = append(r.changes.Join, changes.Join...)
	r.changes.Leave = append(r.changes.Leave, changes.Leave...)
	if !rs.running {
		rs.running, rs.next = true, nil
		go q.runRounds(context.WithoutCancel(ctx), model, rs, r)
	}
	q.mu.Unlock()
	select {
	case <-r.done:
		return r.s, r.err
	case <-ctx.Done():
		return snapshot{}, ctx.Err()
	}
}

// rebalanceTimeout bounds one shared rebalance, which no caller's context ends.
const rebalanceTimeout = 10 * time.Second

// runRounds runs r, then the rounds callers joined meanwhile, until none is
// waiting.
func (q *Queue) runRounds(ctx context.Context, model string, rs *rounds, r *round) {
	for r != nil {
		rctx, cancel := context.WithTimeout(ctx, rebalanceTimeout)
		r.s, r.err = q.rebalanceNow(rctx, model, r.changes)
		cancel()
		close(r.done)
		q.mu.Lock()
		r, rs.next = rs.next, nil
		rs.running = r != nil
		q.mu.Unlock()
	}
}

// rebalanceNow lets the store grant free slots and announces the new order
// when it differs from the last one this process knows of.
func (q *Queue) rebalanceNow(ctx context.Context, model string, changes store.QueueChanges) (snapshot, error) {
	st, err := q.store.ChangeModelQueue(ctx, model, q.cfg.Limits, changes)
	if err != nil {
		return snapshot{}, err
	}
	s := snapshot{At: st.At, Granted: st.Granted, Waiting: st.Waiting}
	if q.note(model, s) {
		data, _ := json.Marshal(s)
		if err := q.nc.Publish(Subject(model), data); err != nil {
			q.logger.WarnContext(ctx, "announcing the model queue", "model", model, "error", err)
		}
	}
	return s, nil
}

// note records s as the newest order of model this process knows of, and
// reports whether it differs from the one known before.
func (q *Queue) note(model string, s snapshot) (changed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.noteLocked(model, s)
}

// noteLocked is note with q.mu held.
func (q *Queue) noteLocked(model string, s snapshot) (changed bool) {
	prev, known := q.last[model]
	if known && s.At.Before(prev.At) {
		return false
	}
	q.last[model] = s
	return !known || !slices.Equal(prev.Granted, s.Granted) || !slices.Equal(prev.Waiting, s.Waiting)
}

// jitteredPoll spreads the waiting turns' own checks so they do not all query
// at once.
func (q *Queue) jitteredPoll() time.Duration {
	return q.cfg.Poll/2 + rand.N(q.cfg.Poll)
}
