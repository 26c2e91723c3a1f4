package bm25

import "math/bits"

// langMask is a set of languages: bit i is languages[i].
type langMask uint8

// noLanguage is the result of detection when the text gives too little
// evidence.
const noLanguage = -1

// Detection thresholds. A chunk of 100 words has dozens of stop words, a
// short query often none; two hits is the least that tells a language from
// a coincidence ("die" is German, but also an English word), and the winner
// must beat the runner-up by half as much again because the Romance
// languages share many function words ("la", "se", "con").
const (
	minHits = 2
	// An undetected query drops a word that is a stop word in this many
	// languages or more (see Encoder.Query).
	dropShared = 2
)

// stopIndex maps each stop word to the languages it is a stop word of.
type stopIndex map[string]langMask

func newStopIndex() stopIndex {
	n := 0
	for _, l := range stopLists {
		n += len(l)
	}
	idx := make(stopIndex, n)
	for i, list := range stopLists {
		for _, w := range list {
			idx[w] |= 1 << i
		}
	}
	return idx
}

// lookup returns the languages word is a stop word of.
func (idx stopIndex) lookup(word []byte) langMask {
	return idx[string(word)]
}

// has reports whether m contains language lang.
func (m langMask) has(lang int) bool { return m&(1<<lang) != 0 }

// count returns the number of languages in m.
func (m langMask) count() int { return bits.OnesCount8(uint8(m)) }

// detect returns the index of the language of the analysed text in sc, or
// noLanguage, by counting stop-word hits per language.
func detect(sc *scratch) int {
	var hits [len(languages)]int
	for _, t := range sc.tokens {
		if t.kind != kindWord {
			continue
		}
		m := t.stop
		for m != 0 {
			i := bits.TrailingZeros8(uint8(m))
			hits[i]++
			m &^= 1 << i
		}
	}
	best, second := noLanguage, 0
	for i, h := range hits {
		switch {
		case best == noLanguage || h > hits[best]:
			if best != noLanguage {
				second = hits[best]
			}
			best = i
		case h > second:
			second = h
		}
	}
	if hits[best] < minHits || 2*hits[best] <= 3*second {
		return noLanguage
	}
	return best
}
