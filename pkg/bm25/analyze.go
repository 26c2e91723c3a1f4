package bm25

import (
	"errors"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/snowballstem"
	"github.com/clipperhouse/uax29/v2/words"
	"golang.org/x/text/cases"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// maxTextBytes bounds the analysed text so that token offsets fit in int32;
// it is far beyond any chunk, and the rest of a larger text is ignored.
const maxTextBytes = 1 << 30

// maxTermBytes bounds a term: longer "words" are base64, hashes, URLs with
// query strings or garbage, which no one searches for and which would only
// bloat the vectors.
const maxTermBytes = 64

// kind is what a token is, which decides whether it is a stop-word candidate
// and whether it is stemmed.
type kind uint8

const (
	kindWord   kind = iota // letters only: stop-word filtered and stemmed
	kindNumber             // digits only: kept as written
	kindCode               // letters and digits mixed ("v1", "h2o"): kept as written
	kindWhole              // atoms joined by - _ . / : @ ("rfc-7231"): kept as written
)

// token is a span of scratch.text.
type token struct {
	start, end int32
	kind       kind
	stop       langMask // languages a word token is a stop word of
}

// scratch holds the buffers of one analysis, reused through the encoder's
// pool so that encoding a chunk does not allocate per token.
type scratch struct {
	text   []byte // normalised, case-folded text; tokens point into it
	tmp    []byte // second buffer for the normalisation steps
	tokens []token
	iter   *words.Iterator[[]byte]
	fold   cases.Caser
	env    *snowballstem.Env
	term   []byte // the current stem
	key    []byte // the current stem cache key
	ids    []uint32
	terms  []weighted
	seen   []bool
}

// weighted is one query term before merging.
type weighted struct {
	id uint32
	w  float32
}

func newScratch() *scratch {
	return &scratch{
		iter: words.FromBytes(nil),
		fold: cases.Fold(),
		env:  snowballstem.NewEnv(""),
	}
}

// span returns the bytes of t.
func (sc *scratch) span(t token) []byte {
	return sc.text[t.start:t.end]
}

// asciiLower maps ASCII upper case to lower case; ASCII text is already in
// NFKC and full case folding of ASCII is exactly this.
var asciiLower = func() (t [128]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

// normalize fills sc.text with the NFKC, case-folded form of text, without
// default-ignorable format characters (soft hyphens, zero-width joiners, bidi
// marks), which would otherwise cut words copied out of PDFs in two. A zero
// width space is a word break and becomes a space.
func (sc *scratch) normalize(text string) {
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		b := slices.Grow(sc.text[:0], len(text))[:len(text)]
		for i := 0; i < len(text); i++ {
			b[i] = asciiLower[text[i]]
		}
		sc.text = b
		return
	}
	if !utf8.ValidString(text) {
		// The segmenter's behaviour on invalid UTF-8 is undefined.
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	sc.tmp = norm.NFKC.AppendString(sc.tmp[:0], text)
	if out, ok := foldLatin(sc.text[:0], sc.tmp); ok {
		sc.text = out
		return
	}
	sc.text = appendTransform(sc.fold, sc.text[:0], sc.tmp)
	if hasCombiningOrAbove(sc.text) && !norm.NFKC.IsNormal(sc.text) {
		// Folding can undo normalisation (NFKC_Casefold applies NFKC
		// again); it cannot below U+0300, where the check is skipped.
		sc.tmp = norm.NFKC.Append(sc.tmp[:0], sc.text...)
		sc.text, sc.tmp = sc.tmp, sc.text
	}
	sc.text = dropFormat(sc.text)
}

// foldLatin appends the case folding of the NFKC text src to dst when src is
// in the Latin ranges below U+0250, where full case folding is lower-casing
// except for ß, and drops soft hyphens. It reports false, leaving the work
// to the general path, for anything else. It exists because most of our
// text is Latin, where this is several times faster than the general path;
// a test checks it against golang.org/x/text/cases for every rune it takes.
func foldLatin(dst, src []byte) ([]byte, bool) {
	dst = slices.Grow(dst, len(src)+len(src)/8)
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			dst = append(dst, asciiLower[c])
			i++
			continue
		}
		r, n := utf8.DecodeRune(src[i:])
		switch {
		case r >= 0x250 || r == 'İ' || r == 'ǰ':
			return dst, false
		case r == 'ß':
			dst = append(dst, "ss"...)
		case r == '\u00ad':
		default:
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		}
		i += n
	}
	return dst, true
}

// hasCombiningOrAbove reports whether b has a rune at or above U+0300, the
// combining diacritical marks: the lead byte of such a rune is 0xCC or more.
func hasCombiningOrAbove(b []byte) bool {
	for _, c := range b {
		if c >= 0xcc {
			return true
		}
	}
	return false
}

