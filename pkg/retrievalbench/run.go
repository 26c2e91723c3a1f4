package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/youworker/youworker/pkg/benchtest"
	"github.com/youworker/youworker/pkg/llmtest"
)

type options struct {
	corpus      []string
	chunks      int
	searches    int
	skipLatency bool
	verbose     bool
	seed        uint64
	embedDim    int
	phrases     int
	rare        int
}

// dirList is a repeatable, comma-separated flag of folders.
type dirList []string

func (d *dirList) String() string { return strings.Join(*d, ",") }
func (d *dirList) Set(v string) error {
	for _, dir := range strings.Split(v, ",") {
		if dir = strings.TrimSpace(dir); dir != "" {
			*d = append(*d, dir)
		}
	}
	return nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (code int) {
	fs := flag.NewFlagSet("retrieval-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var dirs dirList
	fs.Var(&dirs, "corpus", "corpus folder (repeatable or comma separated; default ../shared/corpus beside the repository)")
	fs.IntVar(&o.chunks, "chunks", 100_000, "chunks in the store for the latency measurement")
	fs.IntVar(&o.searches, "searches", 500, "timed searches (and as many GET /v1/me)")
	fs.BoolVar(&o.skipLatency, "skip-latency", false, "skip filling the store and timing searches")
	fs.BoolVar(&o.verbose, "v", false, "list the misses: query, expected document, what came first")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated queries and synthetic documents")
	// A hashed bag of words needs room: at the test server's default of 32
	// dimensions collisions make it noise, at a few hundred (the width of a small
	// real embedding model) it is a weak but honest dense retriever.
	fs.IntVar(&o.embedDim, "embed-dim", 384, "dimension of the test embedding model's vectors")
	fs.IntVar(&o.phrases, "phrases", 10, "phrase queries per document, at most")
	fs.IntVar(&o.rare, "rare", 5, "rare-word queries per document, at most")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.corpus = dirs
	if len(o.corpus) == 0 {
		if dir := findCorpus(getenv); dir != "" {
			o.corpus = []string{dir}
		}
	}
	if len(o.corpus) == 0 {
		fmt.Fprintln(stderr, "retrieval-bench: no corpus: ../shared/corpus is missing beside the repository; give -corpus DIR")
		return 2
	}
	if o.chunks < 1 || o.searches < 1 || o.embedDim < 1 || o.phrases < 0 || o.rare < 0 {
		fmt.Fprintln(stderr, "retrieval-bench: -chunks, -searches and -embed-dim must be positive, -phrases and -rare not negative")
		return 2
	}
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(benchtest.Fatal)
			if !ok {
				panic(p)
			}
			fmt.Fprintln(stderr, "retrieval-bench:", f.Msg)
			code = 1
		}
	}()
	if err := bench(ctx, o, getenv, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "retrieval-bench:", err)
		return 1
	}
	return 0
}

// Configurations and modes as the table names them.
const (
	configDefault = "default (no model)"
	configModel   = "test-embed"
	modeDefault   = "" // the server's default, hybrid
)

