package chunk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/corpustest"
)

// countTokensReference counts s the plain way, every byte or rune through counter.
// CountTokens skips counter for runs of ASCII letters and digits, and must agree with
// it on every input: tests and the fuzz target check that it does.
func countTokensReference(s string) int {
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

// trickyTokenTexts are inputs where the ASCII fast path of CountTokens hands over to
// counter or takes over from it: runs of ASCII letters or digits next to accented
// letters, combining marks, letters of other scripts, digits of other scripts,
// ideographs, Unicode spaces and invalid or truncated UTF-8.
var trickyTokenTexts = []string{
	"", " ", "\t\v\f\r\n", "\x00\x01\x1f\x7f", "a", "abcd", "abcde", "1", "123", "1234",
	"café", "naïve", "naïve café crème brûlée", "Straße", "Größenordnungsänderungen",
	"éa", "éabcdefgh", "ééééé", "cafe\u0301", "cafe\u0301\u0301s", "e\u0301\u0301\u0301 x",
	"\u0301", "\u0301abc", "abc \u0301", "1\u0301", "123\u0301", "123\u0301abc", "\u0300\u0300",
	"ab1\u0301", "日\u0301", "abc\u302a", "12\u0663\u0664", "\u0663\u0664\u0665abc",
	"abc\u0663", "١٢٣456", "456١٢٣", "12345\u0966\u0967", "abcпривет", "приветabc",
	"abcd\u0436", "\u0436abcd", "αβγ123", "123αβγ", "abc日本", "日本abc", "日本123",
	"123日本", "안녕abc", "abc안녕", "ｶﾀｶﾅabc", "ＡＢＣＤabc", "abc１２３４", "１２３abc",
	"abc\xff", "\xffabc", "\xff", "\xe6\x97", "abc\xe6\x97", "\xe6\x97abc", "123\xff456",
	"\x80\x80abc", "abc\xc3", "\xc3\xa9", "\xc3abc", "\xed\xa0\x80abc", "\xf4\x90\x80\x80",
	"abc\u00a0def", "abc\u2003def", "abc\u3000def", "123\u00a0456", "x\u0085y", "\u0085",
	"ǅungla", "abc\ufb01x", "x²", "½", "ⅷabc", "abc👍def", "123👍", "a\u200db",
	"𝐀𝐁𝐂abc", "abc𝐀𝐁𝐂", "e.g. 1,234.56 — done", "he said “hello” and left",
	"don’t stop", "won\u2019t", "over-the-top", "a.b.c", "x=1;y=22;z=333",
	strings.Repeat("a", 1001) + "é", strings.Repeat("9", 1001) + "\u0663",
	strings.Repeat("ab ", 50) + "ö" + strings.Repeat(" cd", 50),
	"Mixed text, 日本語, привет, 12345 and emoji 👍. ",
}

func TestCountTokensMatchesReference(t *testing.T) {
	t.Parallel()
	for _, s := range trickyTokenTexts {
		require.Equal(t, countTokensReference(s), CountTokens(s), "%q", s)
	}
}

// Every string of up to four pieces drawn from a set of troublemakers, so that each
// piece is tried before and after each other one.
func TestCountTokensMatchesReferenceOnCombinations(t *testing.T) {
	t.Parallel()
	pieces := []string{"a", "bcde", "1", "234", " ", ".", "é", "\u0301", "ж", "日", "\u0663", "\u00a0", "\xff", "\xe6"}
	var walk func(prefix string, depth int)
	walk = func(prefix string, depth int) {
		require.Equal(t, countTokensReference(prefix), CountTokens(prefix), "%q", prefix)
		if depth == 4 {
			return
		}
		for _, p := range pieces {
			walk(prefix+p, depth+1)
		}
	}
	walk("", 0)
}

// Real documents in any encoding, text or binary, from every starting offset of the
// first few bytes so that the text also starts inside multi-byte sequences.
func TestCountTokensMatchesReferenceOnCorpus(t *testing.T) {
	t.Parallel()
	dir := corpustest.Dir(t)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	texts := []string{benchText(), proseText()}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		texts = append(texts, string(data))
	}
	for _, text := range texts {
		for k := range min(len(text), 4) {
			require.Equal(t, countTokensReference(text[k:]), CountTokens(text[k:]), "%.60q from byte %d", text, k)
		}
	}
}

func FuzzCountTokensMatchesReference(f *testing.F) {
	for _, s := range trickyTokenTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Every suffix of a short input, so that the fuzzer's mutations are also tried
		// with what precedes them cut off, often inside a multi-byte sequence.
		for k := range min(len(s)+1, 8) {
			if got, want := CountTokens(s[k:]), countTokensReference(s[k:]); got != want {
				t.Fatalf("CountTokens(%q) = %d, reference %d", s[k:], got, want)
			}
		}
	})
}
