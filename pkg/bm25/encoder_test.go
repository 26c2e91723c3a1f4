package bm25

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params Params
		want   []string // substrings of the error, one per field; none: valid
	}{
		{"defaults", Params{}.WithDefaults(), nil},
		{"bounds", Params{K1: 10, B: 0, AvgLen: 0.5, Language: "es"}, nil},
		{"k1 zero", Params{K1: 0, B: 0.5, AvgLen: 1}, []string{"k1"}},
		{"k1 too large", Params{K1: 10.5, B: 0.5, AvgLen: 1}, []string{"k1"}},
		{"b negative", Params{K1: 1, B: -0.1, AvgLen: 1}, []string{"b must"}},
		{"b above one", Params{K1: 1, B: 1.1, AvgLen: 1}, []string{"b must"}},
		{"avg_len zero", Params{K1: 1, B: 0.5}, []string{"avg_len"}},
		{"avg_len infinite", Params{K1: 1, B: 0.5, AvgLen: math.Inf(1)}, []string{"avg_len"}},
		{"unknown language", Params{K1: 1, B: 0.5, AvgLen: 1, Language: "EN"}, []string{"language"}},
		{"all at once", Params{K1: math.NaN(), B: 2, AvgLen: -1, Language: "pt"},
			[]string{"k1", "b must", "avg_len", "language"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.params.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			require.Len(t, strings.Split(err.Error(), "\n"), len(tt.want))
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	e := newEncoder(t, Params{})
	require.Equal(t, Params{K1: DefaultK1, B: DefaultB, AvgLen: DefaultAvgLen}, e.Params())
	e = newEncoder(t, Params{K1: 2, AvgLen: 100, Language: "de"})
	require.Equal(t, Params{K1: 2, B: DefaultB, AvgLen: 100, Language: "de"}, e.Params())
	_, err := New(Params{K1: -1, Language: "xx"})
	require.ErrorContains(t, err, "k1")
	require.ErrorContains(t, err, "language")
}

func TestHashIsFNV1a(t *testing.T) {
	t.Parallel()
	// Term ids are stored in Qdrant: they must never change under bm25-v1.
	for _, term := range []string{"", "run", "rfc-7231", "città", "中"} {
		h := fnv.New32a()
		h.Write([]byte(term))
		require.Equal(t, h.Sum32(), hash([]byte(term)), term)
	}
	require.Equal(t, uint32(0x2acd4eca), hash([]byte("run")))
}

func TestStems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lang  string
		words []string // all with the same stem
		stem  string
	}{
		{"en", []string{"running", "runs", "run"}, "run"},
		{"en", []string{"contracts", "contract"}, "contract"},
		{"en", []string{"termination", "terminations"}, "termin"},
		{"it", []string{"contratti", "contratto", "contratta"}, "contratt"},
		{"it", []string{"fornitura", "forniture"}, "fornitur"},
		{"it", []string{"città", "citta"}, "citt"},
		{"de", []string{"häuser", "haus", "hauses"}, "haus"},
		{"de", []string{"verträge", "vertrag"}, "vertrag"},
		{"fr", []string{"maisons", "maison"}, "maison"},
		{"fr", []string{"nationalité", "national", "nationales"}, "national"},
		{"es", []string{"canciones", "canción"}, "cancion"},
		{"es", []string{"contratos", "contrato"}, "contrat"},
	}
	for _, tt := range tests {
		t.Run(tt.lang+"/"+tt.stem, func(t *testing.T) {
			t.Parallel()
			for _, w := range tt.words {
				require.Equal(t, tt.stem, stemOf(t, tt.lang, w), w)
			}
		})
	}
	// Non-Latin words are not stemmed.
	require.Equal(t, "книги", stemOf(t, "en", "книги"))
}

func TestDocumentTerms(t *testing.T) {
	t.Parallel()
	e := newEncoder(t, Params{})
	tests := []struct {
		name, text string
		want       []string
	}{
		{"english stop words, stems and exact forms", "The contracts were running.", []string{"\x01contracts", "\x01running", "contract", "run"}},
		{"identifiers whole and split, whole not stemmed", "Running RFC-7231 and ACME_42 in v1.17 and the rules",
			[]string{"\x01acme", "\x01rules", "\x01running", "17", "42", "7231", "acm", "acme_42", "rfc", "rfc-7231", "rule", "run", "v1", "v1.17"}},
		{"numbers kept", "In 2024 the price was 3.14 and the rest", []string{"14", "2024", "3", "3.14", "price", "rest"}},
		{"italian detected", "I contratti di fornitura sono scaduti e non sono stati rinnovati",
			[]string{"\x01contratti", "\x01fornitura", "\x01rinnovati", "\x01scaduti", "contratt", "fornitur", "rinnov", "scad"}},
		{"undetected falls back to english", "Contratti fornitura", []string{"contratti", "fornitura"}},
		{"case folding merges", "CONTRACT Contract contract the and", []string{"contract", "contract", "contract"}},
		{"empty", "  ...  ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := docTerms(e, tt.text)
			require.Equal(t, tt.want, got)
			v, n := e.Document(tt.text)
			require.Equal(t, len(stemsOnly(tt.want)), n, "exact forms do not count in the length")
			require.Equal(t, n, e.Length(tt.text))
			requireWellFormed(t, v)
			if len(tt.want) == 0 {
				require.Empty(t, v.Indices)
				return
			}
			require.Equal(t, ids(tt.want...), v.Indices)
		})
	}
}

