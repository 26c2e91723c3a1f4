package retrievalbench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/youworker/youworker/pkg/llmtest"
)

// The benchmark's settings: test flags, given after -args.
var (
	corpusFlag      = dirFlag("corpus", "corpus folder (repeatable or comma separated; default ../shared/corpus beside the repository)")
	chunksFlag      = flag.Int("chunks", 100_000, "chunks in the store for the latency measurement")
	searchesFlag    = flag.Int("searches", 500, "timed searches (and as many GET /v1/me)")
	skipLatencyFlag = flag.Bool("skip-latency", false, "skip filling the store and timing searches")
	verboseFlag     = flag.Bool("v", false, "list the misses: query, expected document, what came first")
	seedFlag        = flag.Uint64("seed", 1, "seed of the generated queries and synthetic documents")
	// A hashed bag of words needs room: at the test server's default of 32
	// dimensions collisions make it noise, at a few hundred (the width of a small
	// real embedding model) it is a weak but honest dense retriever.
	embedDimFlag = flag.Int("embed-dim", 384, "dimension of the test embedding model's vectors")
	embedderFlag = flag.String("embedder", "subword", "the test embedding model's stand-in: subword (words and their trigrams) or words (Vector's raw bag of words)")
	phrasesFlag  = flag.Int("phrases", 10, "phrase queries per document, at most")
	rareFlag     = flag.Int("rare", 5, "rare-word queries per document, at most")
)

// options are the benchmark's settings, checked.
type options struct {
	corpus      []string
	chunks      int
	searches    int
	skipLatency bool
	verbose     bool
	seed        uint64
	embedDim    int
	embedder    string
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

// dirFlag declares a dirList flag.
func dirFlag(name, usage string) *dirList {
	d := new(dirList)
	flag.Var(d, name, usage)
	return d
}

// optionsFromFlags reads the flags, finding the corpus beside the repository
// when none is given.
func optionsFromFlags(getenv func(string) string) (options, error) {
	o := options{
		corpus: *corpusFlag, chunks: *chunksFlag, searches: *searchesFlag,
		skipLatency: *skipLatencyFlag, verbose: *verboseFlag, seed: *seedFlag,
		embedDim: *embedDimFlag, embedder: *embedderFlag, phrases: *phrasesFlag, rare: *rareFlag,
	}
	if len(o.corpus) == 0 {
		if dir := findCorpus(getenv); dir != "" {
			o.corpus = []string{dir}
		}
	}
	var errs []error
	if len(o.corpus) == 0 {
		errs = append(errs, errors.New("no corpus: ../shared/corpus is missing beside the repository; give -args -corpus DIR"))
	}
	if o.embedder != "subword" && o.embedder != "words" {
		errs = append(errs, errors.New("-embedder must be subword or words"))
	}
	if o.chunks < 1 || o.searches < 1 || o.embedDim < 1 || o.phrases < 0 || o.rare < 0 {
		errs = append(errs, errors.New("-chunks, -searches and -embed-dim must be positive, -phrases and -rare not negative"))
	}
	return o, errors.Join(errs...)
}

// BenchmarkRetrieval scores every query set per configuration and mode, times
// ACL-filtered search on a full store, and prints the tables. Run it once, with
// -benchtime 1x (make bench-retrieval); it ignores b.N.
func BenchmarkRetrieval(b *testing.B) {
	o, err := optionsFromFlags(os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	if err := bench(b, o, os.Getenv, os.Stdout, os.Stderr); err != nil {
		b.Fatal(err)
	}
}

// Configurations and modes as the table names them.
const (
	configDefault = "default (no model)"
	configModel   = "test-embed"
	modeDefault   = "" // the server's default, hybrid
)

// bench runs the whole benchmark: each configuration is a sub-benchmark with a
// platform of its own. Progress goes to stderr, the tables to stdout.
func bench(b *testing.B, o options, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx := b.Context()
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
	fmt.Fprintf(stdout, "\n%d phrase queries, %d rare words, %d questions; seed %d, GOMAXPROCS=%d, test-embed: %s stand-in, %d dimensions\n",
		counts[setPhrase], counts[setRare], counts[setQuestion], o.seed, runtime.GOMAXPROCS(0), o.embedder, o.embedDim)

	var results []runResult
	var lats []latencyResult
	var notes []string

	// With an embedding model: every mode.
	model, err := withRig(b, "test-embed", getenv, func(tb testing.TB) map[string]string {
		llm := llmtest.New(tb)
		llm.SetEmbedDim(o.embedDim)
		if o.embedder == "subword" {
			llm.SetEmbedder(llmtest.SubwordVector)
		}
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
	def, err := withRig(b, "default", getenv, nil, func(r *rig) (string, error) {
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

// withRig starts a platform in a sub-benchmark named name (env gives the extra
// settings, given a tb for the servers they need) and runs fn on it. The
// sub-benchmark's cleanups close the platform and drop its database when it
// ends, so the next platform starts with the machine to itself.
func withRig(b *testing.B, name string, getenv func(string) string, env func(testing.TB) map[string]string, fn func(*rig) (string, error)) (string, error) {
	var summary string
	var err error
	ok := b.Run(name, func(b *testing.B) {
		var extra map[string]string
		if env != nil {
			extra = env(b)
		}
		var r *rig
		if r, err = startRig(b.Context(), b, extra, getenv); err != nil {
			return
		}
		summary, err = fn(r)
	})
	if err == nil && !ok {
		err = errors.New("the sub-benchmark failed")
	}
	return summary, err
}
