package embed_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/embed"
)

// corpus holds short realistic documents on distinct topics, several of which
// share words with each other so ranking has to weigh more than one term.
var corpus = map[string]string{
	"norwich-fc": `Norwich City Football Club is an English professional football club based in
		Norwich, Norfolk. The club plays its home matches at Carrow Road and is nicknamed the
		Canaries. Norwich City won the League Cup in 1962 and 1985 and has played several
		seasons in the Premier League.`,
	"norwich-cathedral": `Norwich Cathedral is an Anglican cathedral in Norwich, Norfolk,
		dedicated to the Holy and Undivided Trinity. Building work began in 1096 and the spire,
		completed in 1480, is the second tallest in England. The cloisters are the largest of
		any monastic cathedral.`,
	"man-utd": `Manchester United is a professional football club based in Old Trafford,
		Greater Manchester. The team has won a record number of league titles and plays in
		the Premier League; its supporters travel to away matches across Europe.`,
	"photosynthesis": `Photosynthesis is the process by which green plants and some bacteria
		convert light energy into chemical energy. Chlorophyll in the leaves absorbs sunlight,
		and carbon dioxide and water are turned into glucose and oxygen.`,
	"invoice": `Invoices must be approved by the cost centre manager before payment. Supplier
		invoices above 10,000 euros require a second signature from the finance department,
		and payment terms are thirty days from the invoice date.`,
	"fc-nantes": `Le Football Club de Nantes est un club de football français fondé en 1943 et
		basé à Nantes. Les Canaris jouent au stade de la Beaujoire et ont remporté huit fois le
		championnat de France.`,
	"bahn": `Die Deutsche Bahn entschuldigt sich für die Zugverspätungen im Fernverkehr. Wegen
		Bauarbeiten zwischen Köln und Frankfurt fallen mehrere ICE-Verbindungen aus; Reisende
		können ihre Fahrkarten kostenlos erstatten lassen.`,
	"beijing": `北京是中华人民共和国的首都，也是全国的政治、文化和国际交往中心。北京有三千多年的建城史，
		故宫和天坛都是著名的历史建筑。`,
	"tokyo": `東京は日本の首都であり、世界有数の大都市です。東京タワーや浅草寺などの観光地があり、
		毎年多くの観光客が訪れます。`,
	"cafe": `Le café de la place ouvre à sept heures. On y sert des croissants, du thé et un
		excellent café crème préparé avec des grains torréfiés sur place.`,
}

func newLexical(t testing.TB) *embed.Lexical {
	t.Helper()
	l, err := embed.NewLexical(0)
	require.NoError(t, err)
	return l
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func norm(v []float32) float64 { return math.Sqrt(dot(v, v)) }

// rank returns corpus keys ordered by similarity to the query, best first.
func rank(t *testing.T, l *embed.Lexical, query string) []string {
	t.Helper()
	keys := make([]string, 0, len(corpus))
	texts := make([]string, 0, len(corpus))
	for k, v := range corpus {
		keys = append(keys, k)
		texts = append(texts, v)
	}
	vecs, err := l.Embed(t.Context(), append(texts, query))
	require.NoError(t, err)
	q := vecs[len(vecs)-1]
	score := map[string]float64{}
	for i, k := range keys {
		score[k] = dot(q, vecs[i])
	}
	sort.Slice(keys, func(i, j int) bool { return score[keys[i]] > score[keys[j]] })
	return keys
}

func TestLexicalRanking(t *testing.T) {
	t.Parallel()
	l := newLexical(t)
	tests := []struct {
		query string
		want  string
	}{
		{"norwich football", "norwich-fc"},
		{"Norwich City Canaries", "norwich-fc"},
		{"cathedral spire in Norwich", "norwich-cathedral"},
		{"Manchester United supporters", "man-utd"},
		{"how do plants convert sunlight", "photosynthesis"},
		{"invoice approval and payment", "invoice"},
		{"club de football de Nantes", "fc-nantes"},
		{"Verspätung der Züge", "bahn"},           // inflection and compound: Zugverspätungen
		{"Zugverspaetung Koln Frankfurt", "bahn"}, // Köln typed without its umlaut
		{"北京的首都", "beijing"},
		{"東京の観光", "tokyo"},
		{"cafe creme", "cafe"}, // diacritics folded
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			got := rank(t, l, tt.query)
			require.Equal(t, tt.want, got[0], "ranking: %v", got)
		})
	}
}

