package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/youworker/youworker/pkg/llmtest"
)

type relayResult struct {
	relay, ttft, wall samples
	// The relay split at the moment JetStream stored the event: model → worker →
	// JetStream, and JetStream → API → SSE client.
	toStore, fromStore samples
	// probe is the JetStream floor measured alongside the turns, under their load;
	// hopProbe the loopback HTTP stream hop, likewise.
	probe, hopProbe   samples
	lost, dup, events int
}

// relay runs k turns at once and attributes every model token to the SSE event
// that carried it (token events join tokens published while one was in flight).
func relay(ctx context.Context, r *rig, hop *httpHop, o options) (relayResult, error) {
	tokens := make([]string, o.tokens)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("t%04d ", i) // fixed width: byte offsets map to tokens
	}
	width := len(tokens[0])
	texts := r.prepare(o.k, o.tokens, "relay", llmtest.Script{Tokens: tokens, TokenDelay: o.interval, FirstTokenDelay: o.firstDelay})
	stopProbe, err := startProbe(ctx, r, o.interval)
	if err != nil {
		return relayResult{}, fmt.Errorf("floor probe: %w", err)
	}
	stopHopProbe := hop.probe(ctx, probeLogs, o.interval)
	type turnResult struct {
		text     strings.Builder
		arrivals []time.Time // per token index: arrival of the event that completed it
		seqs     []uint64    // per token index: the event that completed it
		turnID   string
		events   int
		wall     time.Duration
	}
	results := make([]*turnResult, o.k)
	var failed atomic.Value
	var wg sync.WaitGroup
	for i, text := range texts {
		results[i] = &turnResult{arrivals: make([]time.Time, 0, o.tokens), seqs: make([]uint64, 0, o.tokens)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := results[i]
			begin := time.Now()
			id, err := r.submit(ctx, text)
			res.turnID = id
			if err == nil {
				err = r.stream(ctx, id, func(e sseEvent) {
					if e.typ != "token" {
						return
					}
					var d struct {
						Text string `json:"text"`
					}
					_ = json.Unmarshal(e.data, &d)
					res.events++
					res.text.WriteString(d.Text)
					for len(res.arrivals) < res.text.Len()/width {
						res.arrivals = append(res.arrivals, e.at)
						res.seqs = append(res.seqs, e.seq)
					}
				})
			}
			res.wall = time.Since(begin)
			if err != nil {
				failed.Store(err)
			}
		}()
	}
	wg.Wait()
	probe := stopProbe()
	hopProbe, err := stopHopProbe()
	if err != nil {
		return relayResult{}, fmt.Errorf("http probe: %w", err)
	}
	if err, ok := failed.Load().(error); ok {
		return relayResult{}, err
	}
	stored := make([]map[uint64]time.Time, len(results))
	for i, res := range results {
		st, err := r.storedTimes(ctx, res.turnID)
		if err != nil {
			return relayResult{}, err
		}
		stored[i] = st
	}
	out := relayResult{probe: probe, hopProbe: hopProbe}
	want := strings.Join(tokens, "")
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, res := range results {
		out.events += res.events
		out.wall = append(out.wall, res.wall)
		got := res.text.String()
		seen := map[string]int{}
		for _, f := range strings.Fields(got) {
			seen[f]++
		}
		for _, tok := range tokens {
			switch n := seen[strings.TrimSpace(tok)]; {
			case n == 0:
				out.lost++
			case n > 1:
				out.dup += n - 1
			}
		}
		if got != want {
			continue // latencies of a broken stream mean nothing
		}
		for j, at := range res.arrivals {
			emit := r.emits[i][j]
			if emit.IsZero() {
				return relayResult{}, fmt.Errorf("turn %d token %d: emission not recorded", i, j)
			}
			out.relay = append(out.relay, at.Sub(emit))
			if st, ok := stored[i][res.seqs[j]]; ok {
				out.toStore = append(out.toStore, st.Sub(emit))
				out.fromStore = append(out.fromStore, at.Sub(st))
			}
			if j == 0 {
				out.ttft = append(out.ttft, at.Sub(emit))
			}
		}
	}
	return out, nil
}
