package retrievalbench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets the table judges against.
const (
	targetKnownHit5 = 0.98
	targetKnownHit1 = 0.90
	targetRareFirst = 0.95
	targetP99       = 25 * time.Millisecond
)

// printTable prints the quality table and the latency table.
func printTable(w io.Writer, results []runResult, lats []latencyResult) error {
	results = ordered(results)
	byMode := map[string]runResult{}
	for _, r := range results {
		if r.config == configModel {
			byMode[r.mode] = r
		}
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "configuration\tmode\tqueries\tn\thit@1\thit@5\tMRR@10\tnDCG@10\ttarget\tverdict\t")
	var notes []string
	for _, r := range results {
		if r.unavailable != "" {
			fmt.Fprintf(tw, "%s\t%s\t(all)\t\t\t\t\t\tunavailable: %s\t\t\n", r.config, modeName(r.mode), clip(r.unavailable, 70))
			continue
		}
		if !r.honoured && r.mode != modeDefault {
			notes = append(notes, fmt.Sprintf("%s %s: no hit carried `matched`; the server ignores `mode`, so this row is its one retriever", r.config, r.mode))
		}
		for _, set := range []string{setKnown, setPhrase, setRare, setQuestion} {
			t := r.tallies[set]
			h1, h5, mrr, ndcg := t.mean()
			label := set
			if set == setPhrase || set == setRare {
				label = "  " + set
			}
			target, verdict := judgeTarget(r, set, t, byMode)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%s\t%s\t\n",
				r.config, modeName(r.mode), label, t.n, h1, h5, mrr, ndcg, target, verdict)
		}
		if r.skipped > 0 {
			notes = append(notes, fmt.Sprintf("%s %s: %d queries skipped, their documents are not ready", r.config, modeName(r.mode), r.skipped))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	if len(lats) == 0 {
		fmt.Fprintln(w, "latency: skipped (-skip-latency)")
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "latency: %d sequential calls each, one client over loopback\tp50\tp99\ttarget\tverdict\t\n", len(lats[0].search))
	for _, lat := range lats {
		p99 := percentile(lat.search, 99)
		fmt.Fprintf(tw, "%s: hybrid search, ACL-filtered, %d chunks, %.1f%% visible to the searcher\t%s\t%s\tp99 ≤ %s\t%s\t\n",
			lat.config, lat.chunks, 100*float64(lat.visible)/float64(max(lat.chunks, 1)), ms(percentile(lat.search, 50)), ms(p99), ms(targetP99), verdict(p99 <= targetP99))
		fmt.Fprintf(tw, "%s: floor, GET /v1/me (authentication + one database read)\t%s\t%s\t\t\t\n", lat.config, ms(percentile(lat.me, 50)), ms(percentile(lat.me, 99)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, lat := range lats {
		fmt.Fprintf(w, "%s store: %d documents of %d owners in %d groups (the searcher is in %d); %d synthetic documents ingested in %s (%.0f chunks/s)\n",
			lat.config, lat.documents, lat.owners, lat.groups, lat.memberOf, lat.synthetic, lat.fill.Round(time.Second), float64(lat.fillChunks)/lat.fill.Seconds())
		fmt.Fprintf(w, "%s timed calls: %.1f hits per search; %d garbage collections of this one process (platform, stores and client) during them\n",
			lat.config, lat.hitsPerSearch, lat.gcs)
	}
	return nil
}

// ordered sorts results as the table shows them: the default configuration
// first, which the targets apply to, then the model's modes.
func ordered(results []runResult) []runResult {
	configs := map[string]int{configDefault: 0, configModel: 1}
	modes := map[string]int{modeDefault: 0, "lexical": 1, "dense": 2, "hybrid": 3}
	results = slices.Clone(results)
	slices.SortStableFunc(results, func(a, b runResult) int {
		if d := configs[a.config] - configs[b.config]; d != 0 {
			return d
		}
		return modes[a.mode] - modes[b.mode]
	})
	return results
}

// judgeTarget is the target of a row and whether the figures meet it.
func judgeTarget(r runResult, set string, t *tally, byMode map[string]runResult) (target, result string) {
	h1, h5, _, ndcg := t.mean()
	switch {
	case r.config == configDefault && set == setKnown:
		return fmt.Sprintf("hit@5 ≥ %.2f, hit@1 ≥ %.2f", targetKnownHit5, targetKnownHit1), verdict(h5 >= targetKnownHit5 && h1 >= targetKnownHit1)
	case r.config == configDefault && set == setRare:
		return fmt.Sprintf("found first (hit@1) ≥ %.2f", targetRareFirst), verdict(h1 >= targetRareFirst)
	case r.config == configModel && r.mode == "hybrid" && set == setQuestion:
		target = "nDCG@10, hit@5 ≥ best of lexical, dense"
		lex, okL := byMode["lexical"]
		den, okD := byMode["dense"]
		if !okL || !okD || lex.unavailable != "" || den.unavailable != "" {
			return target, "n/a"
		}
		if !r.honoured {
			return target, "n/a: mode ignored"
		}
		_, l5, _, lN := lex.tallies[setQuestion].mean()
		_, d5, _, dN := den.tallies[setQuestion].mean()
		return target, verdict(ndcg >= max(lN, dN) && h5 >= max(l5, d5))
	}
	return "", ""
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// printMisses lists, per configuration and mode, the queries whose first hit is
// not relevant, with the rank the target reached and what came first.
func printMisses(w io.Writer, results []runResult) {
	for _, res := range ordered(results) {
		for _, o := range res.outcomes {
			if o.j.hit(1) {
				continue
			}
			rank := "not in top 10"
			if o.j.rank > 0 {
				rank = fmt.Sprintf("rank %d", o.j.rank)
			}
			first := o.first
			if first == "" {
				first = "(no hits)"
			}
			fmt.Fprintf(w, "miss [%s %s %s] %q want %s (%s%s), first: %s%s\n", res.config, modeName(res.mode), o.q.set,
				o.q.text, strings.Join(o.q.want, " | "), rank, matchedNote(o.tm), first, matchedNote(o.fm))
		}
	}
	fmt.Fprintln(w)
}

// matchedNote shows which retrievers found a hit, when the server says.
func matchedNote(m *matched) string {
	if m == nil {
		return ""
	}
	rank := func(r *int) string {
		if r == nil {
			return "-"
		}
		return fmt.Sprint(*r)
	}
	return fmt.Sprintf("; dense %s, lexical %s", rank(m.Dense), rank(m.Lexical))
}

func modeName(mode string) string {
	if mode == modeDefault {
		return "hybrid (default)"
	}
	return mode
}
