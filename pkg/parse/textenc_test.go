package parse

import (
	"testing"

	"github.com/stretchr/testify/require"
)

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
			require.Equal(t, tc.want, decodeText(tc.in))
		})
	}
}

func TestDecodeWithCharset(t *testing.T) {
	t.Parallel()
	require.Equal(t, "Привет", decodeWithCharset([]byte("\xcf\xf0\xe8\xe2\xe5\xf2"), "windows-1251"))
	require.Equal(t, "Grüße", decodeWithCharset([]byte("Gr\xfc\xdfe"), "iso-8859-1"))
	// Mislabelled: declared UTF-8 but really Latin-1.
	require.Equal(t, "Grüße", decodeWithCharset([]byte("Gr\xfc\xdfe"), "utf-8"))
	// Unknown label: sniffed.
	require.Equal(t, "ok", decodeWithCharset([]byte("ok"), "x-unknown"))
	// A BOM wins over the label.
	require.Equal(t, "hi", decodeWithCharset([]byte("\xFF\xFEh\x00i\x00"), "iso-8859-1"))
}

func TestLooksLikeText(t *testing.T) {
	t.Parallel()
	require.True(t, looksLikeText([]byte("plain words\n")))
	require.True(t, looksLikeText([]byte("K\xf6nnen")))
	require.True(t, looksLikeText([]byte("\xFF\xFEh\x00i\x00")))
	require.True(t, looksLikeText([]byte("truncated rune at the end \xe2\x82")))
	require.False(t, looksLikeText([]byte("\x00\x01\x02\x03\x04\x05binary\x06\x07\x08\x0e\x0f")))
}
