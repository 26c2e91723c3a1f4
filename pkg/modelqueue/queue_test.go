package modelqueue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/modelqueue"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/store"
)

// fleet is a database, a NATS server and n queues over them, each with its own
// connection, as n agent workers would have.
type fleet struct {
	st     *store.Store
	queues []*modelqueue.Queue
}

func newFleet(t *testing.T, n int, lim store.ModelLimits, poll time.Duration) fleet {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	ns := queuetest.Start(t)
	f := fleet{st: store.New(pool)}
	for range n {
		nc, _ := ns.Connect(t)
		q, err := modelqueue.New(f.st, nc, modelqueue.Config{Limits: lim, DefaultModel: "m", Poll: poll}, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		f.queues = append(f.queues, q)
	}
	return f
}

// turns makes n turns of a new user, each in a session of its own.
func (f fleet) turns(t *testing.T, name string, n int) []store.Turn {
	t.Helper()
	ctx := context.Background()
	u, err := f.st.CreateUser(ctx, name, false)
	require.NoError(t, err)
	out := make([]store.Turn, n)
	for i := range n {
		s, err := f.st.CreateSession(ctx, u.ID, fmt.Sprintf("%s %d", name, i))
		require.NoError(t, err)
		_, out[i], err = f.st.CreateTurn(ctx, s.ID, u.ID, "question", "", true, nil)
		require.NoError(t, err)
	}
	return out
}

// served records what happened to each turn.
type served struct {
	mu        sync.Mutex
	order     []string         // turn ids in the order they got a slot
	positions map[string][]int // turn id -> the places it was told
}

func (s *served) position(id string, p int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.positions[id] = append(s.positions[id], p)
	return nil
}

// run has a turn wait through queue q, hold the model until hold returns, then
// release it.
func (s *served) run(t *testing.T, q *modelqueue.Queue, turn store.Turn, hold func(), wg *sync.WaitGroup) {
	defer wg.Done()
	release, err := q.Acquire(context.Background(), turn, func(p int) error { return s.position(turn.ID, p) })
	if err != nil {
		t.Error(err)
		return
	}
	s.mu.Lock()
	s.order = append(s.order, turn.ID)
	s.mu.Unlock()
	hold()
	release()

}

// waitForPositions waits until every turn was told a place in the queue.
func (s *served) waitForPositions(t *testing.T, turns []store.Turn) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, tr := range turns {
			if len(s.positions[tr.ID]) == 0 && !slices.Contains(s.order, tr.ID) {
				return false
			}
		}
		return true
	}, 5*time.Second, 5*time.Millisecond)
}

func TestQueueServesOtherUsersBeforeTheHeavyUsersBacklog(t *testing.T) {
	t.Parallel()
	// Three workers, a model that serves two turns at a time, and a poll so
	// slow that only the announcements can move the queue.
	f := newFleet(t, 3, store.ModelLimits{Parallel: 2}, time.Minute)
	heavy := f.turns(t, "heavy", 6)
	light := append(f.turns(t, "light", 1), f.turns(t, "other", 1)...)
	s := &served{positions: map[string][]int{}}
	// The model's answers take 50ms, and the first ones only start once
	// everybody is in line.
	inLine := make(chan struct{})
	hold := func() { <-inLine; time.Sleep(50 * time.Millisecond) }
	var wg sync.WaitGroup
	for i, tr := range heavy {
		wg.Add(1)
		go s.run(t, f.queues[i%3], tr, hold, &wg)
	}
	s.waitForPositions(t, heavy)
	for i, tr := range light {
		wg.Add(1)
		go s.run(t, f.queues[(i+1)%3], tr, hold, &wg)
	}
	s.waitForPositions(t, light)
	close(inLine)
	wg.Wait()

	require.Len(t, s.order, 8)
	// The heavy user took both slots first; the two others came next, ahead of
	// the heavy user's remaining four, so each waited one model turn at most.
	for _, tr := range light {
		at := slices.Index(s.order, tr.ID)
		require.Contains(t, []int{2, 3}, at, "light turn served at %d in %v", at, s.order)
		require.NotEmpty(t, s.positions[tr.ID])
		require.LessOrEqual(t, s.positions[tr.ID][0], 2, "a light turn arrived behind the heavy backlog: %v", s.positions[tr.ID])
	}
	// A light turn's place only went down (the heavy user's turns moved back
	// when the others arrived); whoever waited was last told a place within
	// reach of the two slots.
	for _, tr := range light {
		ps := s.positions[tr.ID]
		require.True(t, slices.IsSortedFunc(ps, func(a, b int) int { return b - a }), "%s was told %v", tr.ID, ps)
	}
	for id, ps := range s.positions {
		require.LessOrEqual(t, ps[len(ps)-1], 2, "%s was told %v", id, ps)
	}
}

func TestQueueLetsAWaitingTurnGoWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, store.ModelLimits{Parallel: 1}, time.Minute)
	turns := f.turns(t, "user", 3)
	ctx := context.Background()

	release, err := f.queues[0].Acquire(ctx, turns[0], func(int) error { return nil })
	require.NoError(t, err)

	// The second turn gives up while it waits (its user cancelled it).
	cctx, cancel := context.WithCancel(ctx)
	told := make(chan int, 8)
	gaveUp := make(chan error, 1)
	go func() {
		_, err := f.queues[1].Acquire(cctx, turns[1], func(p int) error { told <- p; return nil })
		gaveUp <- err
	}()
	require.Equal(t, 1, <-told)

	third := make(chan int, 8)
	granted := make(chan func(), 1)
	go func() {
		r, err := f.queues[1].Acquire(ctx, turns[2], func(p int) error { third <- p; return nil })
		if err != nil {
			t.Error(err)
		}
		granted <- r
	}()
	require.Equal(t, 2, <-third)
	cancel()
	require.ErrorIs(t, <-gaveUp, context.Canceled)
	select {
	case p := <-third:
		require.Equal(t, 1, p, "the third turn moves up when the second leaves")
	case <-time.After(2 * time.Second):
		t.Fatal("the third turn was not told it moved up")
	}
	release()
	select {
	case r := <-granted:
		r()
	case <-time.After(2 * time.Second):
		t.Fatal("the freed slot did not reach the waiting turn")
	}
	q, err := f.st.RebalanceModelQueue(ctx, "m", store.ModelLimits{Parallel: 1})
	require.NoError(t, err)
	require.Empty(t, q.Granted)
	require.Empty(t, q.Waiting, "every turn left the queue")
}

// A burst of turns starting and ending together shares rebalances; each turn
// must still see one that began after it joined or left, or it would wait for
// the next poll (a minute here) instead of the announcement.
func TestQueueBurstOfTurnsIsServedWithoutWaitingForThePoll(t *testing.T) {
	const turns, parallel = 30, 4
	f := newFleet(t, 1, store.ModelLimits{Parallel: parallel}, time.Minute)
	var all []store.Turn
	for i := range turns {
		all = append(all, f.turns(t, fmt.Sprintf("burst-%02d", i), 1)...)
	}
	s := &served{positions: map[string][]int{}}
	var holding, most int
	var mu sync.Mutex
	hold := func() {
		mu.Lock()
		holding++
		most = max(most, holding)
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // the model answering
		mu.Lock()
		holding--
		mu.Unlock()
	}
	var wg sync.WaitGroup
	begin := time.Now()
	for _, tr := range all {
		wg.Add(1)
		go s.run(t, f.queues[0], tr, hold, &wg)
	}
	wg.Wait()
	require.Len(t, s.order, turns)
	require.LessOrEqual(t, most, parallel, "never more turns on the model than its parallelism")
	require.Less(t, time.Since(begin), 30*time.Second, "every turn got the model from an announcement, not a poll")
}

func TestAnnouncedAtIsTheSnapshotsTime(t *testing.T) {
	at := time.Date(2026, 12, 7, 2, 1, 39, 123456789, time.UTC)
	data, err := json.Marshal(modelqueue.Snapshot(at, []string{"a"}, []string{"b", "c"}))
	require.NoError(t, err)
	require.True(t, at.Equal(modelqueue.AnnouncedAt(data)))
	require.True(t, modelqueue.AnnouncedAt([]byte(`{"granted":[]}`)).IsZero())
	require.True(t, modelqueue.AnnouncedAt([]byte(`{"at":"yesterday"}`)).IsZero())
}
