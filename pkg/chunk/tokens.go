package chunk

import (
	"unicode"
	"unicode/utf8"
)

// CountTokens estimates how many tokens a BPE tokenizer (the GPT, Llama, Qwen and
// Mistral families) produces for s. Exact counts depend on the model's vocabulary,
// which we do not ship; the estimate errs on the high side for ordinary prose so that
// budgets computed with it are safe. The rules:
//
//   - whitespace costs nothing (BPE merges it into the following word);
//   - a run of Latin letters costs one token per four letters, rounded up per word;
//   - a run of letters of other alphabetic scripts (Cyrillic, Greek, Arabic, ...)
//     costs one token per two letters, rounded up, since vocabularies hold fewer
//     merges for them; combining marks belong to the letter they follow;
//   - a run of digits costs one token per three digits, rounded up;
//   - each Han, kana or Hangul character costs one token;
//   - every other character (punctuation, symbols, emoji, invalid bytes) costs one.
//
// It does not allocate and runs in one pass over s.
//
// Most text is ASCII, so runs of ASCII letters and digits are priced in one step and
// only text around non-ASCII bytes goes through counter rune by rune: a run followed by
// such a byte may go on with an accented letter, a combining mark or a digit of
// another script, which only counter knows how to price.
func CountTokens(s string) int {
	tokens := 0
	for i := 0; i < len(s); {
		switch byteClasses[s[i]] {
		case classSpace:
			i++
		case classOther:
			tokens++
			i++
		case classLetter:
			j := i + 1
			for j < len(s) && byteClasses[s[j]] == classLetter {
				j++
			}
			if j < len(s) && s[j] >= utf8.RuneSelf {
				// counter as it would be after the j-i letters.
				n, next := countSlow(s, j, counter{run: runWord, latin: j - i})
				tokens, i = tokens+n, next
				continue
			}
			// An ASCII byte other than a letter ends the word, so its price is final.
			tokens += (j - i + 3) / 4
			i = j
		case classDigit:
			j := i + 1
			for j < len(s) && byteClasses[s[j]] == classDigit {
				j++
			}
			if j < len(s) && s[j] >= utf8.RuneSelf {
				// counter as it would be after the j-i digits.
				n, next := countSlow(s, j, counter{run: runDigits, digits: j - i})
				tokens, i = tokens+n, next
				continue
			}
			// An ASCII byte other than a digit ends the number.
			tokens += (j - i + 2) / 3
			i = j
		default:
			n, next := countSlow(s, i, counter{})
			tokens, i = tokens+n, next
		}
	}
	return tokens
}

// countSlow goes on counting s from offset i with c, rune by rune, until c holds no run
// in progress and the next byte is ASCII, where the fast path of CountTokens can take
// over again. It returns the tokens counted by c and the offset where it stopped.
func countSlow(s string, i int, c counter) (tokens, next int) {
	for i < len(s) {
		if b := s[i]; b < utf8.RuneSelf {
			c.addASCII(b)
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			c.add(r)
			i += size
		}
		if c.run == runNone && (i == len(s) || s[i] < utf8.RuneSelf) {
			// With no run in progress, everything c counted is final.
			return c.done, i
		}
	}
	return c.total(), i
}

// Byte classes for the fast path of CountTokens, matching counter.addASCII.
const (
	classOther  = iota // ASCII punctuation, symbols and controls: a token each
	classSpace         // free
	classLetter        // Latin letter: part of a word
	classDigit         // part of a number
	classHigh          // starts a multi-byte character, or is invalid: left to counter
)

var byteClasses = func() (t [256]uint8) {
	for b := range 256 {
		switch {
		case b >= utf8.RuneSelf:
			t[b] = classHigh
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z':
			t[b] = classLetter
		case '0' <= b && b <= '9':
			t[b] = classDigit
		case b == ' ', b == '\n', b == '\t', b == '\r', b == '\v', b == '\f':
			t[b] = classSpace
		default:
			t[b] = classOther
		}
	}
	return t
}()

// Run kinds tracked by counter: a word or a number is priced as a whole.
const (
	runNone = iota
	runWord
	runDigits
)

// counter is the state machine behind CountTokens. It is a value type so callers that
// cut text at a token budget can try a rune on a copy before committing to it.
type counter struct {
	done   int // tokens of finished runs and single characters
	run    int // kind of the run in progress
	latin  int // Latin letters in the word in progress
	other  int // letters of other scripts in the word in progress
	digits int // digits in the number in progress
}

// pending is the price of the run in progress.
func (c *counter) pending() int {
	switch c.run {
	case runWord:
		return (c.latin + 2*c.other + 3) / 4
	case runDigits:
		return (c.digits + 2) / 3
	}
	return 0
}

func (c *counter) total() int { return c.done + c.pending() }

func (c *counter) flush() {
	c.done += c.pending()
	c.run, c.latin, c.other, c.digits = runNone, 0, 0, 0
}

func (c *counter) addASCII(b byte) {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z':
		c.letter(true)
	case '0' <= b && b <= '9':
		c.digit()
	case b == ' ', b == '\n', b == '\t', b == '\r', b == '\v', b == '\f':
		c.flush()
	default:
		c.flush()
		c.done++
	}
}

func (c *counter) add(r rune) {
	if r < utf8.RuneSelf {
		c.addASCII(byte(r))
		return
	}
	switch {
	case unicode.IsSpace(r):
		c.flush()
	case isIdeographic(r):
		c.flush()
		c.done++
	case unicode.IsLetter(r):
		c.letter(unicode.Is(unicode.Latin, r))
	case unicode.IsMark(r):
		if c.run != runWord {
			c.flush()
			c.done++
		}
	case unicode.IsDigit(r):
		c.digit()
	default:
		c.flush()
		c.done++
	}
}

func (c *counter) letter(latin bool) {
	if c.run != runWord {
		c.flush()
		c.run = runWord
	}
	if latin {
		c.latin++
	} else {
		c.other++
	}
}

func (c *counter) digit() {
	if c.run != runDigits {
		c.flush()
		c.run = runDigits
	}
	c.digits++
}

// isIdeographic reports characters that tokenizers price one by one: Han, kana, Hangul.
func isIdeographic(r rune) bool {
	return r >= 0x1100 && (unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r))
}
