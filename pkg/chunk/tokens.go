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
func CountTokens(s string) int {
	var c counter
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			c.addASCII(b)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		c.add(r)
		i += size
	}
	return c.total()
}

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
