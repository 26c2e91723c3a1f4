package reindex

import (
	"context"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
)

// ollamaEmbedLatency is how long the Ollama-protocol model of the benchmark
// takes per request of EmbedBatch texts, about what an embedding model on a
// GPU takes: with EmbedConcurrency requests at once its ceiling is a few
// thousand chunks a second, where the model, not the store, should bound a
// re-embed.
const ollamaEmbedLatency = 40 * time.Millisecond

// BenchmarkReindex measures the jobs on 100,000 chunks (2,000 documents of 50) in the
// embedded vector store with the lexical embedder at its default dimension, and
// prints a table. Run it with `make bench-reindex`. A re-embed through the Ollama
// protocol, against a scripted model server answering in ollamaEmbedLatency,
// is measured last, beside that embedder's own ceiling.
func BenchmarkReindex(b *testing.B) {
	const docs, chunksPer = 2000, 50
	model := llmtest.New(b)
	model.SetEmbedDim(embed.DefaultLexicalDim)
	model.SetEmbedDelay(ollamaEmbedLatency)
	ollama := func(ctx context.Context, name string) (embed.Embedder, error) {
		e, err := embed.NewOllama(embed.OllamaConfig{URL: model.URL, Model: name, BatchSize: defaultEmbedBatch}, nil)
		if err != nil {
			return nil, err
		}
		return e, e.Probe(ctx)
	}
	f := newFixtureDim(b, Config{CatchUpMargin: time.Millisecond, Embedders: ollama}, embed.DefaultLexicalDim)
	emb := f.emb
	f.seed(50, 10, docs, chunksPer)
	ctx := context.Background()
	points := float64(docs * chunksPer)
	var table [][3]string

	b.Run("acl-sync", func(b *testing.B) {
		var d time.Duration
		for b.Loop() {
			_, err := f.pool.Exec(ctx, `UPDATE documents SET acl_version = acl_version + 1`)
			require.NoError(b, err)
			start := time.Now()
			f.run(f.start(store.KindACLSync, nil).ID, store.JobCompleted)
			d = time.Since(start)
		}
		b.ReportMetric(points/d.Seconds(), "points/s")
		table = append(table, [3]string{"ACL sync", fmt.Sprintf("%.0f points/s", points/d.Seconds()), d.Round(time.Millisecond).String()})
	})
	b.Run("re-embed", func(b *testing.B) {
		d, cpu := timed(b, func() { f.run(f.start(store.KindReEmbed, nil).ID, store.JobCompleted) })
		b.ReportMetric(points/d.Seconds(), "chunks/s")
		table = append(table, [3]string{"re-embed (lexical, rebuild)", fmt.Sprintf("%.0f chunks/s", points/d.Seconds()), withCPU(d, cpu)})
	})
	b.Run("embedder-ceiling", func(b *testing.B) {
		chunks, err := f.st.ReadyChunksAfter(ctx, "", 0, docs*chunksPer)
		require.NoError(b, err)
		d, cpu := timed(b, func() {
			_, err := f.runner.embedPoints(ctx, emb, f.ix.Lexical(), chunks)
			require.NoError(b, err)
		})
		b.ReportMetric(points/d.Seconds(), "chunks/s")
		table = append(table, [3]string{"embedders alone (dense hashing + BM25; ceiling)", fmt.Sprintf("%.0f chunks/s", points/d.Seconds()), withCPU(d, cpu)})
	})
	b.Run("search-10-groups", func(b *testing.B) {
		// A user in all ten groups: the access filter matches most of the index.
		u, err := f.st.CreateUser(ctx, "reader", false)
		require.NoError(b, err)
		for _, g := range f.groups {
			_, err := f.st.AddMember(ctx, g, u.ID, store.RoleMember)
			require.NoError(b, err)
		}
		p := access.Principal{UserID: u.ID, GroupIDs: f.groups}
		search := service.NewSearch(f.st, f.ix)
		var lat []time.Duration
		for b.Loop() {
			lat = lat[:0]
			for i := range 300 {
				start := time.Now()
				hits, err := search.Search(ctx, p, service.SearchRequest{Query: fmt.Sprintf("topic%d subject%d", i%17, i%29), Limit: 8})
				lat = append(lat, time.Since(start))
				require.NoError(b, err)
				require.NotEmpty(b, hits)
			}
		}
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		table = append(table, [3]string{"ACL-filtered search, user in 10 groups",
			fmt.Sprintf("p50 %s  p99 %s", p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond)), fmt.Sprintf("%d queries", len(lat))})
	})

	b.Run("re-embed-ollama", func(b *testing.B) {
		d, cpu := timed(b, func() {
			f.run(f.start(store.KindReEmbed, map[string]any{"embed_model": llmtest.EmbedModel}).ID, store.JobCompleted)
		})
		b.ReportMetric(points/d.Seconds(), "chunks/s")
		table = append(table, [3]string{fmt.Sprintf("re-embed (Ollama protocol, %s per request of %d)", ollamaEmbedLatency, defaultEmbedBatch),
			fmt.Sprintf("%.0f chunks/s", points/d.Seconds()), withCPU(d, cpu)})
	})
	b.Run("ollama-ceiling", func(b *testing.B) {
		// A fifth of the chunks: the rate is what counts, and the model is slow.
		chunks, err := f.st.ReadyChunksAfter(ctx, "", 0, docs*chunksPer/5)
		require.NoError(b, err)
		emb, err := ollama(ctx, llmtest.EmbedModel)
		require.NoError(b, err)
		d, cpu := timed(b, func() {
			_, err := f.runner.embedPoints(ctx, emb, f.ix.Lexical(), chunks)
			require.NoError(b, err)
		})
		rate := float64(len(chunks)) / d.Seconds()
		b.ReportMetric(rate, "chunks/s")
		table = append(table, [3]string{"Ollama-protocol embedder alone (ceiling)", fmt.Sprintf("%.0f chunks/s", rate), withCPU(d, cpu)})
	})

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "\nre-index on %d chunks (%d documents), embedded vector store, lexical-v1:%d\n", docs*chunksPer, docs, emb.Identity().Dim)
	fmt.Fprintln(w, "measure\tresult\ttime (process CPU)")
	for _, r := range table {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r[0], r[1], r[2])
	}
	_ = w.Flush()
}

// timed runs fn as b's loop and returns the last run's wall and CPU time.
func timed(b *testing.B, fn func()) (wall, cpu time.Duration) {
	for b.Loop() {
		start, cpu0 := time.Now(), processCPU()
		fn()
		wall, cpu = time.Since(start), processCPU()-cpu0
	}
	return wall, cpu
}

// processCPU is the CPU time the process has used, user and system: what a
// measure costs whatever else the machine runs, where wall time depends on it.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// withCPU is a measure's wall time and the CPU time it used.
func withCPU(wall, cpu time.Duration) string {
	return fmt.Sprintf("%s (CPU %s)", wall.Round(time.Millisecond), cpu.Round(time.Millisecond))
}