func TestDocumentWeights(t *testing.T) {
	t.Parallel()
	// dl = 3 (appl ×2, banana ×1), avgdl = 4, k1 = 1.2, b = 0.75:
	// K = 1.2·(1 − 0.75 + 0.75·3/4) = 0.975
	// w(appl)   = 2·2.2 / (2 + 0.975) = 1.4789916
	// w(banana) = 1·2.2 / (1 + 0.975) = 1.1139241
	e := newEncoder(t, Params{K1: 1.2, B: 0.75, AvgLen: 4, Language: "en"})
	v, n := e.Document("Apples, apple and a banana.")
	require.Equal(t, 3, n)
	want := map[uint32]float64{hash([]byte("appl")): 1.4789916, hash([]byte("banana")): 1.1139241,
		hash([]byte(exactTerm("apples"))): 1.1139241, hash([]byte(exactTerm("apple"))): 1.1139241}
	require.Len(t, v.Indices, len(want))
	for i, id := range v.Indices {
		require.InDelta(t, want[id], v.Values[i], 1e-6, "term %d", id)
	}

	// Longer documents weigh a term less; b close to 0 turns that off.
	short, _ := e.Document("apple pie")
	long, _ := e.Document("apple " + strings.Repeat("pear ", 20))
	require.Greater(t, valueOf(short, "appl"), valueOf(long, "appl"))
	flat := newEncoder(t, Params{B: 1e-12, Language: "en"})
	short, _ = flat.Document("apple pie")
	long, _ = flat.Document("apple " + strings.Repeat("pear ", 20))
	require.InDelta(t, valueOf(short, "appl"), valueOf(long, "appl"), 1e-6)

	// In a document of average length, term frequency saturates below
	// k1 + 1: tf·2.2 / (tf + 1.2).
	avg := newEncoder(t, Params{AvgLen: 1000, Language: "en"})
	many, _ := avg.Document(strings.Repeat("apple ", 1000))
	require.InDelta(t, 1000*2.2/1001.2, valueOf(many, "appl"), 1e-5)
}

// valueOf returns the weight of term in v, 0 when absent.
func valueOf(v Vector, term string) float32 {
	if i, ok := slices.BinarySearch(v.Indices, hash([]byte(term))); ok {
		return v.Values[i]
	}
	return 0
}

func TestQuery(t *testing.T) {
	t.Parallel()
	e := newEncoder(t, Params{})

	t.Run("detected: weight 1 per distinct term", func(t *testing.T) {
		t.Parallel()
		v := e.Query("what is the notice period for running contracts and contracts")
		requireWellFormed(t, v)
		require.Equal(t, ids("notic", "period", "run", "contract", exactTerm("notice"), exactTerm("running"), exactTerm("contracts")), v.Indices)
		for _, w := range v.Values {
			require.Equal(t, float32(1), w)
		}
	})

	t.Run("undetected: each word weighs 1 over its stems", func(t *testing.T) {
		t.Parallel()
		words := []string{"contratti", "fornitura", "nationalité", "war", "canciones"}
		v := e.Query(strings.Join(words, " "))
		requireWellFormed(t, v)
		var total float64
		for _, w := range v.Values {
			total += float64(w)
		}
		exact := 0
		for _, word := range words {
			if valueOf(v, exactTerm(word)) > 0 {
				exact++
			}
		}
		require.Equal(t, len(words)-1, exact, "every word but war has a stem other than itself in some language")
		require.Zero(t, valueOf(v, exactTerm("war")))
		require.InDelta(t, float64(len(words)+exact), total, 1e-5, "1 per word over its stems, and 1 per exact form")
		for _, word := range words {
			stems := map[string]bool{}
			for _, lang := range languages {
				if !slices.Contains(stopLists[languageIndex(lang)], word) {
					stems[stemOf(t, lang, word)] = true
				}
			}
			var sum float64
			for s := range stems {
				w := valueOf(v, s)
				require.InDelta(t, 1/float64(len(stems)), w, 1e-6, "%s → %s", word, s)
				sum += float64(w)
			}
			require.InDelta(t, 1, sum, 1e-6, word)
		}
		// "war" is a German stop word but an English noun.
		require.Positive(t, valueOf(v, "war"))
	})

	t.Run("undetected: stems shared by two words weigh at most 1", func(t *testing.T) {
		t.Parallel()
		v := e.Query("contratti contratto")
		requireWellFormed(t, v)
		for _, w := range v.Values {
			require.LessOrEqual(t, w, float32(1))
		}
	})

	t.Run("undetected: shared stop words dropped, identifiers kept", func(t *testing.T) {
		t.Parallel()
		v := e.Query("la RFC-7231")
		requireWellFormed(t, v)
		require.Equal(t, float32(1), valueOf(v, "rfc-7231"))
		require.Equal(t, float32(1), valueOf(v, "7231"))
		require.Equal(t, float32(1), valueOf(v, "rfc"))
		require.Len(t, v.Indices, 3)
	})

	t.Run("nothing to search", func(t *testing.T) {
		t.Parallel()
		require.Empty(t, e.Query("").Indices)
		require.Empty(t, e.Query("the of and a").Indices)
		require.Empty(t, e.Query("?!").Indices)
	})
}