// dropFormat removes format characters (category Cf) from b in place.
func dropFormat(b []byte) []byte {
	out := b[:0]
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == '\u200b':
			out = append(out, ' ')
		case unicode.Is(unicode.Cf, r):
		default:
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

// appendTransform appends t applied to src to dst, growing dst as needed.
func appendTransform(t transform.Transformer, dst, src []byte) []byte {
	t.Reset()
	dst = slices.Grow(dst, len(src)+utf8.UTFMax)
	for {
		nDst, nSrc, err := t.Transform(dst[len(dst):cap(dst)], src, true)
		dst = dst[:len(dst)+nDst]
		src = src[nSrc:]
		switch {
		case err == nil:
			return dst
		case errors.Is(err, transform.ErrShortDst):
			dst = slices.Grow(dst, 2*(cap(dst)-len(dst))+len(src)+utf8.UTFMax)
		default:
			// Case folding fails only on input it cannot read; keep that
			// part as it is rather than lose it.
			return append(dst, src...)
		}
	}
}

// Byte classes of ASCII characters for the scanner.
const (
	classOther byte = iota
	classLetter
	classDigit
	classJoiner
)

// asciiClass classifies ASCII bytes. The joiners hold identifiers together:
// "rfc-7231", "acme_42", "v1.17", "10.0.0.1", "user@example.com", "a/b",
// "iso:8601".
var asciiClass = func() (t [128]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = classLetter
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = classLetter
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = classDigit
	}
	for _, c := range "-_./:@" {
		t[c] = classJoiner
	}
	return t
}()

// classOf returns the class of the non-ASCII rune at the start of b and its
// length in bytes. Marks count as letters: they belong to the word they
// follow.
func classOf(b []byte) (byte, int) {
	r, n := utf8.DecodeRune(b)
	switch {
	case unicode.IsLetter(r) || unicode.IsMark(r):
		return classLetter, n
	case unicode.IsNumber(r):
		return classDigit, n
	}
	return classOther, n
}

// scanner is the state of tokenize: the open atom and the open group.
type scanner struct {
	sc *scratch

	atomStart               int32 // -1 when no atom is open
	atomLetters, atomDigits bool

	groupStart int32 // start of the group's first atom, -1 when no group is open
	groupEnd   int32 // end of its last atom
	atoms      int   // atoms in the group so far
	joinable   bool  // the last thing seen was one joiner right after an atom
}

// endAtom closes the open atom, if any, at end and adds it to the group.
func (s *scanner) endAtom(end int32) {
	if s.atomStart < 0 {
		return
	}
	k := kindWord
	switch {
	case s.atomLetters && s.atomDigits:
		k = kindCode
	case s.atomDigits:
		k = kindNumber
	}
	if end-s.atomStart <= maxTermBytes {
		s.sc.tokens = append(s.sc.tokens, token{start: s.atomStart, end: end, kind: k})
	}
	if s.groupStart < 0 {
		s.groupStart = s.atomStart
	}
	s.groupEnd = end
	s.atoms++
	s.atomStart = -1
	s.atomLetters, s.atomDigits = false, false
}

// endGroup closes the open group, keeping it whole when it has several atoms.
func (s *scanner) endGroup() {
	if s.atoms > 1 && s.groupEnd-s.groupStart <= maxTermBytes {
		s.sc.tokens = append(s.sc.tokens, token{start: s.groupStart, end: s.groupEnd, kind: kindWhole})
	}
	s.groupStart, s.atoms, s.joinable = -1, 0, false
}

// tokenize fills sc.tokens from sc.text.
//
// UAX #29 decides where words start and end (it is what splits ideographs
// one by one and keeps "example.com" or "3.14" together). Inside and across
// its segments, letters and digits form atoms; an atom followed by one joiner
// (- _ . / : @) and another atom continues a group, anything else ends it.
// Apostrophes end atoms, so the French and Italian elisions "l'homme" and
// "dell'arte" give the article apart from the noun.
//
// Every atom becomes a token of its own (word, number or code); a group of
// two atoms or more is also kept whole, so "rfc-7231" gives "rfc-7231",
// "rfc" and "7231", and "v1.17" gives "v1.17", "v1" and "17". A trailing
// joiner, such as a full stop, is not part of the group.
func (sc *scratch) tokenize() {
	sc.tokens = sc.tokens[:0]
	s := scanner{sc: sc, atomStart: -1, groupStart: -1}
	sc.iter.SetText(sc.text)
	for sc.iter.Next() {
		seg := sc.iter.Value()
		base := int32(sc.iter.Start())
		for i := 0; i < len(seg); {
			var c byte
			n := 1
			if b := seg[i]; b < utf8.RuneSelf {
				c = asciiClass[b]
			} else {
				c, n = classOf(seg[i:])
			}
			pos := base + int32(i)
			switch {
			case c == classLetter || c == classDigit:
				if s.atomStart < 0 {
					if s.groupStart >= 0 && !s.joinable {
						// Two words with nothing between them, as
						// ideographs are: separate tokens.
						s.endGroup()
					}
					s.atomStart = pos
					s.joinable = false
				}
				if c == classLetter {
					s.atomLetters = true
				} else {
					s.atomDigits = true
				}
			case c == classJoiner && s.atomStart >= 0:
				s.endAtom(pos)
				s.joinable = true
			case c == classJoiner && s.groupStart >= 0 && !s.joinable:
				// The atom ended with its segment: "rfc" then "-".
				s.joinable = true
			default:
				s.endAtom(pos)
				s.endGroup()
			}
			i += n
		}
		// A segment boundary ends the atom but not the group: a joiner
		// may follow.
		s.endAtom(base + int32(len(seg)))
	}
	s.endGroup()
}

// analyze normalises and tokenises text into sc, marking the stop words of
// idx.
func (sc *scratch) analyze(text string, idx stopIndex) {
	sc.normalize(text)
	if len(sc.text) > maxTextBytes {
		n := maxTextBytes
		for n > 0 && !utf8.RuneStart(sc.text[n]) {
			n--
		}
		sc.text = sc.text[:n]
	}
	sc.tokenize()
	for i := range sc.tokens {
		if t := &sc.tokens[i]; t.kind == kindWord {
			t.stop = idx.lookup(sc.span(*t))
		}
	}
}
