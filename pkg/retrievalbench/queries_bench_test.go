package retrievalbench

import (
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Query sets.
const (
	setPhrase   = "phrases"
	setRare     = "rare words"
	setQuestion = "questions"
)

// query is one search with the documents that answer it, by file name.
type query struct {
	set  string
	text string
	want []string
}

// token is one word of a text.
type token struct {
	word string
	// broken marks a word hyphenated at a line end ("applica-\ntions"): a parser
	// may join it, so a phrase containing it is not a fair query.
	broken bool
	// glued marks a word joined to another by a dot, slash, underscore or at
	// sign, as in a file name, URL or address ("tables.pdf"): a search engine's
	// tokenizer may keep the whole as one token, so it is no fair rare word.
	glued bool
}

// tokenize splits text into words: maximal runs of letters, digits and combining
// marks, with an apostrophe between two letters kept inside ("don't"), as
// Unicode word segmentation does. Everything else (punctuation, markup symbols,
// spaces) separates words, as a search engine's tokenizer would.
func tokenize(text string) []token {
	runes := []rune(text)
	offsets := make([]int, len(runes)+1)
	for i, off := 0, 0; i < len(runes); i++ {
		offsets[i] = off
		off += utf8.RuneLen(runes[i])
		offsets[i+1] = off
	}
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) }
	at := func(i int) rune {
		if i < 0 || i >= len(runes) {
			return ' '
		}
		return runes[i]
	}
	glue := func(r rune) bool { return r == '.' || r == '/' || r == '_' || r == '@' || r == '\\' }
	var out []token
	start := -1
	for i := 0; i <= len(runes); i++ {
		r := at(i)
		apostrophe := (r == '\'' || r == '\u2019') && unicode.IsLetter(at(i-1)) && unicode.IsLetter(at(i+1))
		if i < len(runes) && (isWord(r) || (start >= 0 && apostrophe)) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start < 0 {
			continue
		}
		t := token{word: text[offsets[start]:offsets[i]]}
		t.glued = (glue(at(start-1)) && isWord(at(start-2))) || (glue(r) && isWord(at(i+1)))
		if r == '-' {
			j := i + 1
			for at(j) == ' ' || at(j) == '\t' || at(j) == '\r' {
				j++
			}
			t.broken = at(j) == '\n'
		}
		out = append(out, t)
		start = -1
	}
	for i := len(out) - 2; i >= 0; i-- {
		if out[i].broken {
			out[i+1].broken = true // the other half of the hyphenated word
		}
	}
	return out
}

// normalized is a text's words, lower-cased, each followed by one space and the
// whole preceded by one, so that " w1 w2 " matches whole words only.
func normalized(tokens []token) string {
	var b strings.Builder
	b.WriteByte(' ')
	for _, t := range tokens {
		b.WriteString(strings.ToLower(t.word))
		b.WriteByte(' ')
	}
	return b.String()
}

// seeded is a random source that depends only on the seed and a name, so each
// document's queries stay the same whatever else the corpus holds.
func seeded(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// fairPhrase reports whether a run of words makes a fair known-item query: no
// word broken at a line end, mostly words (at least 60% contain a letter and no
// digit), and at least 15 letters, so runs of numbers, table cells like "a b c d
// e" or punctuation debris are left out.
func fairPhrase(run []token) bool {
	wordy, letters := 0, 0
	for _, t := range run {
		if t.broken {
			return false
		}
		hasLetter, hasDigit := false, false
		for _, r := range t.word {
			switch {
			case unicode.IsLetter(r):
				hasLetter = true
				letters++
			case unicode.IsDigit(r):
				hasDigit = true
			}
		}
		if hasLetter && !hasDigit {
			wordy++
		}
	}
	return wordy*10 >= len(run)*6 && letters >= 15
}

// phraseQueries draws up to perDoc runs of 5 to 9 consecutive words from each
// source's text, skipping unfair runs and runs found verbatim in any other file
// (whose target would be ambiguous).
func phraseQueries(sources []source, seed uint64, perDoc int) []query {
	norms := make([]string, len(sources))
	for i, s := range sources {
		norms[i] = normalized(tokenize(s.crude))
	}
	var out []query
	for i, s := range sources {
		tokens := tokenize(s.text)
		if len(tokens) < 5 {
			continue
		}
		rng := seeded(seed, "phrase:"+s.name)
		seen := map[string]bool{}
		for tries, found := 0, 0; found < perDoc && tries < perDoc*40; tries++ {
			n := min(5+rng.IntN(5), len(tokens))
			start := rng.IntN(len(tokens) - n + 1)
			run := tokens[start : start+n]
			if !fairPhrase(run) {
				continue
			}
			key := normalized(run)
			if seen[key] || elsewhere(norms, i, key) {
				continue
			}
			seen[key] = true
			words := make([]string, len(run))
			for j, t := range run {
				words[j] = t.word
			}
			out = append(out, query{set: setPhrase, text: strings.Join(words, " "), want: []string{s.name}})
			found++
		}
	}
	return out
}

// elsewhere reports whether key occurs in any normalized text but the i-th.
func elsewhere(norms []string, i int, key string) bool {
	for j, n := range norms {
		if j != i && strings.Contains(n, key) {
			return true
		}
	}
	return false
}

// rareCandidate reports whether a word can be a rare-word query: at least five
// letters and nothing else, in a script that separates words by spaces (a run of
// Han characters is a whole clause, not a word).
func rareCandidate(w string) bool {
	n := 0
	for _, r := range w {
		if !unicode.IsLetter(r) || unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar) {
			return false
		}
		n++
	}
	return n >= 5
}

// rareWordQueries picks up to perDoc words per source that occur, ignoring case,
// in that source's text and in no other file. Such a word names its document.
func rareWordQueries(sources []source, seed uint64, perDoc int) []query {
	docFreq := map[string]int{}
	for _, s := range sources {
		seen := map[string]bool{}
		for _, t := range tokenize(s.crude) {
			w := strings.ToLower(t.word)
			if !seen[w] && rareCandidate(w) {
				seen[w] = true
				docFreq[w]++
			}
		}
	}
	var out []query
	for _, s := range sources {
		first := map[string]string{} // lower-cased word → first spelling in the text
		var words []string
		for _, t := range tokenize(s.text) {
			w := strings.ToLower(t.word)
			if _, ok := first[w]; ok || t.broken || t.glued || docFreq[w] != 1 {
				continue
			}
			first[w] = t.word
			words = append(words, w)
		}
		slices.Sort(words)
		rng := seeded(seed, "rare:"+s.name)
		rng.Shuffle(len(words), func(a, b int) { words[a], words[b] = words[b], words[a] })
		for _, w := range words[:min(perDoc, len(words))] {
			out = append(out, query{set: setRare, text: first[w], want: []string{s.name}})
		}
	}
	return out
}
