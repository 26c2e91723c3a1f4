// Package bm25 is the client-side half of lexical (BM25) retrieval over Qdrant
// sparse vectors.
//
// BM25 needs two statistics: how often a term occurs in a chunk, relative to
// the chunk's length (term frequency saturation), and how rare the term is in
// the whole collection (inverse document frequency). Only the first can be
// computed when a chunk is written; the second changes with every insert and
// delete. Qdrant keeps it for us: a sparse vector stored with the "idf"
// modifier has the collection's IDF applied at query time, so the score is
//
//	score = Σ_t query_w(t) · idf(t) · doc_w(t)
//
// This package produces doc_w (the BM25 term-frequency part, with k1, b and
// the caller-measured average chunk length) for chunks and query_w (1 per
// distinct term) for queries, from the same analysis pipeline so that a word
// in a query and the same word in a chunk get the same term id:
//
//  1. Unicode word segmentation (UAX #29);
//  2. NFKC normalisation and full case folding, format characters (soft
//     hyphens, zero-width joiners) removed;
//  3. identifiers, codes and numbers kept whole as well as split into parts;
//  4. per-language stop words and Snowball stemming (en, it, de, fr, es), the
//     language being forced by [Params] or detected per text; diacritics are
//     removed from the stems, not before, because the stemmers rely on them.
//
// Term ids are 32-bit FNV-1a hashes of the final terms. Everything that
// decides the ids and weights is versioned by [Name]: vectors written under
// one name must never be queried with another.
package bm25

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Name identifies the term ids and the weighting. Any change to segmentation,
// normalisation, stop words, stemming or hashing changes the vectors and must
// come with a new name, so that stored vectors are rebuilt rather than
// silently compared with incompatible queries.
const Name = "bm25-v1"

// Defaults of [Params]. K1 and B are the values most BM25 implementations
// ship with; DefaultAvgLen is a placeholder of the order of a chunk's length,
// to be replaced by the average the caller measures with [Encoder.Length].
const (
	DefaultK1     = 1.2
	DefaultB      = 0.75
	DefaultAvgLen = 256.0
)

// Languages with stop words and a stemmer. The first is the fallback for
// documents whose language is not detected.
var languages = [...]string{"en", "it", "de", "fr", "es"}

// Params configures an [Encoder].
type Params struct {
	// K1 controls how quickly repeated occurrences of a term stop adding to
	// its weight; in (0, 10].
	K1 float64
	// B controls how much a chunk's length normalises its term weights; in
	// [0, 1]. Because a zero field takes the default, b = 0 cannot be asked
	// for through [Params.WithDefaults]: use a tiny value such as 1e-9.
	B float64
	// AvgLen is the average chunk length in terms over the collection, as
	// returned by [Encoder.Length]; > 0.
	AvgLen float64
	// Language forces the analysis language of every text: "en", "it",
	// "de", "fr" or "es". Empty detects it per text.
	Language string
}

// WithDefaults returns p with each zero field set to its default.
func (p Params) WithDefaults() Params {
	if p.K1 == 0 {
		p.K1 = DefaultK1
	}
	if p.B == 0 {
		p.B = DefaultB
	}
	if p.AvgLen == 0 {
		p.AvgLen = DefaultAvgLen
	}
	return p
}

// Validate reports every invalid field at once.
func (p Params) Validate() error {
	var errs []error
	if !(p.K1 > 0 && p.K1 <= 10) {
		errs = append(errs, fmt.Errorf("k1 must be in (0, 10], got %v", p.K1))
	}
	if !(p.B >= 0 && p.B <= 1) {
		errs = append(errs, fmt.Errorf("b must be in [0, 1], got %v", p.B))
	}
	if !(p.AvgLen > 0) || math.IsInf(p.AvgLen, 1) {
		errs = append(errs, fmt.Errorf("avg_len must be a finite number > 0, got %v", p.AvgLen))
	}
	if p.Language != "" && languageIndex(p.Language) < 0 {
		errs = append(errs, fmt.Errorf("language must be empty (detect) or one of %v, got %q", languages, p.Language))
	}
	return errors.Join(errs...)
}

// languageIndex returns the index of lang in languages, or -1.
func languageIndex(lang string) int {
	return slices.Index(languages[:], lang)
}

// Vector is a sparse vector in the shape Qdrant takes: Indices strictly
// increasing (hence unique) and every value > 0.
type Vector struct {
	Indices []uint32
	Values  []float32
}
