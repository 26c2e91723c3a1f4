package parse

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// streamText reads data as the text parsers do: as a stream, decoded as
// declared by charset (or sniffed) and cleaned.
func streamText(t *testing.T, data []byte, charset string) string {
	t.Helper()
	b := newBudget(context.Background(), DefaultLimits())
	r, err := openText(bytes.NewReader(data), int64(len(data)), charset, b)
	require.NoError(t, err)
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(out)
}

func TestDecodeText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"utf-8", []byte("Grüße"), "Grüße"},
		{"utf-8 bom", []byte("\xEF\xBB\xBFhi"), "hi"},
		{"utf-16le bom", []byte("\xFF\xFEh\x00\xe9\x00"), "hé"},
		{"utf-16be bom", []byte("\xFE\xFF\x00h\x00\xe9"), "hé"},
		{"utf-32le bom", []byte("\xFF\xFE\x00\x00h\x00\x00\x00"), "h"},
		{"utf-32be bom", []byte("\x00\x00\xFE\xFF\x00\x00\x00h"), "h"},
		{"utf-16le no bom", []byte("h\x00e\x00l\x00l\x00o\x00 \x00w\x00o\x00r\x00l\x00d\x00"), "hello world"},
		{"utf-16be no bom", []byte("\x00h\x00e\x00l\x00l\x00o\x00 \x00w\x00o\x00r\x00l\x00d"), "hello world"},
		{"windows-1252 fallback", []byte("caf\xe9 \x80 \x93q\x94"), "café € “q”"},
		{"newlines and controls", []byte("a\r\nb\rc\x00d\x1b\x7fe\u2028f\uFEFF"), "a\nb\ncde\nf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, streamText(t, tc.in, ""))
		})
	}
}

func TestDecodeWithCharset(t *testing.T) {
	t.Parallel()
	require.Equal(t, "Привет", streamText(t, []byte("\xcf\xf0\xe8\xe2\xe5\xf2"), "windows-1251"))
	require.Equal(t, "Grüße", streamText(t, []byte("Gr\xfc\xdfe"), "iso-8859-1"))
	// Mislabelled: declared UTF-8 but really Latin-1.
	require.Equal(t, "Grüße", streamText(t, []byte("Gr\xfc\xdfe"), "utf-8"))
	// Unknown label: sniffed.
	require.Equal(t, "ok", streamText(t, []byte("ok"), "x-unknown"))
	// A BOM wins over the label.
	require.Equal(t, "hi", streamText(t, []byte("\xFF\xFEh\x00i\x00"), "iso-8859-1"))
}

// TestDecodeStreamMatchesWholeText checks that decoding in chunks gives what
// decoding the whole text at once gives, with what chunking can cut in two (a
// CR LF pair, a multi-byte rune, a run of invalid bytes) at every offset around
// the decoder's and the validator's chunk boundaries.
func TestDecodeStreamMatchesWholeText(t *testing.T) {
	t.Parallel()
	pieces := []string{"\r\n", "é", "€", "🙂", "\r", "\u2028", "\xff\xfe\xfd", "\uFEFF", "\x85"}
	for _, boundary := range []int{4096, 64 << 10} {
		for shift := -4; shift <= 4; shift++ {
			for _, p := range pieces {
				data := []byte(strings.Repeat("a", boundary+shift) + p + "tail\r")
				for _, bom := range []string{"", "\xEF\xBB\xBF"} {
					in := append([]byte(bom), data...)
					e, err := sniffStream(bytes.NewReader(in), int64(len(in)), "", newBudget(context.Background(), Limits{}))
					require.NoError(t, err)
					want, got := cleanText(e.decode(in)), streamText(t, in, "")
					if want != got {
						t.Fatalf("piece %q at %d%+d, bom %q: got ...%q, want ...%q", p, boundary, shift, bom, got[max(0, len(got)-12):], want[max(0, len(want)-12):])
					}
				}
			}
		}
	}
}

func TestLooksLikeText(t *testing.T) {
	t.Parallel()
	require.True(t, looksLikeText([]byte("plain words\n")))
	require.True(t, looksLikeText([]byte("K\xf6nnen")))
	require.True(t, looksLikeText([]byte("\xFF\xFEh\x00i\x00")))
	require.True(t, looksLikeText([]byte("truncated rune at the end \xe2\x82")))
	require.False(t, looksLikeText([]byte("\x00\x01\x02\x03\x04\x05binary\x06\x07\x08\x0e\x0f")))
}