// TestQueryMeetsDocument checks that a document and a query of the same text
// share their term ids, so that searching a chunk's own words finds it.
func TestQueryMeetsDocument(t *testing.T) {
	t.Parallel()
	e := newEncoder(t, Params{})
	texts := []string{
		"All human beings are born free and equal in dignity and rights.",
		"Tutti gli esseri umani nascono liberi ed eguali in dignità e diritti.",
		"Alle Menschen sind frei und gleich an Würde und Rechten geboren.",
		"Tous les êtres humains naissent libres et égaux en dignité et en droits.",
		"Todos los seres humanos nacen libres e iguales en dignidad y derechos.",
		"Error E1234 in the module acme_billing v2.3.1: see RFC-7231 for the details.",
	}
	for _, text := range texts {
		doc, _ := e.Document(text)
		query := e.Query(text)
		require.NotEmpty(t, query.Indices, text)
		require.Subset(t, doc.Indices, query.Indices, text)
	}
	// An undetected text is a document in English and a query in every
	// language: the English stems are among the query's.
	for _, text := range []string{"contratti fornitura", "Kündigungsfrist Vertrag", "E1234 acme_billing"} {
		doc, _ := e.Document(text)
		query := e.Query(text)
		require.NotEmpty(t, doc.Indices, text)
		require.Subset(t, query.Indices, doc.Indices, text)
	}
	// An undetected query matches the English fallback of a document, and
	// an Italian document of the same words, through its stems.
	q := e.Query("contratti")
	itDoc, _ := e.Document("I contratti di fornitura sono stati firmati e sono validi per tre anni.")
	require.Positive(t, valueOf(q, "contratt"))
	require.Positive(t, valueOf(itDoc, "contratt"))
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	texts := []string{
		"The contracts were running.",
		"I contratti di fornitura sono scaduti e non sono stati rinnovati",
		"Alle Menschen sind frei und gleich an Würde und Rechten geboren.",
		"v1.17 RFC-7231 user@example.com",
		"中文字 ΣΊΣΥΦΟΣ",
	}
	ref := newEncoder(t, Params{})
	type result struct {
		doc   Vector
		n     int
		query Vector
	}
	want := make([]result, len(texts))
	for i, text := range texts {
		want[i].doc, want[i].n = ref.Document(text)
		want[i].query = ref.Query(text)
	}
	// A second encoder, used from many goroutines at once, gives the same
	// vectors.
	e := newEncoder(t, Params{})
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(texts))
	for g := range 8 {
		wg.Go(func() {
			for k := range 50 {
				i := (g + k) % len(texts)
				doc, n := e.Document(texts[i])
				query := e.Query(texts[i])
				if !slices.Equal(doc.Indices, want[i].doc.Indices) || !slices.Equal(doc.Values, want[i].doc.Values) ||
					n != want[i].n || !slices.Equal(query.Indices, want[i].query.Indices) ||
					!slices.Equal(query.Values, want[i].query.Values) {
					errs <- fmt.Errorf("text %d differs", i)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestStemCacheBounded(t *testing.T) {
	t.Parallel()
	e := newEncoder(t, Params{Language: "en"})
	var b strings.Builder
	for i := range 2 * cacheShards * cacheShardMax {
		fmt.Fprintf(&b, "w%sx ", strings.Map(func(r rune) rune { return 'a' + (r - '0') }, fmt.Sprint(i)))
	}
	v, n := e.Document(b.String())
	require.Equal(t, 2*cacheShards*cacheShardMax, n)
	requireWellFormed(t, v)
	for i := range e.cache.shards {
		require.LessOrEqual(t, len(e.cache.shards[i].m), cacheShardMax)
	}
	// Results do not depend on what the cache holds.
	fresh := newEncoder(t, Params{Language: "en"})
	text := "running contracts terminated"
	a, _ := e.Document(text)
	c, _ := fresh.Document(text)
	require.Equal(t, c, a)
}
