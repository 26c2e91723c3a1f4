package embed

import (
	"context"
	"fmt"
	"math"
	"sync"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/text/unicode/norm"

	"github.com/youworker/youworker/pkg/tracing"
)

// DefaultLexicalDim is the lexical embedder's dimension when none is given.
const DefaultLexicalDim = 384

// lexicalName versions the algorithm: any change to tokenisation, features,
// weights or hashing changes the vectors, so it must come with a new name
// (lexical-v2, ...) to keep stored vectors from being compared with new ones.
const lexicalName = "lexical-v1"

// Feature weights. Unigrams carry the meaning; bigrams reward phrases;
// character 3-grams of longer words give partial credit for inflections and
// compounds; CJK text has no spaces, so character bigrams act as words.
const (
	wUnigram   = 1.0
	wBigram    = 0.6
	wTrigram   = 0.25
	wCJKChar   = 0.5
	wCJKBigram = 1.0
)

const (
	minTrigramWord = 5  // shorter words get no 3-grams
	maxTrigramWord = 40 // longer "words" are ids or garbage: no 3-grams
	minStemWord    = 4
)

// Hash seeds keep the feature families apart.
const (
	fnvOffset   = 14695981039346656037
	fnvPrime    = 1099511628211
	seedUnigram = 0x9e3779b97f4a7c15
	seedBigram  = 0xc2b2ae3d27d4eb4f
	seedTrigram = 0x165667b19e3779f9
	seedCJK     = 0x27d4eb2f165667c5
	seedEmpty   = 0x85ebca77c2b2ae63
	markStart   = 0x02 // word boundary markers inside 3-grams
	markEnd     = 0x03
)

// Lexical is a deterministic embedder that needs no model: feature hashing of
// words, word bigrams and character 3-grams (signed, sublinear, L2-normalised).
// Cosine similarity of its vectors approximates keyword overlap, which is
// enough for retrieval when no embedding model is available. It is safe for
// concurrent use.
type Lexical struct {
	dim   int
	fold  foldTable
	stop  stopSet
	pool  sync.Pool
	empty uint64
}

var (
	_ Embedder = (*Lexical)(nil)
	_ Checker  = (*Lexical)(nil)
)

// NewLexical returns a lexical embedder of dim dimensions (0 means
// DefaultLexicalDim).
func NewLexical(dim int) (*Lexical, error) {
	if dim == 0 {
		dim = DefaultLexicalDim
	}
	if dim < 16 || dim > 1<<16 {
		return nil, fmt.Errorf("lexical embedder: dimension %d out of range [16, 65536]", dim)
	}
	l := &Lexical{dim: dim, fold: newFoldTable(), empty: mix(seedEmpty)}
	for _, w := range stopwords {
		l.stop.add(hashRunes(seedUnigram, []rune(w)))
	}
	l.pool.New = func() any { return &featurizer{l: l, word: make([]rune, 0, 64)} }
	return l, nil
}

// Identity returns lexical-v1 and the dimension.
func (l *Lexical) Identity() Identity { return Identity{Name: lexicalName, Dim: l.dim} }

// Check always succeeds: the lexical embedder has no dependency.
func (l *Lexical) Check(context.Context) error { return nil }

// Embed returns one unit vector per text. A text without any word (empty,
// punctuation only) gets the same fixed unit vector, so it can still be
// stored by vector stores that reject zero vectors.
func (l *Lexical) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	_, span := tracing.Start(ctx, "embed", attribute.String("embed.model", lexicalName), attribute.Int("embed.texts", len(texts)))
	defer span.End()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lexical embed: %w", err)
	}
	backing := make([]float32, len(texts)*l.dim)
	out := make([][]float32, len(texts))
	f := l.pool.Get().(*featurizer)
	defer l.pool.Put(f)
	for i, t := range texts {
		if i%256 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("lexical embed: %w", err)
			}
		}
		v := backing[i*l.dim : (i+1)*l.dim : (i+1)*l.dim]
		f.embed(t, v)
		out[i] = v
	}
	return out, nil
}

// featurizer holds the per-call state of one embedding; pooled to keep
// Embed allocation-free apart from its result.
type featurizer struct {
	l        *Lexical
	v        []float32
	word     []rune
	wordHash uint64 // hashRunes(seedUnigram, word), kept up to date by appendRune
	latin    bool   // word only has Latin letters and digits: stemmable
	digits   bool   // word only has digits
	prev     uint64 // hash of the previous content word, 0 at a boundary
	prevCJK  rune   // previous CJK character, -1 at a boundary
	features int
	logs     logCache
}

