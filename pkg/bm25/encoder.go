package bm25

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
)

// maxPooledBytes keeps the pool from holding on to the buffers of an
// exceptionally large text: chunks need a few tens of KB.
const maxPooledBytes = 1 << 20

// Encoder turns chunks and queries into BM25 sparse vectors. It is safe for
// concurrent use; create it with [New].
type Encoder struct {
	params Params
	lang   int // forced language, or noLanguage to detect per text
	stop   stopIndex
	cache  stemCache
	pool   sync.Pool
}

// New returns an Encoder for p with defaults applied, or the reasons p is
// invalid.
func New(p Params) (*Encoder, error) {
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("bm25 params: %w", err)
	}
	e := &Encoder{params: p, lang: noLanguage, stop: newStopIndex()}
	if p.Language != "" {
		e.lang = languageIndex(p.Language)
	}
	e.pool.New = func() any { return newScratch() }
	return e, nil
}

// Params returns the parameters in use, defaults applied.
func (e *Encoder) Params() Params { return e.params }

func (e *Encoder) get() *scratch { return e.pool.Get().(*scratch) }

func (e *Encoder) put(sc *scratch) {
	// Sizes in bytes: a token is 12, an id 4, a weighted term 8.
	size := cap(sc.text) + cap(sc.tmp) + 12*cap(sc.tokens) + 4*cap(sc.ids) + 8*cap(sc.terms) + cap(sc.seen)
	if size > maxPooledBytes {
		return
	}
	e.pool.Put(sc)
}

// analyze analyses text into sc and returns its language, or noLanguage.
func (e *Encoder) analyze(sc *scratch, text string) int {
	sc.analyze(text, e.stop)
	if e.lang != noLanguage {
		return e.lang
	}
	return detect(sc)
}

// termID returns the term id of token t in language lang, or false when t is
// a stop word.
func (e *Encoder) termID(sc *scratch, t token, lang int) (uint32, bool) {
	ids, ok := e.termIDs(sc, t, lang)
	return ids.stem, ok
}

// termIDs is termID with the id of a word's exact form beside its stem (0 when
// the word is its own stem, and for codes and numbers, which are not stemmed).
func (e *Encoder) termIDs(sc *scratch, t token, lang int) (wordIDs, bool) {
	b := sc.span(t)
	if t.kind != kindWord {
		return wordIDs{stem: hash(b)}, true
	}
	if t.stop.has(lang) {
		return wordIDs{}, false
	}
	return e.stemIDs(sc, lang, b), true
}

// exactMark starts the term of a word's exact form, so that it never equals
// the stem of another word ("rained" the form, "rained" some stem).
const exactMark = 0x01

// stemIDs returns the term ids of the stem of word in language lang and of its
// exact form. The exact form is indexed beside the stem so that the word as
// written outranks its relatives: "rained" finds the one document that says
// "rained" before the many that say "rain".
func (e *Encoder) stemIDs(sc *scratch, lang int, word []byte) wordIDs {
	sc.key = append(append(sc.key[:0], byte(lang)), word...)
	h := hash(sc.key)
	if ids, ok := e.cache.get(sc.key, h); ok {
		return ids
	}
	sc.term = stem(sc.env, lang, word, sc.term[:0])
	ids := wordIDs{stem: hash(sc.term)}
	stemLen := len(sc.term)
	sc.term = appendUnaccented(append(sc.term, exactMark), string(word))
	if exact := sc.term[stemLen+1:]; string(exact) != string(sc.term[:stemLen]) {
		ids.exact = max(hash(sc.term[stemLen:]), 1) // 0 means "none"
	}
	e.cache.put(sc.key, h, ids)
	return ids
}

// docLanguage is the language of a document: detected, else English, the
// language of most of what is written and the safest guess for the
// stemmer (it only removes English suffixes).
func docLanguage(lang int) int {
	if lang == noLanguage {
		return 0
	}
	return lang
}

// Document returns the BM25 vector of a chunk and its length in terms (after
// stop words are dropped; identifiers count once whole and once per part).
// The length is dl in the BM25 formula, and what the caller averages over
// the collection to set [Params.AvgLen].
//
// Each term's weight is tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl)); Qdrant
// multiplies it by the term's IDF at query time. A word that is not its own
// stem also gives a term for its exact form, which does not count in the
// length. A text without terms gives an empty vector and length 0.
func (e *Encoder) Document(text string) (v Vector, length int) {
	sc := e.get()
	defer e.put(sc)
	lang := docLanguage(e.analyze(sc, text))
	ids := sc.ids[:0]
	for _, t := range sc.tokens {
		if w, ok := e.termIDs(sc, t, lang); ok {
			ids = append(ids, w.stem)
			length++
			if w.exact != 0 {
				ids = append(ids, w.exact)
			}
		}
	}
	sc.ids = ids
	if len(ids) == 0 {
		return Vector{}, 0
	}
	slices.Sort(ids)
	n := 1
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1] {
			n++
		}
	}
	v = Vector{Indices: make([]uint32, 0, n), Values: make([]float32, 0, n)}
	k1, b := e.params.K1, e.params.B
	lengthNorm := k1 * (1 - b + b*float64(length)/e.params.AvgLen)
	for i := 0; i < len(ids); {
		j := i + 1
		for j < len(ids) && ids[j] == ids[i] {
			j++
		}
		tf := float64(j - i)
		v.Indices = append(v.Indices, ids[i])
		v.Values = append(v.Values, float32(tf*(k1+1)/(tf+lengthNorm)))
		i = j
	}
	return v, length
}

