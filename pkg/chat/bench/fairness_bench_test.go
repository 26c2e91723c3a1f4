package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/modelqueue"
	"github.com/youworker/youworker/pkg/turnevent"
)

// The fairness scenario: users, the heavy user's burst, the model's parallelism,
// and the model's answer.
const (
	fairUsers      = 20
	fairHeavyTurns = 10
	fairModelSlots = 2
)

var fairAnswer = llmtest.Script{
	Tokens:          []string{"A ", "fair ", "share ", "of ", "the ", "model ", "for ", "every ", "user", "."},
	FirstTokenDelay: 300 * time.Millisecond,
	TokenDelay:      20 * time.Millisecond,
}

// fairTurn is one turn of the scenario as its client saw it.
type fairTurn struct {
	id     string
	user   int // 0 is the heavy user
	posted time.Time
	events []sseEvent
}

func (t fairTurn) first(typ string) (time.Time, bool) {
	for _, e := range t.events {
		if e.typ == typ {
			return e.at, true
		}
	}
	return time.Time{}, false
}

// fairRun is one run of the scenario.
type fairRun struct {
	name  string
	turns []fairTurn
	// changes are the places in line as the queue announced them, per turn id
	// in the order announced.
	changes map[string][]placeChange
	// lives are, per turn id, when it joined the line, got a slot and gave it
	// back, as the queue announced.
	lives map[string]slotLife
}

// slotLife is a turn's time in the queue.
type slotLife struct {
	joined, granted, released time.Time
}

// heavyBlame returns, over the other users' turns, how many heavy turns got
// the model while one of them was already waiting (overtakes), and the longest
// an other user's waiting turn spent behind heavy turns that held the model
// when it joined the line.
func (r fairRun) heavyBlame() (overtakes int, longest time.Duration) {
	user := map[string]int{}
	for _, t := range r.turns {
		user[t.id] = t.user
	}
	for id, l := range r.lives {
		if u, ok := user[id]; !ok || u == 0 || l.granted.IsZero() {
			continue
		}
		for hid, h := range r.lives {
			if u, ok := user[hid]; !ok || u != 0 || h.granted.IsZero() {
				continue // not the heavy user's (the warm-up turn is no one's)
			}
			switch {
			case h.granted.After(l.joined) && h.granted.Before(l.granted):
				overtakes++
			case !h.granted.After(l.joined) && !h.released.IsZero() && h.released.After(l.joined):
				end := h.released
				if l.granted.Before(end) {
					end = l.granted
				}
				longest = max(longest, end.Sub(l.joined))
			}
		}
	}
	return overtakes, longest
}

// placeChange is a turn's new place in line and when the queue announced it.
type placeChange struct {
	position int
	at       time.Time
}

// lightWaits are the other users' waits for their first token, shortest first.
func (r fairRun) lightWaits() []time.Duration {
	var out []time.Duration
	for _, t := range r.turns {
		if t.user == 0 {
			continue
		}
		if at, ok := t.first(turnevent.Token); ok {
			out = append(out, at.Sub(t.posted))
		}
	}
	slices.Sort(out)
	return out
}

// heavyWaits are the heavy user's waits for the first token, shortest first.
func (r fairRun) heavyWaits() []time.Duration {
	var out []time.Duration
	for _, t := range r.turns {
		if at, ok := t.first(turnevent.Token); ok && t.user == 0 {
			out = append(out, at.Sub(t.posted))
		}
	}
	slices.Sort(out)
	return out
}

// modelTurn is the median time a turn held the model: turn.started to
// turn.completed at the client.
func (r fairRun) modelTurn() time.Duration {
	var s samples
	for _, t := range r.turns {
		start, ok1 := t.first(turnevent.Started)
		end, ok2 := t.first(turnevent.Completed)
		if ok1 && ok2 {
			s = append(s, end.Sub(start))
		}
	}
	return s.p(50)
}