// wordHashStart is hashRunes(seedUnigram, nil): the hash of an empty word.
const wordHashStart = fnvOffset ^ seedUnigram

func (f *featurizer) embed(text string, v []float32) {
	f.v, f.word, f.wordHash, f.latin, f.digits, f.prev, f.prevCJK, f.features = v, f.word[:0], wordHashStart, true, true, 0, -1, 0
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i = f.asciiRun(text, i)
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		f.rune(r)
	}
	f.endWord()
	if f.features == 0 {
		f.add(f.l.empty, 1)
	}
	var sum float64
	for i, x := range v {
		if x == 0 {
			// The formula below turns both +0 and -0 into +0 (Abs drops the
			// sign, and -0 < 0 is false), which adds nothing to sum. Empty
			// buckets are common in short texts, so skip the logarithm.
			v[i] = 0
			continue
		}
		// Sublinear term frequency, per bucket: repeated words count, but
		// with diminishing returns.
		y := f.logs.log1pAbs(x)
		if x < 0 {
			y = -y
		}
		v[i] = float32(y)
		sum += y * y
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range v {
		v[i] *= inv
	}
	f.v = nil
}

// asciiFold maps an ASCII byte to its lower-case form if it is a letter or a
// digit, and to 0 if it separates words.
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c
	}
	for c := byte('a'); c <= 'z'; c++ {
		t[c] = c
		t[c-'a'+'A'] = c
	}
	return t
}()

// asciiRun handles the ASCII byte at text[i] and the run of ASCII letters
// and digits that follows it, and returns the index after them. It does what
// calling ascii on each byte would do, but keeps the word and its hash in
// locals: these runs are the bulk of most text.
func (f *featurizer) asciiRun(text string, i int) int {
	// The caller checked text[i] < utf8.RuneSelf; the mask only spares
	// a bounds check.
	c := asciiFold[text[i]&(utf8.RuneSelf-1)]
	if c == 0 {
		if len(f.word) != 0 {
			f.endWord()
		}
		return i + 1
	}
	word, h, digits := f.word, f.wordHash, f.digits
	for {
		if c > '9' {
			digits = false
		}
		word = append(word, rune(c))
		h = (h ^ uint64(c)) * fnvPrime
		i++
		if i == len(text) || text[i] >= utf8.RuneSelf {
			break
		}
		if c = asciiFold[text[i]]; c == 0 {
			break
		}
	}
	if cap(word) == cap(f.word) {
		// Same backing array: only the length changes, and re-slicing
		// f.word in place spares the GC write barrier of a pointer store.
		f.word = f.word[:len(word)]
	} else {
		f.word = word
	}
	f.wordHash, f.digits, f.prevCJK = h, digits, -1
	return i
}

// ascii handles one ASCII letter, digit or separator that did not come as
// a plain ASCII byte (full-width forms); it must agree with asciiRun.
func (f *featurizer) ascii(c byte) {
	c = asciiFold[c&(utf8.RuneSelf-1)]
	if c == 0 {
		if len(f.word) != 0 {
			f.endWord()
		}
		return
	}
	if c > '9' {
		f.digits = false
	}
	f.prevCJK = -1
	f.appendRune(rune(c))
}

// appendRune adds r to the current word and to its running hash, so that
// endWord needs no second pass over the word.
func (f *featurizer) appendRune(r rune) {
	f.word = append(f.word, r)
	f.wordHash = (f.wordHash ^ uint64(r)) * fnvPrime
}

func (f *featurizer) rune(r rune) {
	if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII, common in CJK text
		f.ascii(byte(r - 0xFEE0))
		return
	}
	if isCJK(r) {
		f.endWord()
		f.cjk(r)
		return
	}
	if r >= 0x300 && r < 0x370 { // combining diacritics (decomposed text): strip
		return
	}
	letter := unicode.IsLetter(r)
	if !letter && !unicode.IsDigit(r) && !unicode.In(r, unicode.Mn, unicode.Mc) {
		f.endWord()
		return
	}
	f.prevCJK = -1
	if letter {
		f.digits = false
	}
	r = unicode.ToLower(r)
	switch r {
	case 'ß':
		f.appendRune('s')
		f.appendRune('s')
		return
	case 'æ':
		f.appendRune('a')
		f.appendRune('e')
		return
	case 'œ':
		f.appendRune('o')
		f.appendRune('e')
		return
	}
	r = f.l.fold.base(r)
	if r >= 0x250 {
		f.latin = false
	}
	f.appendRune(r)
}

