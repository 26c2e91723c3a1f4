package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/turnevent"
)

// burstRounds is how many bursts of one turn are run one after the other, so
// the idle figures are medians of something.
const burstRounds1 = 10

// burstResult is what k users, each starting one turn at the same instant, saw.
type burstResult struct {
	k int
	// overhead is the figure users feel: the message accepted (202 received) →
	// the first token at the client, less the model's own time to its first
	// token (its request arriving → its first chunk flushed).
	overhead samples
	// The overhead split at each hop of a turn start: the POST itself (sent →
	// 202, not part of the overhead), accepted → the job published by the
	// outbox relay (seen by a plain NATS subscriber), job → claimed by the agent
	// worker (turns.started_at), claimed → the model request (history, access,
	// tools, model queue, turn.started), and the first token's relay (model
	// flush → SSE client).
	api, toJob, toClaim, setup, modelTTFT, firstRelay samples
	// relay is every token's model flush → SSE client.
	relay samples
	// cpu is the process's CPU time over the bursts (user + system), and
	// modelCPU the model server's own for the same streams, measured alone.
	cpu, modelCPU time.Duration
	tokens        int
	events        int
	lost, dup     int
}

// burstPhysics are the idle floors one turn start cannot go under: a Postgres
// round trip (the claim), a JetStream hop (publish → ordered consumer; a job
// and a token each cross one) and a loopback HTTP stream hop (the model
// request and the SSE stream each cross one).
type burstPhysics struct {
	pg, js, http time.Duration
	// commit is a synchronous commit (the POST's transaction ends with one),
	// shown beside the floor: the disk's share of a turn start.
	commit time.Duration
}

func (f burstPhysics) floor() time.Duration { return f.pg + 2*f.js + 2*f.http }

// burstFloors measures burstPhysics on the idle rig.
func burstFloors(ctx context.Context, r *rig, hop *httpHop) (burstPhysics, error) {
	var f burstPhysics
	var pg samples
	for range 50 {
		begin := time.Now()
		if _, err := r.db.Exec(ctx, "SELECT 1"); err != nil {
			return f, fmt.Errorf("postgres floor: %w", err)
		}
		pg = append(pg, time.Since(begin))
	}
	if _, err := r.db.Exec(ctx, "CREATE TABLE bench_commit (at timestamptz)"); err != nil {
		return f, fmt.Errorf("commit floor: %w", err)
	}
	var commit samples
	for range 20 {
		begin := time.Now()
		if _, err := r.db.Exec(ctx, "INSERT INTO bench_commit VALUES (now())"); err != nil {
			return f, fmt.Errorf("commit floor: %w", err)
		}
		commit = append(commit, time.Since(begin))
	}
	o := options{k: 1, tokens: 50, interval: 2 * time.Millisecond}
	js, err := jetStreamFloor(ctx, r, o)
	if err != nil {
		return f, fmt.Errorf("jetstream floor: %w", err)
	}
	hh, err := hop.floor(ctx, 1, o)
	if err != nil {
		return f, fmt.Errorf("http floor: %w", err)
	}
	return burstPhysics{pg: pg.p(50), js: js.p(50), http: hh.p(50), commit: commit.p(50)}, nil
}

// bursts runs a burst for each k, one after the other, on the same platform.
func bursts(ctx context.Context, r *rig, ks []int, o options) ([]burstResult, error) {
	var users []string
	var out []burstResult
	for _, k := range ks {
		for len(users) < k {
			_, key, err := r.app.Services.Users.Create(ctx, access.System, fmt.Sprintf("burst-user-%03d", len(users)), false)
			if err != nil {
				return nil, err
			}
			users = append(users, key.Secret)
		}
		rounds := 1
		if k == 1 {
			rounds = burstRounds1
		}
		res := burstResult{k: k}
		for round := range rounds {
			if err := burst(ctx, r, users[:k], fmt.Sprintf("burst k=%d round %d", k, round), o, &res); err != nil {
				return nil, fmt.Errorf("burst of %d: %w", k, err)
			}
		}
		cpu, err := modelAlone(ctx, r, k, rounds, o)
		if err != nil {
			return nil, fmt.Errorf("model alone, %d streams: %w", k, err)
		}
		res.modelCPU = cpu
		out = append(out, res)
	}
	return out, nil
}

