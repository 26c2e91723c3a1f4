package retrievalbench

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func words(tokens []token) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = t.word
	}
	return out
}

func TestTokenize(t *testing.T) {
	t.Parallel()
	tokens := tokenize("Don’t stop-\n  ping here: tables.pdf, U.S. e-mail www.sec.gov/Archives/x “Köln” 2023; 是人都生而自由")
	require.Equal(t, []string{"Don’t", "stop", "ping", "here", "tables", "pdf", "U", "S", "e", "mail", "www", "sec", "gov", "Archives", "x", "Köln", "2023", "是人都生而自由"}, words(tokens))
	flags := map[string][2]bool{}
	for _, tk := range tokens {
		flags[tk.word] = [2]bool{tk.broken, tk.glued}
	}
	require.Equal(t, [2]bool{true, false}, flags["stop"], "hyphenated at a line end")
	require.Equal(t, [2]bool{true, false}, flags["ping"], "the other half")
	require.Equal(t, [2]bool{false, true}, flags["tables"], "part of a file name")
	require.Equal(t, [2]bool{false, true}, flags["Archives"], "part of a URL")
	require.Equal(t, [2]bool{false, false}, flags["mail"], "an in-line hyphen breaks nothing")
	require.Equal(t, [2]bool{false, false}, flags["here"])
	require.Equal(t, [2]bool{false, false}, flags["Köln"])
	require.Equal(t, " don’t stop ping ", normalized(tokens[:3]))
	require.Empty(t, tokenize(" -- ,; "))
}

func TestFairPhrase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		fair bool
	}{
		{"Get excited for our first annual family day", true},
		{"1986 1990 Watford 63 9", false},        // mostly numbers
		{"a b c d e f g", false},                 // too few letters
		{"Blues STL 1 Flyers PHI 2 Maple", true}, // a table row of words
		{"2 3 4 Flyers Philadelphia Pennsylvania", false},
	} {
		require.Equal(t, tc.fair, fairPhrase(tokenize(tc.text)), tc.text)
	}
	broken := tokenize("document image analy-\nsis with deep learning models")
	require.False(t, fairPhrase(broken), "a word a parser may join")
}

func TestPhraseQueries(t *testing.T) {
	t.Parallel()
	sources := []source{
		{name: "a.txt", text: "the quick brown fox jumps over the lazy dog every single cold winter morning before breakfast"},
		{name: "b.txt", text: "a quick brown fox jumps over the garden fence"},
		// Not read here, but its words still rule out a phrase found in it.
		{name: "c.docx", crude: "every single cold winter morning"},
		{name: "short.txt", text: "too short"},
	}
	for i := range sources {
		if sources[i].crude == "" {
			sources[i].crude = sources[i].text
		}
	}
	qs := phraseQueries(sources, 1, 10)
	require.NotEmpty(t, qs)
	perDoc := map[string]int{}
	seen := map[string]bool{}
	for _, q := range qs {
		require.Equal(t, setPhrase, q.set)
		require.Len(t, q.want, 1)
		perDoc[q.want[0]]++
		n := len(strings.Fields(q.text))
		require.GreaterOrEqual(t, n, 5, q.text)
		require.LessOrEqual(t, n, 9, q.text)
		key := " " + strings.ToLower(q.text) + " "
		require.False(t, seen[key], "no phrase twice: %q", q.text)
		seen[key] = true
		for _, s := range sources {
			in := strings.Contains(normalized(tokenize(s.crude)), key)
			require.Equal(t, s.name == q.want[0], in, "%q is in %s only", q.text, q.want[0])
		}
	}
	require.LessOrEqual(t, perDoc["a.txt"], 10)
	require.NotContains(t, perDoc, "short.txt")
	require.NotContains(t, perDoc, "c.docx", "formats not read here give no phrase")
	require.Equal(t, qs, phraseQueries(sources, 1, 10), "the same seed draws the same queries")
	require.LessOrEqual(t, len(phraseQueries(sources, 1, 2)), 4, "capped per document")
}

func TestRareWordQueries(t *testing.T) {
	t.Parallel()
	sources := []source{
		{name: "a.txt", text: "Zebras graze quietly near rivers; zebras again. Don't count tables.pdf"},
		{name: "b.txt", text: "Rivers flow QUIETLY where lions sleep"},
		{name: "c.docx", crude: "cattle graze"},
	}
	for i := range sources {
		if sources[i].crude == "" {
			sources[i].crude = sources[i].text
		}
	}
	got := map[string][]string{}
	for _, q := range rareWordQueries(sources, 1, 5) {
		require.Equal(t, setRare, q.set)
		got[q.want[0]] = append(got[q.want[0]], q.text)
	}
	// "graze" is also in c.docx, "quietly" and "rivers" in b.txt (case ignored),
	// "near" and "flow" are short, "Don't" is not all letters, "tables" is part
	// of a file name; the first spelling of a word is the query.
	require.ElementsMatch(t, []string{"Zebras", "again", "count"}, got["a.txt"])
	require.ElementsMatch(t, []string{"where", "lions", "sleep"}, got["b.txt"])
	require.NotContains(t, got, "c.docx")
	require.Len(t, rareWordQueries(sources, 1, 1), 2, "capped per document")
	require.Equal(t, rareWordQueries(sources, 7, 2), rareWordQueries(sources, 7, 2), "deterministic")
	require.True(t, rareCandidate("Zürich"))
	require.False(t, rareCandidate("Köln"), "four letters")
	require.False(t, rareCandidate("don't"))
	require.False(t, rareCandidate("是人都生而自由"), "Han runs are clauses, not words")
	require.False(t, rareCandidate("abc12"))
}