// cjk adds a character of a script written without spaces: the character
// itself and its bigram with the previous one.
func (f *featurizer) cjk(r rune) {
	f.prev = 0
	h := (fnvOffset ^ seedCJK ^ uint64(r)) * fnvPrime
	f.add(h, wCJKChar)
	if f.prevCJK >= 0 {
		f.add(((h^uint64(f.prevCJK))*fnvPrime)^seedBigram, wCJKBigram)
	}
	f.prevCJK = r
}

func (f *featurizer) endWord() {
	w := f.word
	if len(w) == 0 {
		return
	}
	h := f.wordHash
	f.word, f.wordHash = f.word[:0], wordHashStart // f.word[:0], not w[:0]: no write barrier
	latin, digits := f.latin, f.digits
	f.latin, f.digits = true, true

	if f.l.stop.has(h) {
		return // stopwords are skipped, so bigrams join the words around them
	}
	if latin && !digits {
		if s := stem(w); len(s) != len(w) {
			w = s
			h = hashRunes(seedUnigram, w)
		}
	}
	if !digits && len(w) >= minTrigramWord && len(w) <= maxTrigramWord {
		f.trigrams(w)
	}
	f.add(h, wUnigram)
	if f.prev != 0 {
		f.add((f.prev*fnvPrime)^h^seedBigram, wBigram)
	}
	f.prev = h
}

func (f *featurizer) trigrams(w []rune) {
	// v in a local, and the count added once: the compiler cannot keep
	// f.v in registers across the stores into the vector.
	v := f.v
	a, b := rune(markStart), w[0]
	for i := 1; i <= len(w); i++ {
		c := rune(markEnd)
		if i < len(w) {
			c = w[i]
		}
		h := uint64(fnvOffset ^ seedTrigram)
		h = (h ^ uint64(a)) * fnvPrime
		h = (h ^ uint64(b)) * fnvPrime
		h = (h ^ uint64(c)) * fnvPrime
		addTo(v, h, wTrigram)
		a, b = b, c
	}
	f.features += len(w)
}

// add adds one feature to the vector.
func (f *featurizer) add(h uint64, w float32) {
	addTo(f.v, h, w)
	f.features++
}

// addTo hashes a feature into a bucket of v with a hash-derived sign, so
// collisions cancel out on average instead of piling up.
func addTo(v []float32, h uint64, w float32) {
	m := mix(h)
	idx := ((m >> 32) * uint64(len(v))) >> 32
	if m&1 == 1 {
		w = -w
	}
	v[idx] += w
}

// stem strips common plural and verb suffixes of Latin-script words. It is
// deliberately light: it only needs to map a word and its inflections to the
// same feature, the same way for queries and documents.
func stem(w []rune) []rune {
	n := len(w)
	if n < minStemWord {
		return w
	}
	switch w[n-1] {
	case 's', 'g', 'd': // the last letters of the suffixes below
	default:
		return w
	}
	end := func(s string) bool {
		if len(s) > n {
			return false
		}
		for i, c := range []byte(s) {
			if w[n-len(s)+i] != rune(c) {
				return false
			}
		}
		return true
	}
	switch {
	case n > 4 && end("ies"):
		return append(w[:n-3], 'y')
	case end("sses"):
		return w[:n-2]
	case end("s") && !end("ss") && !end("us") && !end("is"):
		return w[:n-1]
	case n >= 6 && end("ing"):
		return w[:n-3]
	case n >= 5 && end("ed"):
		return w[:n-2]
	}
	return w
}

func hashRunes(seed uint64, rs []rune) uint64 {
	h := uint64(fnvOffset ^ seed)
	for _, r := range rs {
		h = (h ^ uint64(r)) * fnvPrime
	}
	return h
}

// stopSet is the set of stop-word hashes: an open-addressing table with
// linear probing, cheaper than a map for the lookup done on every word. It
// holds the same 64-bit hashes a map would, so membership is unchanged.
type stopSet struct {
	slots [stopSlots]uint64 // 0 marks an empty slot
	zero  bool              // whether the hash 0 itself is in the set
}

// stopSlots keeps the table at most half full, so probes stay short and
// always reach an empty slot.
const (
	stopSlots = 512
	stopShift = 64 - 9 // log2(stopSlots)
)

// Fails to compile if the stop-word list outgrows half the table.
var _ [stopSlots/2 - len(stopwords)]struct{}

