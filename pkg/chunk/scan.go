package chunk

import (
	"unicode"
	"unicode/utf8"
)

// Break levels, from the worst place to cut text to the best. The packer prefers the
// highest level it can reach without leaving a chunk less than half full.
const (
	levelRune     int8 = iota // inside a word: only when one word exceeds a chunk
	levelWord                 // between words, or between two CJK characters
	levelSentence             // after a sentence, or between lines of code and table rows
	levelBlock                // between paragraphs, list items, tables and code blocks
)

// emitFunc receives one piece of a text cut at breaks: the piece, the original
// whitespace that separated it from the previous piece, and the level of that break.
type emitFunc func(text, sep string, level int8)

// scanner walks a text and reports the places where it may be cut.
type scanner struct {
	s       string
	i       int  // next byte to read
	code    bool // code and table text: line starts are strong breaks, no sentences
	started bool // a non-space rune has been read
	term    bool // the last non-space runes end a sentence
	prev    rune // the last non-space rune read
}

// next returns the next break: the text before it ends at end (its trailing
// whitespace excluded), the text after it starts at start, and level says how good a
// place to cut it is. ok is false once the text is exhausted.
func (sc *scanner) next() (end, start int, level int8, ok bool) {
	wsStart, newlines := -1, 0
	for sc.i < len(sc.s) {
		p := sc.i
		r, size := utf8.DecodeRuneInString(sc.s[p:])
		sc.i += size
		if isBreakSpace(r) {
			if wsStart < 0 {
				wsStart, newlines = p, 0
			}
			if r == '\n' {
				newlines++
			}
			continue
		}
		found := false
		if sc.started {
			switch {
			case wsStart >= 0:
				end, start, found = wsStart, p, true
				switch {
				case newlines >= 2:
					level = levelBlock
				case sc.code && newlines == 1:
					level = levelSentence
				case !sc.code && sc.term:
					level = levelSentence
				default:
					level = levelWord
				}
			case isCJKBreak(sc.prev) || isCJKBreak(r):
				end, start, found = p, p, true
				level = levelWord
				if !sc.code && sc.term {
					level = levelSentence
				}
			}
		}
		sc.started = true
		sc.prev = r
		switch {
		case isTerminator(r):
			sc.term = true
		case isCloser(r):
			// A closing quote or bracket after a full stop still ends the sentence.
		default:
			sc.term = false
		}
		if found {
			return end, start, level, true
		}
		wsStart = -1
	}
	return 0, 0, 0, false
}

// splitText cuts text into pieces of at most limit tokens: at paragraph and sentence
// breaks (line breaks for code) when that is enough, else at word breaks, and inside a
// word only when a single word is longer than limit. The first piece gets sep and level.
func splitText(text string, code bool, limit int, level int8, sep string, emit emitFunc) {
	sc := scanner{s: text, code: code}
	segStart := 0
	for {
		end, start, lvl, ok := sc.next()
		if ok && lvl < levelSentence {
			continue
		}
		if !ok {
			end = len(text)
		}
		if seg := text[segStart:end]; seg != "" {
			if CountTokens(seg) <= limit {
				emit(seg, sep, level)
			} else {
				splitWords(seg, code, limit, level, sep, emit)
			}
		}
		if !ok {
			return
		}
		segStart, sep, level = start, text[end:start], lvl
	}
}

// splitWords packs the words of text greedily into pieces of at most limit tokens.
// Word prices add up because every break sits where the counter closes a run.
func splitWords(text string, code bool, limit int, level int8, sep string, emit emitFunc) {
	sc := scanner{s: text, code: code}
	gStart, gEnd, gTok := 0, 0, 0
	gSep, gLevel := sep, level
	wStart, wSep, wLevel := 0, sep, level
	for {
		end, start, lvl, ok := sc.next()
		if !ok {
			end = len(text)
		}
		word := text[wStart:end]
		wt := CountTokens(word)
		switch {
		case wt > limit:
			if gEnd > gStart {
				emit(text[gStart:gEnd], gSep, gLevel)
			}
			splitRunes(word, limit, wLevel, wSep, emit)
			gStart, gEnd, gTok = end, end, 0
		case gEnd == gStart:
			gStart, gEnd, gTok, gSep, gLevel = wStart, end, wt, wSep, wLevel
		case gTok+wt > limit:
			emit(text[gStart:gEnd], gSep, gLevel)
			gStart, gEnd, gTok, gSep, gLevel = wStart, end, wt, wSep, wLevel
		default:
			gEnd, gTok = end, gTok+wt
		}
		if !ok {
			break
		}
		wStart, wSep, wLevel = start, text[end:start], lvl
	}
	if gEnd > gStart {
		emit(text[gStart:gEnd], gSep, gLevel)
	}
}