func TestLexicalRelevantScoresClearlyHigher(t *testing.T) {
	t.Parallel()
	l := newLexical(t)
	vecs, err := l.Embed(t.Context(), []string{
		"norwich football", corpus["norwich-fc"], corpus["photosynthesis"], corpus["invoice"],
	})
	require.NoError(t, err)
	relevant := dot(vecs[0], vecs[1])
	require.Greater(t, relevant, 0.15)
	require.Greater(t, relevant, 3*math.Abs(dot(vecs[0], vecs[2])))
	require.Greater(t, relevant, 3*math.Abs(dot(vecs[0], vecs[3])))
}

func TestLexicalDeterministicAndNormalised(t *testing.T) {
	t.Parallel()
	a, b := newLexical(t), newLexical(t)
	texts := make([]string, 0, len(corpus))
	for _, v := range corpus {
		texts = append(texts, v)
	}
	va, err := a.Embed(t.Context(), texts)
	require.NoError(t, err)
	vb, err := b.Embed(t.Context(), texts)
	require.NoError(t, err)
	require.Equal(t, va, vb, "two instances embed identically")
	again, err := a.Embed(t.Context(), texts[:1])
	require.NoError(t, err)
	require.Equal(t, va[0], again[0], "batch composition does not matter")
	for i, v := range va {
		require.Len(t, v, embed.DefaultLexicalDim)
		require.InDelta(t, 1, norm(v), 1e-5, "text %d", i)
	}
}

// TestLexicalVectorsAreStable pins the output for a fixed text: vectors are
// stored under the identity lexical-v1, so any change to the algorithm must
// come with a new identity name (and then a new pin).
func TestLexicalVectorsAreStable(t *testing.T) {
	t.Parallel()
	l := newLexical(t)
	require.Equal(t, "lexical-v1:384", l.Identity().String())
	v, err := l.Embed(t.Context(), []string{"Norwich City Football Club plays at Carrow Road, Norfolk."})
	require.NoError(t, err)
	top := topBuckets(v[0], 8)
	require.Equal(t, pinnedTop, top)
}

var pinnedTop = "25:0.3096 32:0.2646 49:0.2646 157:-0.2646 237:-0.2646 328:0.2646 347:-0.2646 362:-0.2646"

// topBuckets renders the n largest-magnitude buckets as "index:value".
func topBuckets(v []float32, n int) string {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return math.Abs(float64(v[idx[a]])) > math.Abs(float64(v[idx[b]])) })
	parts := make([]string, n)
	for i := range n {
		parts[i] = fmt.Sprintf("%d:%.4f", idx[i], v[idx[i]])
	}
	return strings.Join(parts, " ")
}

func TestLexicalEmptyText(t *testing.T) {
	t.Parallel()
	l := newLexical(t)
	vecs, err := l.Embed(t.Context(), []string{"", "   \n\t", "—, …!?", "the of and", corpus["invoice"]})
	require.NoError(t, err)
	for i := range 4 {
		require.InDelta(t, 1, norm(vecs[i]), 1e-5, "text %d is still a unit vector", i)
	}
	require.Equal(t, vecs[0], vecs[1], "every text without words embeds the same")
	require.Equal(t, vecs[0], vecs[2])
	require.Equal(t, vecs[0], vecs[3], "stopwords alone carry nothing")
	require.Less(t, math.Abs(dot(vecs[0], vecs[4])), 0.2)

	none, err := l.Embed(t.Context(), nil)
	require.NoError(t, err)
	require.Empty(t, none)
}