func (s *stopSet) add(h uint64) {
	if h == 0 {
		s.zero = true
		return
	}
	for i := stopSlot(h); ; i = (i + 1) % stopSlots {
		switch s.slots[i] {
		case h:
			return // the list has duplicates across languages
		case 0:
			s.slots[i] = h
			return
		}
	}
}

// stopSlot is where the probe for h starts. The FNV hashes of short words
// differ in few bits, so they are spread by a multiplication (Fibonacci
// hashing) before the top bits are taken.
func stopSlot(h uint64) uint64 {
	return (h * 0x9e3779b97f4a7c15) >> stopShift
}

func (s *stopSet) has(h uint64) bool {
	if h == 0 {
		return s.zero
	}
	for i := stopSlot(h); ; i = (i + 1) % stopSlots {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

// logCache memoises log1p of bucket magnitudes. Buckets hold sums of a few
// feature weights, so the same values recur across buckets and texts, and a
// table lookup is several times cheaper than math.Log1p. It returns exactly
// what math.Log1p returns, so vectors are unchanged.
type logCache struct {
	key [logSlots]uint32 // float32 bits of the magnitude; 0 (for +0) marks an empty slot
	val [logSlots]float64
}

const (
	logSlots = 256
	logShift = 32 - 8 // log2(logSlots)
)

// log1pAbs returns math.Log1p(math.Abs(float64(x))) for a non-zero x.
func (c *logCache) log1pAbs(x float32) float64 {
	bits := math.Float32bits(x) &^ (1 << 31)
	i := (bits * 0x9e3779b1) >> logShift // Fibonacci hashing: mixes exponent and mantissa
	if c.key[i] == bits {
		return c.val[i]
	}
	y := math.Log1p(float64(math.Float32frombits(bits)))
	c.key[i], c.val[i] = bits, y
	return y
}

// mix is the MurmurHash3 finaliser: FNV's low bits are weak, and both the
// bucket and the sign are taken from the mixed value.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// isCJK reports whether r belongs to a script written without spaces between
// words, where characters and their bigrams stand in for words.
func isCJK(r rune) bool {
	switch {
	case r < 0x0E00:
		return false
	case r <= 0x0EFF: // Thai, Lao
		return true
	case r >= 0x3040 && r <= 0x30FF, r >= 0x31F0 && r <= 0x31FF: // kana
		return true
	case r >= 0x3400 && r <= 0x4DBF, r >= 0x4E00 && r <= 0x9FFF, r >= 0xF900 && r <= 0xFAFF: // Han
		return true
	case r >= 0xAC00 && r <= 0xD7AF: // Hangul syllables
		return true
	case r >= 0x20000 && r <= 0x3FFFF: // Han extensions
		return true
	}
	return false
}

// foldTable maps lower-case letters of the Latin, Greek and Vietnamese
// ranges to their base letter without diacritics (é → e, ά → α, ệ → e).
// Cyrillic and other scripts keep their marks, which distinguish letters
// there (й is not и).
type foldTable struct {
	latin [0x250 - 0xC0]rune
	greek [0x400 - 0x370]rune
	ext   [0x1F00 - 0x1E00]rune
}

func newFoldTable() foldTable {
	var t foldTable
	fill := func(dst []rune, lo rune) {
		for i := range dst {
			dst[i] = baseLetter(lo + rune(i))
		}
	}
	fill(t.latin[:], 0xC0)
	fill(t.greek[:], 0x370)
	fill(t.ext[:], 0x1E00)
	return t
}

// baseLetter strips combining marks from r's canonical decomposition; a few
// letters with bars or strokes have none, so they are listed.
func baseLetter(r rune) rune {
	switch r {
	case 'ø':
		return 'o'
	case 'đ', 'ð':
		return 'd'
	case 'ł':
		return 'l'
	case 'ħ':
		return 'h'
	case 'ŧ':
		return 't'
	case 'ı':
		return 'i'
	}
	d := norm.NFD.String(string(r))
	base, size := utf8.DecodeRuneInString(d)
	for _, m := range d[size:] {
		if !unicode.Is(unicode.Mn, m) {
			return r
		}
	}
	return base
}

func (t *foldTable) base(r rune) rune {
	switch {
	case r < 0xC0:
		return r
	case r < 0x250:
		return t.latin[r-0xC0]
	case r >= 0x370 && r < 0x400:
		return t.greek[r-0x370]
	case r >= 0x1E00 && r < 0x1F00:
		return t.ext[r-0x1E00]
	}
	return r
}