func bench(ctx context.Context, o options, getenv func(string) string, stdout, stderr io.Writer) error {
	began := time.Now()
	sources, dupes, err := listCorpus(o.corpus)
	if err != nil {
		return err
	}
	for _, d := range dupes {
		fmt.Fprintf(stderr, "skipped %s: a file of that name came first\n", d)
	}
	pdftotext, _ := exec.LookPath("pdftotext")
	read := map[string]int{}
	for i := range sources {
		if err := readSource(ctx, &sources[i], pdftotext); err != nil {
			return err
		}
		if sources[i].how != "" {
			read[sources[i].how]++
		}
	}
	questions, err := loadQuestions(questionsJSON)
	if err != nil {
		return err
	}
	queries := append(phraseQueries(sources, o.seed, o.phrases), rareWordQueries(sources, o.seed, o.rare)...)
	queries = append(queries, questions...)

	fmt.Fprintf(stdout, "retrieval-bench: %d files in %s; text read here from %d (plain %d, HTML %d, pdftotext %d)",
		len(sources), strings.Join(o.corpus, ", "), read["text"]+read["html"]+read["pdftotext"], read["text"], read["html"], read["pdftotext"])
	if pdftotext == "" {
		fmt.Fprint(stdout, "; pdftotext not on PATH: PDFs give no phrase or rare-word queries")
	}
	counts := map[string]int{}
	for _, q := range queries {
		counts[q.set]++
	}
	fmt.Fprintf(stdout, "\n%d phrase queries, %d rare words, %d questions; seed %d, GOMAXPROCS=%d, test-embed vectors of %d dimensions\n",
		counts[setPhrase], counts[setRare], counts[setQuestion], o.seed, runtime.GOMAXPROCS(0), o.embedDim)

	var results []runResult
	var lats []latencyResult
	var notes []string

	// With an embedding model: every mode.
	model, err := withRig(ctx, getenv, func(tb *benchtest.TB) map[string]string {
		llm := llmtest.New(tb)
		llm.SetEmbedDim(o.embedDim)
		return map[string]string{"YW_OLLAMA_URL": llm.URL, "YW_EMBED_MODEL": llmtest.EmbedModel}
	}, func(r *rig) (string, error) {
		docs, summary, err := uploadCorpus(ctx, r, sources)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(stderr, "%s: %s\n", configModel, summary)
		for _, mode := range []string{"lexical", "dense", "hybrid"} {
			res, err := evaluate(ctx, r, queries, docs, configModel, mode)
			if err != nil {
				return "", err
			}
			results = append(results, res)
		}
		if !o.skipLatency {
			// With a model, hybrid search runs both retrievers and the fusion.
			l, err := measureLatency(ctx, r, o, sources, queries, stderr)
			if err != nil {
				return "", fmt.Errorf("latency: %w", err)
			}
			l.config = configModel
			lats = append(lats, l)
		}
		return summary, nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", configModel, err)
	}
	notes = append(notes, configModel+": "+model)

	// The default configuration: what the targets apply to, then latency.
	def, err := withRig(ctx, getenv, nil, func(r *rig) (string, error) {
		docs, summary, err := uploadCorpus(ctx, r, sources)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(stderr, "%s: %s\n", configDefault, summary)
		res, err := evaluate(ctx, r, queries, docs, configDefault, modeDefault)
		if err != nil {
			return "", err
		}
		results = append(results, res)
		notes = append(notes, denseProbe(ctx, r))
		if !o.skipLatency {
			l, err := measureLatency(ctx, r, o, sources, queries, stderr)
			if err != nil {
				return "", fmt.Errorf("latency: %w", err)
			}
			l.config = configDefault
			lats = append([]latencyResult{l}, lats...)
		}
		return summary, nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", configDefault, err)
	}
	notes = append([]string{configDefault + ": " + def}, notes...)

	if o.verbose {
		printMisses(stdout, results)
	}
	for _, n := range notes {
		fmt.Fprintln(stdout, n)
	}
	if err := printTable(stdout, results, lats); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "took %s\n", time.Since(began).Round(time.Second))
	return nil
}

// withRig starts a platform (env gives the extra settings, given a tb for the
// servers they need), runs fn on it and closes it, so the next platform starts
// with the machine to itself.
func withRig(ctx context.Context, getenv func(string) string, env func(*benchtest.TB) map[string]string, fn func(*rig) (string, error)) (string, error) {
	tb := benchtest.New("retrieval-bench")
	defer tb.Close()
	var extra map[string]string
	if env != nil {
		extra = env(tb)
	}
	r, err := startRig(ctx, tb, extra, getenv)
	if err != nil {
		return "", err
	}
	return fn(r)
}

// uploadCorpus uploads every file as the searching user, one per request (a
// refused file then refuses nothing else), and waits until each is ready or
// failed. It returns the ready documents' ids by file name and a summary line.
func uploadCorpus(ctx context.Context, r *rig, sources []source) (map[string]string, string, error) {
	ids := map[string]string{} // file name → document id
	var refused []string
	var order []string
	for _, s := range sources {
		data, err := os.ReadFile(s.path)
		if err != nil {
			return nil, "", err
		}
		d, err := r.upload(ctx, r.key, s.name, data, nil)
		var se *statusError
		if errors.As(err, &se) && se.status >= 400 && se.status < 500 {
			refused = append(refused, fmt.Sprintf("%s (%d)", s.name, se.status))
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if _, ok := ids[s.name]; !ok {
			order = append(order, d.ID)
		}
		ids[s.name] = d.ID
	}
	done, err := r.waitDocuments(ctx, r.key, order, 5*time.Minute)
	if err != nil {
		return nil, "", err
	}
	ready := map[string]string{}
	var failed []string
	chunks := 0
	for _, s := range sources {
		id, ok := ids[s.name]
		if !ok {
			continue
		}
		d := done[id]
		if d.Status == "ready" {
			ready[s.name] = id
			chunks += d.ChunkCount
			continue
		}
		code := "unknown"
		if d.Error != nil {
			code = d.Error.Code
		}
		failed = append(failed, fmt.Sprintf("%s (%s)", s.name, code))
	}
	summary := fmt.Sprintf("%d documents ready (%d chunks), %d failed: %s; %d refused at upload: %s",
		len(ready), chunks, len(failed), listOrNone(failed), len(refused), listOrNone(refused))
	return ready, summary, nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// outcome is one query's answer, judged.
type outcome struct {
	q     query
	j     judgement
	first string   // file name of the first hit, "" when there was none
	fm    *matched // the first hit's retrievers
	tm    *matched // the first relevant hit's retrievers
}

// runResult is one configuration and mode over every query set.
type runResult struct {
	config, mode string
	tallies      map[string]*tally // by query set, and setKnown for phrases and rare words together
	outcomes     []outcome
	skipped      int    // queries whose documents are not ready here
	unavailable  string // why the server refused the mode, if it did
	honoured     bool   // some hit carried matched: the server knows modes
}

// setKnown is the union of the known-item sets.
const setKnown = "known-item"

// evaluate runs every query whose documents are ready through one mode.
func evaluate(ctx context.Context, r *rig, queries []query, docs map[string]string, config, mode string) (runResult, error) {
	res := runResult{config: config, mode: mode, tallies: map[string]*tally{}}
	for _, set := range []string{setKnown, setPhrase, setRare, setQuestion} {
		res.tallies[set] = &tally{}
	}
	names := map[string]string{} // document id → file name
	for name, id := range docs {
		names[id] = name
	}
	for _, q := range queries {
		relevant := map[string]bool{}
		for _, name := range q.want {
			if id, ok := docs[name]; ok {
				relevant[id] = true
			}
		}
		if len(relevant) == 0 {
			res.skipped++
			continue
		}
		hits, err := r.search(ctx, q.text, mode, depth)
		var se *statusError
		if errors.As(err, &se) && se.status == http.StatusBadRequest && len(res.outcomes) == 0 {
			res.unavailable = fmt.Sprintf("%d: %s", se.status, strings.TrimSpace(se.body))
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("search %q (%s): %w", q.text, mode, err)
		}
		ids := make([]string, len(hits))
		o := outcome{q: q}
		for i, h := range hits {
			ids[i] = h.DocumentID
			if h.Matched != nil {
				res.honoured = true
			}
			if o.tm == nil && relevant[h.DocumentID] {
				o.tm = h.Matched
			}
		}
		if len(hits) > 0 {
			o.first, o.fm = names[hits[0].DocumentID], hits[0].Matched
			if o.first == "" {
				o.first = hits[0].Filename
			}
		}
		o.j = judge(ids, relevant)
		res.outcomes = append(res.outcomes, o)
		res.tallies[q.set].add(o.j)
		if q.set != setQuestion {
			res.tallies[setKnown].add(o.j)
		}
	}
	return res, nil
}

// denseProbe asks the default configuration for dense retrieval, which the
// contract says has no model to answer with (400).
func denseProbe(ctx context.Context, r *rig) string {
	_, err := r.search(ctx, "winter sports in Switzerland", "dense", depth)
	var se *statusError
	switch {
	case err == nil:
		return "default configuration, mode=dense: answered 200 (the contract says 400 without an embedding model; the server ignores mode)"
	case errors.As(err, &se) && se.status == http.StatusBadRequest:
		return "default configuration, mode=dense: 400, as the contract says"
	default:
		return "default configuration, mode=dense: " + err.Error()
	}
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