// positionLags are, for each turn.queued a client received, the time since
// the queue announced that place: how soon a waiting user learns that the line
// moved. Announcements are matched to events in order, place by place.
func (r fairRun) positionLags() samples {
	var lags samples
	for _, t := range r.turns {
		changes := r.changes[t.id]
		next := 0
		for _, e := range t.events {
			if e.typ != turnevent.Queued {
				continue
			}
			var q struct {
				Position int `json:"position"`
			}
			if json.Unmarshal(e.data, &q) != nil {
				continue
			}
			for next < len(changes) && changes[next].position != q.Position {
				next++
			}
			if next < len(changes) {
				lags = append(lags, e.at.Sub(changes[next].at))
				next++
			}
		}
	}
	return lags
}

// fairness runs the scenario twice, each on a platform of its own: with the
// fair queue, and without it (the model server's own first come, first
// served).
func fairness(b *testing.B, o options, getenv func(string) string) ([]fairRun, error) {
	runs := []struct {
		name     string
		parallel string
		heavy    bool
	}{
		{"fair queue", fmt.Sprint(fairModelSlots), true},
		{"no queue (the model's own order)", "0", true},
	}
	var out []fairRun
	for _, spec := range runs {
		var run fairRun
		var err error
		b.Run(spec.name, func(b *testing.B) {
			r := startWith(b, o, getenv, map[string]string{"YW_MODEL_PARALLEL": spec.parallel})
			r.modelSlots = make(chan struct{}, fairModelSlots)
			r.mu.Lock()
			r.script = fairAnswer
			r.mu.Unlock()
			run, err = fairScenario(b.Context(), r, spec.heavy)
			run.name = spec.name
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.name, err)
		}
		out = append(out, run)
	}
	return out, nil
}