// burstScript is the model's answer in the bursts: a 50 ms first token, then
// the relay's tokens.
func burstScript(o options) (llmtest.Script, []string) {
	tokens := make([]string, o.tokens)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("t%04d ", i) // fixed width: byte offsets map to tokens
	}
	return llmtest.Script{Tokens: tokens, TokenDelay: o.interval, FirstTokenDelay: *burstFirstFlag}, tokens
}

// burst has every user of keys post a question in a session of their own at the
// same instant and follow its events to the end, adding what it saw to res.
func burst(ctx context.Context, r *rig, keys []string, prefix string, o options, res *burstResult) error {
	k := len(keys)
	script, tokens := burstScript(o)
	width := len(tokens[0])
	texts := r.prepare(k, o.tokens, prefix, script)
	sessions := make([]string, k)
	for i, key := range keys {
		var sess struct {
			ID string `json:"id"`
		}
		if err := r.doAs(ctx, key, "POST", "/v1/chat/sessions", map[string]any{}, http.StatusCreated, &sess); err != nil {
			return err
		}
		sessions[i] = sess.ID
	}
	// A plain subscriber sees each job as the relay publishes it to JetStream.
	var jmu sync.Mutex
	jobs := map[string]time.Time{}
	sub, err := r.p.NC.Subscribe(job.SubjectChat, func(m *nats.Msg) {
		at := time.Now()
		var j job.ChatJob
		if job.Decode(m.Data, &j) == nil {
			jmu.Lock()
			jobs[j.TurnID] = at
			jmu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := r.p.NC.Flush(); err != nil {
		return err
	}

	type turnSeen struct {
		id             string
		sent, accepted time.Time
		text           strings.Builder
		arrivals       []time.Time
		events         int
	}
	seen := make([]*turnSeen, k)
	startLine := make(chan struct{})
	var g errgroup.Group
	for i := range keys {
		seen[i] = &turnSeen{arrivals: make([]time.Time, 0, o.tokens)}
		g.Go(func() error {
			t := seen[i]
			<-startLine
			var posted struct {
				Turn struct {
					ID string `json:"id"`
				} `json:"turn"`
			}
			t.sent = time.Now()
			err := r.doAs(ctx, keys[i], "POST", "/v1/chat/sessions/"+sessions[i]+"/messages",
				map[string]any{"content": texts[i], "tools": false}, http.StatusAccepted, &posted)
			t.accepted = time.Now()
			if err != nil {
				return err
			}
			t.id = posted.Turn.ID
			return r.streamAs(ctx, keys[i], t.id, func(e sseEvent) {
				if e.typ != turnevent.Token {
					return
				}
				t.events++
				t.text.WriteString(tokenText(e.data))
				for len(t.arrivals) < t.text.Len()/width {
					t.arrivals = append(t.arrivals, e.at)
				}
			})
		})
	}
	cpu0 := cpuTime()
	close(startLine)
	if err := g.Wait(); err != nil {
		return err
	}
	res.cpu += cpuTime() - cpu0
	res.tokens += k * o.tokens

	ids := make([]string, k)
	for i, t := range seen {
		ids[i] = t.id
	}
	claimed := map[string]time.Time{}
	rows, err := r.db.Query(ctx, `SELECT id::text, started_at FROM turns WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return err
		}
		claimed[id] = at
	}
	if err := rows.Err(); err != nil {
		return err
	}

	want := strings.Join(tokens, "")
	r.mu.Lock()
	defer r.mu.Unlock()
	jmu.Lock()
	defer jmu.Unlock()
	for i, t := range seen {
		res.events += t.events
		got := t.text.String()
		counts := map[string]int{}
		for _, f := range strings.Fields(got) {
			counts[f]++
		}
		for _, tok := range tokens {
			switch n := counts[strings.TrimSpace(tok)]; {
			case n == 0:
				res.lost++
			case n > 1:
				res.dup += n - 1
			}
		}
		if got != want {
			continue // latencies of a broken stream mean nothing
		}
		emits, asked := r.emits[i], r.asked[i]
		if asked.IsZero() || emits[0].IsZero() {
			return fmt.Errorf("turn %d: the model's request or first chunk was not recorded", i)
		}
		jobAt, claimAt := jobs[t.id], claimed[t.id]
		if jobAt.IsZero() || claimAt.IsZero() {
			return fmt.Errorf("turn %d: its job or its claim was not seen", i)
		}
		first := t.arrivals[0]
		model := emits[0].Sub(asked)
		res.modelTTFT = append(res.modelTTFT, model)
		res.overhead = append(res.overhead, first.Sub(t.accepted)-model)
		res.api = append(res.api, t.accepted.Sub(t.sent))
		res.toJob = append(res.toJob, jobAt.Sub(t.accepted))
		res.toClaim = append(res.toClaim, claimAt.Sub(jobAt))
		res.setup = append(res.setup, asked.Sub(claimAt))
		res.firstRelay = append(res.firstRelay, first.Sub(emits[0]))
		for j, at := range t.arrivals {
			res.relay = append(res.relay, at.Sub(emits[j]))
		}
	}
	return nil
}

// tokenText is the text of a token event. The bench's clients are in the
// process it measures: a payload without escapes is read without decoding it.
func tokenText(data []byte) string {
	if raw, ok := bytes.CutPrefix(data, []byte(`{"text":"`)); ok {
		if raw, ok := bytes.CutSuffix(raw, []byte(`"}`)); ok && bytes.IndexByte(raw, '\\') < 0 {
			return string(raw)
		}
	}
	var d struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(data, &d)
	return d.Text
}

// modelAlone streams the bursts' answer from the model server to a reader that
// discards it, k streams at once, rounds times: the CPU the model's side of the
// bursts costs, to tell the platform's own from it.
func modelAlone(ctx context.Context, r *rig, k, rounds int, o options) (time.Duration, error) {
	script, _ := burstScript(o)
	r.prepare(0, 0, "alone", script)
	body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"alone"}],"stream":true}`, llmtest.ChatModel)
	cpu0 := cpuTime()
	for range rounds {
		var g errgroup.Group
		for range k {
			g.Go(func() error {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.model.URL+"/api/chat", strings.NewReader(body))
				if err != nil {
					return err
				}
				resp, err := r.client.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("model: %s", resp.Status)
				}
				_, err = io.Copy(io.Discard, resp.Body)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return 0, err
		}
	}
	return cpuTime() - cpu0, nil
}

// cpuTime is the CPU this process has used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parseBursts reads -burst: a comma-separated list of k.
func parseBursts(s string) ([]int, error) {
	var ks []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		k, err := strconv.Atoi(f)
		if err != nil || k < 1 || k > 1024 {
			return nil, errors.New("-burst: a comma-separated list of turn counts between 1 and 1024")
		}
		ks = append(ks, k)
	}
	return ks, nil
}

// printBursts prints the turn-start and per-token figures of the bursts beside
// their targets.
func printBursts(stdout io.Writer, f burstPhysics, res []burstResult, o options) error {
	fmt.Fprintf(stdout, "\nbursts: k users each start one turn at the same instant; the model answers after %s, then %d tokens at %s (k=1: %d bursts one after the other)\n",
		*burstFirstFlag, o.tokens, o.interval, burstRounds1)
	fmt.Fprintf(stdout, "physical floor of a turn start: %s = Postgres round trip %s + 2 × JetStream hop %s + 2 × loopback HTTP hop %s (idle medians)\n",
		ms(f.floor()), ms(f.pg), ms(f.js), ms(f.http))
	fmt.Fprintf(stdout, "a synchronous commit takes %s here (idle median): the POST's transaction waits for one before its 202\n", ms(f.commit))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "metric")
	for _, b := range res {
		fmt.Fprintf(tw, "\tk=%d", b.k)
	}
	fmt.Fprintln(tw, "\ttarget\t")
	row := func(name string, cell func(b burstResult) string, target string) {
		fmt.Fprint(tw, name)
		for _, b := range res {
			fmt.Fprintf(tw, "\t%s", cell(b))
		}
		fmt.Fprintf(tw, "\t%s\t\n", target)
	}
	pp := func(s func(b burstResult) samples) func(b burstResult) string {
		return func(b burstResult) string { return ms(s(b).p(50)) + " / " + ms(s(b).p(99)) }
	}
	row("TTFT overhead p50 / p99 (accepted → first token − model TTFT)", func(b burstResult) string {
		v := ms(b.overhead.p(50)) + " / " + ms(b.overhead.p(99))
		switch b.k {
		case 1:
			v += " " + verdict(b.overhead.p(50) <= 5*time.Millisecond)
		case 100:
			v += " " + verdict(b.overhead.p(50) <= 50*time.Millisecond && b.overhead.p(99) <= 100*time.Millisecond)
		}
		return v
	}, "k=1 p50 ≤ 5ms; k=100 p50 ≤ 50ms, p99 ≤ 100ms")
	row("  overhead / physical floor (p50)", func(b burstResult) string {
		return fmt.Sprintf("%.1f×", float64(b.overhead.p(50))/float64(f.floor()))
	}, "")
	row("  POST sent → 202 (the turn's transaction; not in the overhead)", pp(func(b burstResult) samples { return b.api }), "")
	row("  accepted → job in JetStream (outbox relay)", pp(func(b burstResult) samples { return b.toJob }), "")
	row("  job → turn claimed (consumer delivery)", pp(func(b burstResult) samples { return b.toClaim }), "")
	row("  claimed → model request (worker set-up)", pp(func(b burstResult) samples { return b.setup }), "")
	row("  first token: model flush → SSE client", pp(func(b burstResult) samples { return b.firstRelay }), "")
	row("model TTFT (its request → its first chunk; taken out)", pp(func(b burstResult) samples { return b.modelTTFT }), "")
	row("token relay p50 / p99 (model flush → SSE client)", func(b burstResult) string {
		v := ms(b.relay.p(50)) + " / " + ms(b.relay.p(99))
		if b.k == 100 {
			v += " " + verdict(b.relay.p(99) <= 10*time.Millisecond)
		}
		return v
	}, "k=100 p99 ≤ 10ms")
	row("token events per turn (coalescing)", func(b burstResult) string {
		return fmt.Sprintf("%.1f", float64(b.events)/float64(max(1, b.tokens/o.tokens)))
	}, "")
	perToken := func(d time.Duration, b burstResult) float64 {
		return float64(d.Microseconds()) / float64(max(1, b.tokens))
	}
	row("CPU µs per relayed token, whole process", func(b burstResult) string {
		return fmt.Sprintf("%.1f", perToken(b.cpu, b))
	}, "")
	row("  of which the model server alone (measured apart)", func(b burstResult) string {
		return fmt.Sprintf("%.1f", perToken(b.modelCPU, b))
	}, "")
	row("  the platform's (whole − model alone)", func(b burstResult) string {
		v := fmt.Sprintf("%.1f", perToken(b.cpu-b.modelCPU, b))
		if b.k == 100 {
			v += " " + verdict(perToken(b.cpu-b.modelCPU, b) <= 30)
		}
		return v
	}, "≤ 30 µs at k=100")
	row("tokens lost / duplicated", func(b burstResult) string {
		return fmt.Sprintf("%d / %d %s", b.lost, b.dup, verdict(b.lost == 0 && b.dup == 0))
	}, "0 / 0")
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "CPU is getrusage of the one process running the API, outbox relay, agent worker, embedded NATS, the model server and the SSE clients")
	fmt.Fprintln(stdout, "(PostgreSQL runs apart and is not counted); it covers the whole bursts, turn starts and ends included, divided by the tokens relayed.")
	return nil
}