func TestLexicalTokenisation(t *testing.T) {
	t.Parallel()
	l := newLexical(t)
	same := [][2]string{
		{"Football CLUBS", "football club"},        // case and plural
		{"café crème", "cafe creme"},               // precomposed accents
		{"cafe\u0301 cre\u0300me", "cafe creme"},   // decomposed accents
		{"Fußball", "fussball"},                    // sharp s
		{"ＮＯＲＷＩＣＨ", "norwich"},                     // full-width letters
		{"studies", "study"},                       // -ies
		{"playing played", "play play"},            // -ing, -ed
		{"norwich, football!", "norwich football"}, // punctuation
	}
	for _, p := range same {
		v, err := l.Embed(t.Context(), []string{p[0], p[1]})
		require.NoError(t, err)
		require.InDelta(t, 1, dot(v[0], v[1]), 1e-5, "%q vs %q", p[0], p[1])
	}
	different := [][2]string{
		{"Москва", "москва город"},
		{"norwich football", "football norwich"}, // word order matters through bigrams
	}
	for _, p := range different {
		v, err := l.Embed(t.Context(), []string{p[0], p[1]})
		require.NoError(t, err)
		require.Less(t, dot(v[0], v[1]), 0.999, "%q vs %q", p[0], p[1])
		require.Greater(t, dot(v[0], v[1]), 0.3, "%q vs %q still share words", p[0], p[1])
	}
}

func TestLexicalDimension(t *testing.T) {
	t.Parallel()
	l, err := embed.NewLexical(64)
	require.NoError(t, err)
	require.Equal(t, embed.Identity{Name: "lexical-v1", Dim: 64}, l.Identity())
	v, err := l.Embed(t.Context(), []string{"hello world"})
	require.NoError(t, err)
	require.Len(t, v[0], 64)

	_, err = embed.NewLexical(3)
	require.Error(t, err)
}

func TestLexicalHonoursCancelledContext(t *testing.T) {
	t.Parallel()
	l := newLexical(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := l.Embed(ctx, []string{"x"})
	require.ErrorIs(t, err, context.Canceled)
}

// benchChunks builds n chunks of about 500 words of mixed realistic text.
func benchChunks(n int) []string {
	var words []string
	for _, k := range []string{"norwich-fc", "norwich-cathedral", "man-utd", "photosynthesis", "invoice", "fc-nantes", "bahn", "beijing"} {
		words = append(words, strings.Fields(corpus[k])...)
	}
	chunks := make([]string, n)
	for i := range chunks {
		var sb strings.Builder
		for j := range 500 {
			sb.WriteString(words[(i*7+j*13)%len(words)])
			sb.WriteByte(' ')
		}
		chunks[i] = sb.String()
	}
	return chunks
}

func BenchmarkLexicalEmbed(b *testing.B) {
	l := newLexical(b)
	chunks := benchChunks(64)
	var size int
	for _, c := range chunks {
		size += len(c)
	}
	b.SetBytes(int64(size / len(chunks)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := l.Embed(b.Context(), chunks[i%len(chunks):i%len(chunks)+1]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
}

// FuzzLexicalEmbed feeds arbitrary (also invalid UTF-8) text to the tokeniser:
// it must never panic and always return a deterministic unit vector.
func FuzzLexicalEmbed(f *testing.F) {
	for _, s := range corpus {
		f.Add(s)
	}
	f.Add("")
	f.Add("\xff\xfe\x00 cafe\u0301 ＡＢＣ 北京 ß ǅ İstanbul")
	l := newLexical(f)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := l.Embed(t.Context(), []string{s, s})
		require.NoError(t, err)
		require.InDelta(t, 1, norm(v[0]), 1e-4)
		require.Equal(t, v[0], v[1])
	})
}