// fairScenario has the heavy user post its turns at once, then every other
// user one turn, and follows every turn's events until it ends.
func fairScenario(ctx context.Context, r *rig, heavy bool) (fairRun, error) {
	keys := make([]string, fairUsers)
	for i := range keys {
		_, key, err := r.app.Services.Users.Create(ctx, access.System, fmt.Sprintf("user-%02d", i), false)
		if err != nil {
			return fairRun{}, err
		}
		keys[i] = key.Secret
	}
	// Follow the queue's announcements as they are made, to time how soon
	// each place reaches its client.
	changes := map[string][]placeChange{}
	places := map[string]int{}
	life := map[string]*slotLife{}
	var cmu sync.Mutex
	sub, err := r.p.NC.Subscribe(modelqueue.Subject(llmtest.ChatModel), func(m *nats.Msg) {
		at := time.Now()
		var snap struct {
			Granted []string `json:"granted"`
			Waiting []string `json:"waiting"`
		}
		if json.Unmarshal(m.Data, &snap) != nil {
			return
		}
		cmu.Lock()
		defer cmu.Unlock()
		seen := map[string]bool{}
		for i, id := range snap.Waiting {
			seen[id] = true
			if life[id] == nil {
				life[id] = &slotLife{joined: at}
			}
			if places[id] != i+1 {
				places[id] = i + 1
				changes[id] = append(changes[id], placeChange{position: i + 1, at: at})
			}
		}
		for _, id := range snap.Granted {
			seen[id] = true
			if life[id] == nil {
				life[id] = &slotLife{joined: at}
			}
			if life[id].granted.IsZero() {
				life[id].granted = at
			}
		}
		for id, l := range life {
			if !seen[id] && !l.granted.IsZero() && l.released.IsZero() {
				l.released = at
			}
		}
	})
	if err != nil {
		return fairRun{}, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	// A warm-up turn, so no run pays for the platform's first requests.
	_, warm, err := r.app.Services.Users.Create(ctx, access.System, "warm-up", false)
	if err != nil {
		return fairRun{}, err
	}
	id, err := r.submitAs(ctx, warm.Secret, "warm-up question")
	if err == nil {
		err = r.streamAs(ctx, warm.Secret, id, func(sseEvent) {})
	}
	if err != nil {
		return fairRun{}, fmt.Errorf("warm-up: %w", err)
	}
	modelCalls := r.model.Count("/api/chat")
	var (
		mu    sync.Mutex
		turns []fairTurn
		errs  []error
		wg    sync.WaitGroup
	)
	post := func(user int, text string) {
		defer wg.Done()
		t := fairTurn{user: user, posted: time.Now()}
		id, err := r.submitAs(ctx, keys[user], text)
		t.id = id
		if err == nil {
			err = r.streamAs(ctx, keys[user], id, func(e sseEvent) { t.events = append(t.events, e) })
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		turns = append(turns, t)
	}
	if heavy {
		for i := range fairHeavyTurns {
			wg.Add(1)
			go post(0, fmt.Sprintf("heavy question %d", i))
		}
		// The burst is in line before the others ask.
		deadline := time.Now().Add(30 * time.Second)
		for r.model.Count("/api/chat") < modelCalls+fairModelSlots {
			if time.Now().After(deadline) {
				return fairRun{}, fmt.Errorf("the heavy user's turns never reached the model")
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	for u := 1; u < fairUsers; u++ {
		wg.Add(1)
		go post(u, fmt.Sprintf("question of user %d", u))
	}
	wg.Wait()
	if len(errs) > 0 {
		return fairRun{}, errs[0]
	}
	cmu.Lock()
	defer cmu.Unlock()
	lives := map[string]slotLife{}
	for id, l := range life {
		lives[id] = *l
	}
	return fairRun{turns: turns, changes: changes, lives: lives}, nil
}

// printFairness prints each user's wait for the first token in both runs, and
// what the heavy user cost the others with the fair queue.
func printFairness(stdout io.Writer, runs []fairRun) error {
	fair, fifo := runs[0], runs[1]
	turn := fair.modelTurn()
	fmt.Fprintf(stdout, "\nfairness: %d users, one posting %d turns at once; a model answering %d at a time, a model turn of %s (median turn.started → turn.completed)\n",
		fairUsers, fairHeavyTurns, fairModelSlots, ms(turn))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "wait for the first token (post → first token at the client)\tfair queue\tno queue\t")
	fw, nw := fair.lightWaits(), fifo.lightWaits()
	for i := range fw {
		n := ""
		if i < len(nw) {
			n = ms(nw[i])
		}
		fmt.Fprintf(tw, "  other user, rank %d of %d\t%s\t%s\t\n", i+1, len(fw), ms(fw[i]), n)
	}
	hw, hn := fair.heavyWaits(), fifo.heavyWaits()
	for i := range hw {
		n := ""
		if i < len(hn) {
			n = ms(hn[i])
		}
		fmt.Fprintf(tw, "  heavy user, turn %d of %d\t%s\t%s\t\n", i+1, len(hw), ms(hw[i]), n)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric (fair queue)\tvalue\ttarget\tverdict\t")
	overtakes, longest := fair.heavyBlame()
	fmt.Fprintf(tw, "heavy turns given the model while another user waited\t%d\t0\t%s\t\n", overtakes, verdict(overtakes == 0))
	fmt.Fprintf(tw, "longest another user waited behind the heavy user's turns\t%s\t≤ one model turn (%s)\t%s\t\n", ms(longest), ms(turn), verdict(overtakes == 0 && longest <= turn))
	lags := fair.positionLags()
	fmt.Fprintf(tw, "place in line: queue's announcement → client (n=%d)\tp50 %s, p99 %s, max %s\tp99 ≤ 50ms\t%s\t\n",
		len(lags), ms(lags.p(50)), ms(lags.p(99)), ms(lags.p(100)), verdict(len(lags) > 0 && lags.p(99) <= 50*time.Millisecond))
	return tw.Flush()
}