// splitRunes is the last resort for a word longer than a chunk (a URL, a hash, a run of
// characters with no spaces): it cuts at rune boundaries, after punctuation when there
// is some in the second half of the piece, and never before a combining mark when it
// can help it, so no UTF-8 sequence and, where possible, no grapheme is broken.
func splitRunes(word string, limit int, level int8, sep string, emit emitFunc) {
	for start := 0; start < len(word); {
		var c counter
		i, punct := start, -1
		for i < len(word) {
			r, size := utf8.DecodeRuneInString(word[i:])
			next := c
			next.add(r)
			if next.total() > limit && i > start {
				break
			}
			c = next
			i += size
			if i < len(word) && (unicode.IsPunct(r) || unicode.IsSymbol(r)) {
				punct = i
			}
		}
		end := i
		switch {
		case end == len(word):
		case punct > start && 2*(punct-start) >= end-start:
			end = punct
		default:
			end = backOffMarks(word, start, end)
		}
		emit(word[start:end], sep, level)
		start, sep, level = end, "", levelRune
	}
}

// backOffMarks moves a cut at end left so that the next piece does not start with a
// combining mark, unless that would leave the piece empty.
func backOffMarks(s string, start, end int) int {
	cut := end
	for cut > start {
		r, _ := utf8.DecodeRuneInString(s[cut:])
		if !unicode.IsMark(r) {
			return cut
		}
		_, size := utf8.DecodeLastRuneInString(s[:cut])
		cut -= size
	}
	return end
}

// overlapStart picks where the overlap carried from chunk text t into the next chunk
// begins: the longest suffix of t[from:] that starts at a word break and costs at most
// budget tokens, or a shorter one that starts a sentence when that keeps at least half
// the budget, because a whole sentence reads better than a fragment. It returns -1
// when no suffix fits. The whole of t is never returned.
func overlapStart(t string, from, budget int) (start, tokens int) {
	word, wordTok := -1, 0
	sent, sentTok := -1, 0
	tok, last := 0, len(t)
	for j := len(t); j > from; {
		r, size := utf8.DecodeLastRuneInString(t[:j])
		j -= size
		if j <= 0 {
			break
		}
		if isBreakSpace(r) {
			continue
		}
		p, _ := utf8.DecodeLastRuneInString(t[:j])
		atFrom := j == from
		if !atFrom && !isBreakSpace(p) && !isCJKBreak(p) && !isCJKBreak(r) {
			continue
		}
		tok += CountTokens(t[j:last])
		last = j
		if tok > budget {
			break
		}
		word, wordTok = j, tok
		if atFrom || startsSentence(t[:j]) {
			sent, sentTok = j, tok
		}
	}
	if sent >= 0 && 2*sentTok >= budget {
		return sent, sentTok
	}
	return word, wordTok
}

// startsSentence reports whether text following before begins a sentence or a line.
func startsSentence(before string) bool {
	i, space := len(before), false
	for i > 0 {
		r, size := utf8.DecodeLastRuneInString(before[:i])
		if !isBreakSpace(r) {
			break
		}
		if r == '\n' {
			return true
		}
		space = true
		i -= size
	}
	for i > 0 {
		r, size := utf8.DecodeLastRuneInString(before[:i])
		if isCloser(r) {
			i -= size
			continue
		}
		return isTerminator(r) && (space || isCJKBreak(r))
	}
	return false
}

// isBreakSpace is whitespace we may cut at; no-break spaces exist to prevent exactly that.
func isBreakSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || r == '\n' || r == '\t' || r == '\r' || r == '\v' || r == '\f'
	}
	return unicode.IsSpace(r) && r != '\u00a0' && r != '\u2007' && r != '\u202f'
}

// isCJKBreak reports characters of scripts written without spaces, between which a
// line may break anywhere: Han, kana, CJK punctuation and full-width forms. Hangul is
// not among them: Korean separates words with spaces.
func isCJKBreak(r rune) bool {
	if r < 0x2E80 {
		return false
	}
	return (r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF) ||
		unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r)
}

func isTerminator(r rune) bool {
	switch r {
	case '.', '!', '?', '…', '。', '！', '？', '｡', '؟', '।':
		return true
	}
	return false
}

func isCloser(r rune) bool {
	switch r {
	case '"', '\'', ')', ']', '”', '’', '»', '」', '』', '）', '】':
		return true
	}
	return false
}
