package chunk

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCountTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"empty", "", 0},
		{"whitespace is free", " \t\n\r ", 0},
		{"short word", "a", 1},
		{"four letters", "word", 1},
		{"five letters round up", "hello", 2},
		{"words add up", "hello world", 4},
		{"punctuation costs one each", "Hello, world!", 6},
		{"latin accents count as latin", "naïve café", 3},
		{"combining marks are free inside a word", "cafe\u0301", 1},
		{"other scripts cost a token per two letters", "привет", 3},
		{"greek", "αβγ", 2},
		{"digits grouped by three", "1234567", 3},
		{"digits and letters are separate runs", "abc123", 2},
		{"han one per character", "日本語", 3},
		{"kana one per character", "ひらがなカタカナ", 8},
		{"hangul one per syllable", "안녕 하세요", 5},
		{"emoji is a symbol", "ok 👍", 2},
		{"invalid byte costs one", "a\xffb", 3},
		{"no-break space separates words", "abcd\u00a0abcd", 2},
		{"sentence", "The quick brown fox jumps over the lazy dog.", 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, CountTokens(tt.in))
		})
	}
}

// Not parallel: AllocsPerRun refuses to run beside parallel tests.
func TestCountTokensDoesNotAllocate(t *testing.T) {
	text := strings.Repeat("Mixed text, 日本語, привет, 12345 and emoji 👍. ", 50)
	allocs := testing.AllocsPerRun(100, func() { _ = CountTokens(text) })
	require.Zero(t, allocs)
}

// The packer sums the prices of pieces cut at breaks; that sum must never be below
// the price of the joined text, or chunks could exceed their budget.
func TestCountTokensPiecesNeverUnderestimateTheWhole(t *testing.T) {
	t.Parallel()
	texts := []string{
		"Plain words, with punctuation. And sentences!",
		"漢字かな交じり文。次の文です。",
		"abc漢字123字def",
		strings.Repeat("x", 97),
	}
	for _, text := range texts {
		sum := 0
		splitText(text, false, 3, levelBlock, "", func(piece, _ string, _ int8) {
			sum += CountTokens(piece)
		})
		require.GreaterOrEqual(t, sum, CountTokens(text), text)
	}
}

func BenchmarkCountTokens(b *testing.B) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog; 日本語のテキスト 12345. ", 200)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		_ = CountTokens(text)
	}
}