// Length returns the length in terms that [Encoder.Document] would return
// for text, without stemming or hashing: the cheap way to measure the average
// chunk length over a sample.
func (e *Encoder) Length(text string) int {
	sc := e.get()
	defer e.put(sc)
	lang := docLanguage(e.analyze(sc, text))
	n := 0
	for _, t := range sc.tokens {
		if !t.stop.has(lang) {
			n++
		}
	}
	return n
}

// Query returns the vector of a query: weight 1 for each distinct term.
//
// A query is analysed like a chunk when its language is forced or detected.
// Short queries often have too few stop words to tell their language, and
// stemming them as English would miss "contratti" in an Italian chunk, so an
// undetected query stems each word in every language instead: the distinct
// stems share the word's weight of 1 (1/n each), so an ambiguous word does
// not count more than a plain one. A word that is a stop word in two
// languages or more ("la", "in", "se") is dropped; a word that is a stop
// word in one language only ("die", "war", "car") keeps the other
// languages' stems, since it is a content word there. A word that is not its
// own stem also asks for its exact form, with weight 1, so documents with the
// word as written rank above those with its relatives. An empty vector means
// there is nothing to search for.
func (e *Encoder) Query(text string) Vector {
	sc := e.get()
	defer e.put(sc)
	lang := e.analyze(sc, text)
	terms := sc.terms[:0]
	for _, t := range sc.tokens {
		if lang != noLanguage || t.kind != kindWord {
			if w, ok := e.termIDs(sc, t, docLanguage(lang)); ok {
				terms = append(terms, weighted{id: w.stem, w: 1})
				if w.exact != 0 {
					terms = append(terms, weighted{id: w.exact, w: 1})
				}
			}
			continue
		}
		var variants [len(languages)]uint32
		n, exact := e.variants(sc, t, &variants)
		for _, id := range variants[:n] {
			terms = append(terms, weighted{id: id, w: 1 / float32(n)})
		}
		if exact != 0 {
			terms = append(terms, weighted{id: exact, w: 1})
		}
	}
	sc.terms = terms
	return mergeMax(terms)
}

// variants stores in vs the distinct term ids of word token t stemmed in each
// language where it is not a stop word, and returns how many there are (0
// when the word is a stop word in dropShared languages or more) and the id of
// the word's exact form when some language stems it to something else (else 0).
func (e *Encoder) variants(sc *scratch, t token, vs *[len(languages)]uint32) (n int, exact uint32) {
	word, stop := sc.span(t), t.stop
	if stop.count() >= dropShared {
		return 0, 0
	}
	for lang := range languages {
		if stop.has(lang) {
			continue
		}
		ids := e.stemIDs(sc, lang, word)
		if ids.exact != 0 {
			exact = ids.exact
		}
		if !slices.Contains(vs[:n], ids.stem) {
			vs[n] = ids.stem
			n++
		}
	}
	return n, exact
}

// mergeMax sorts terms by id and returns them as a vector, keeping the
// largest weight of a repeated id so that no term weighs more than 1.
func mergeMax(terms []weighted) Vector {
	if len(terms) == 0 {
		return Vector{}
	}
	slices.SortFunc(terms, func(a, b weighted) int { return cmp.Compare(a.id, b.id) })
	v := Vector{Indices: make([]uint32, 0, len(terms)), Values: make([]float32, 0, len(terms))}
	for _, t := range terms {
		if n := len(v.Indices); n > 0 && v.Indices[n-1] == t.id {
			v.Values[n-1] = max(v.Values[n-1], t.w)
			continue
		}
		v.Indices = append(v.Indices, t.id)
		v.Values = append(v.Values, t.w)
	}
	return v
}

// hash is 32-bit FNV-1a, the term id. It is part of bm25-v1: ids must not
// change as long as vectors written with them are queried.
func hash(term []byte) uint32 {
	const (
		offset = 2166136261
		prime  = 16777619
	)
	h := uint32(offset)
	for _, c := range term {
		h ^= uint32(c)
		h *= prime
	}
	return h
}
