package embed_test

import (
	"strings"
	"testing"
)

// proseChunks builds n chunks of about size bytes of English prose, cut at
// word boundaries like the ingestion chunker does.
func proseChunks(n, size int) []string {
	var words []string
	for _, k := range []string{"norwich-fc", "norwich-cathedral", "man-utd", "photosynthesis", "invoice"} {
		words = append(words, strings.Fields(corpus[k])...)
	}
	chunks := make([]string, n)
	for i := range chunks {
		var sb strings.Builder
		for j := 0; sb.Len() < size; j++ {
			sb.WriteString(words[(i*7+j*13)%len(words)])
			sb.WriteByte(' ')
		}
		chunks[i] = sb.String()
	}
	return chunks
}

// BenchmarkLexicalEmbedBatch embeds batches of 16 chunks of about 1.3 KB,
// the shape in which ingestion calls the embedder.
func BenchmarkLexicalEmbedBatch(b *testing.B) {
	const batch = 16
	l := newLexical(b)
	chunks := proseChunks(4*batch, 1300)
	var size int
	for _, c := range chunks[:batch] {
		size += len(c)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		off := (i % 4) * batch
		if _, err := l.Embed(b.Context(), chunks[off:off+batch]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "chunks/s")
}
