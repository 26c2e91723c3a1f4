package bm25

import (
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/english"
	"github.com/blevesearch/snowballstem/french"
	"github.com/blevesearch/snowballstem/german"
	"github.com/blevesearch/snowballstem/italian"
	"github.com/blevesearch/snowballstem/spanish"
	"golang.org/x/text/unicode/norm"
)

// stemmers are the Snowball stemmers in the order of languages. Each call
// keeps its state in the Env it is given, so one Env per goroutine makes them
// safe for concurrent use.
var stemmers = [len(languages)]func(*snowballstem.Env) bool{
	english.Stem, italian.Stem, german.Stem, french.Stem, spanish.Stem,
}

// stemmable reports whether the Snowball stemmers of our languages apply to
// word: Latin script only. Other scripts pass through unchanged, which is
// what the stemmers would mostly do anyway, at a cost.
func stemmable(word []byte) bool {
	for _, r := range string(word) {
		if r >= 0x250 && (r < 0x1e00 || r > 0x1eff) {
			return false
		}
	}
	return true
}

// stem appends the stem of word in language lang to dst, without diacritics.
//
// The stemmers need the accents to recognise suffixes ("-ité", "-ción"), so
// they are removed only afterwards: people often type queries without them,
// and some stemmers leave them in one form of a word but not in another
// (Spanish "canción" but "canciones" → "cancion").
func stem(env *snowballstem.Env, lang int, word []byte, dst []byte) []byte {
	if !stemmable(word) {
		return append(dst, word...)
	}
	env.SetCurrent(string(word))
	stemmers[lang](env)
	s := env.Current()
	if s == "" {
		// No stemmer should empty a word; if one does, the word is
		// better than nothing.
		s = string(word)
	}
	return appendUnaccented(dst, s)
}

// appendUnaccented appends s to dst without its combining marks. Letters
// without a decomposition (ø, æ, ł) stay as they are.
func appendUnaccented(dst []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return append(dst, s...)
	}
	start := len(dst)
	dst = norm.NFD.AppendString(dst, s)
	out := dst[:start]
	for i := start; i < len(dst); {
		r, n := utf8.DecodeRune(dst[i:])
		if !unicode.Is(unicode.Mn, r) {
			out = append(out, dst[i:i+n]...)
		}
		i += n
	}
	return out
}
