package pdf

import (
	"bytes"
	"compress/flate"
	"compress/lzw"
	"compress/zlib"
	"context"
	"encoding/ascii85"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func zlibBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	_, err := w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func deflateBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// decode runs the stream with the given dictionary (PDF syntax) and data
// through the reader's filters.
func decode(t *testing.T, d *doc, dictSrc string, raw []byte) ([]byte, error) {
	t.Helper()
	dic, ok := parseObject(t, dictSrc).(dict)
	require.True(t, ok, "not a dictionary: %s", dictSrc)
	out, held, err := d.decodeStream(&stream{dict: dic, raw: raw})
	d.release(held)
	return out, err
}

func TestFilters(t *testing.T) {
	t.Parallel()
	text := []byte(strings.Repeat("BT /F1 12 Tf (decoded text) Tj ET\n", 40))
	lzwMSB := func(data []byte) []byte {
		var buf bytes.Buffer
		w := lzw.NewWriter(&buf, lzw.MSB, 8)
		_, _ = w.Write(data)
		_ = w.Close()
		return buf.Bytes()
	}
	a85 := make([]byte, ascii85.MaxEncodedLen(len(text)))
	a85 = append(a85[:ascii85.Encode(a85, text)], "~>"...)
	cases := []struct {
		name string
		dict string
		raw  []byte
		want []byte
	}{
		{"no filter is the data itself", "<< >>", []byte("raw"), []byte("raw")},
		{"flate", "<< /Filter /FlateDecode >>", zlibBytes(t, text), text},
		{"flate abbreviated", "<< /Filter /Fl >>", zlibBytes(t, text), text},
		{"flate without the zlib header", "<< /Filter /FlateDecode >>", deflateBytes(t, text), text},
		{"flate with a damaged zlib header", "<< /Filter /FlateDecode >>", append([]byte{0x12, 0x34}, deflateBytes(t, text)...), text},
		{"flate keeps what decodes before damage", "<< /Filter /FlateDecode >>",
			func() []byte { z := zlibBytes(t, text); return z[:len(z)-6] }(), text},
		{"ascii hex with spaces, lower case and its end marker", "<< /Filter /ASCIIHexDecode >>", []byte("48 65 6c6C\n6F>junk"), []byte("Hello")},
		{"ascii hex odd digit count pads with zero", "<< /Filter /AHx >>", []byte("414>"), []byte("A@")},
		{"ascii85", "<< /Filter /ASCII85Decode >>", a85, text},
		{"ascii85 z is four zeros, a short group decodes partly", "<< /Filter /A85 >>", []byte("z87cURD]i,\"Ebo8~>"), append([]byte{0, 0, 0, 0}, "Hello World"...)},
		{"run length: literal, repeat, end of data", "<< /Filter /RunLengthDecode >>", []byte{2, 'a', 'b', 'c', 254, 'x', 128, 'j', 'u', 'n', 'k'}, []byte("abcxxx")},
		{"lzw, the example of the PDF reference", "<< /Filter /LZWDecode >>", []byte{0x80, 0x0B, 0x60, 0x50, 0x22, 0x0C, 0x0C, 0x85, 0x01}, []byte("-----A---B")},
		{"lzw without early change", "<< /Filter /LZWDecode /DecodeParms << /EarlyChange 0 >> >>", lzwMSB(text), text},
		{"a chain of filters, outermost first", "<< /Filter [/ASCIIHexDecode /FlateDecode] >>",
			[]byte(strings.ToUpper(hexOf(zlibBytes(t, text))) + ">"), text},
		{"crypt filter passes data through", "<< /Filter /Crypt >>", []byte("as is"), []byte("as is")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := decode(t, newTestDoc(nil), tc.dict, tc.raw)
			require.NoError(t, err)
			require.Equal(t, string(tc.want), string(got))
		})
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestLZWEarlyChange: PDF's default LZW widens codes one entry early;
// compress/lzw widens them on time, which is EarlyChange 0. Past 512 codes
// reading one as the other garbles the text.
func TestLZWEarlyChange(t *testing.T) {
	t.Parallel()
	var src strings.Builder
	for i := range 3000 {
		src.WriteString(string(rune('a' + i*7%26)))
		src.WriteString(string(rune('A' + i*11%26)))
	}
	var buf bytes.Buffer
	w := lzw.NewWriter(&buf, lzw.MSB, 8)
	_, err := w.Write([]byte(src.String()))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	late, err := decodeLZW(buf.Bytes(), false, 1<<20)
	require.NoError(t, err)
	require.Equal(t, src.String(), string(late))
	early, _ := decodeLZW(buf.Bytes(), true, 1<<20)
	require.NotEqual(t, src.String(), string(early))
}

func TestPredictors(t *testing.T) {
	t.Parallel()
	// Two rows of three bytes; each row starts with its PNG filter type.
	cases := []struct {
		name  string
		parms string
		data  []byte
		want  []byte
	}{
		{"png none", "<< /Predictor 12 /Columns 3 >>", []byte{0, 1, 2, 3, 0, 4, 5, 6}, []byte{1, 2, 3, 4, 5, 6}},
		{"png sub adds the byte to the left", "<< /Predictor 11 /Columns 3 >>", []byte{1, 1, 1, 1, 1, 5, 0, 0}, []byte{1, 2, 3, 5, 5, 5}},
		{"png up adds the byte above", "<< /Predictor 12 /Columns 3 >>", []byte{2, 1, 2, 3, 2, 1, 1, 1}, []byte{1, 2, 3, 2, 3, 4}},
		{"png average of left and above, rounded down", "<< /Predictor 13 /Columns 3 >>", []byte{3, 2, 2, 2, 3, 1, 1, 1}, []byte{2, 3, 3, 2, 3, 4}},
		{"png paeth picks the neighbour nearest the estimate", "<< /Predictor 14 /Columns 3 >>", []byte{4, 1, 2, 3, 4, 1, 1, 1}, []byte{1, 3, 6, 2, 4, 7}},
		{"png with two colours per pixel", "<< /Predictor 12 /Colors 2 /Columns 2 >>", []byte{1, 1, 2, 3, 4}, []byte{1, 2, 4, 6}},
		{"tiff adds the byte to the left", "<< /Predictor 2 /Columns 3 >>", []byte{1, 1, 1, 5, 0, 0}, []byte{1, 2, 3, 5, 5, 5}},
		{"no predictor", "<< /Predictor 1 >>", []byte{9, 9}, []byte{9, 9}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parms, _ := parseObject(t, tc.parms).(dict)
			got, err := unpredict(tc.data, parms)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			// Through the filter too: predictors follow Flate.
			got, err = decode(t, newTestDoc(nil), "<< /Filter /FlateDecode /DecodeParms "+tc.parms+" >>", zlibBytes(t, tc.data))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestFilterFailures(t *testing.T) {
	t.Parallel()
	t.Run("unknown filter", func(t *testing.T) {
		t.Parallel()
		_, err := decode(t, newTestDoc(nil), "<< /Filter /NoSuchDecode >>", []byte("x"))
		require.ErrorContains(t, err, "unknown filter NoSuchDecode")
		require.False(t, stopsDocument(err), "one bad stream leaves the rest of the page")
	})
	t.Run("image filters hold no text", func(t *testing.T) {
		t.Parallel()
		for _, f := range []string{"DCTDecode", "JPXDecode", "CCITTFaxDecode", "JBIG2Decode"} {
			_, err := decode(t, newTestDoc(nil), "<< /Filter /"+f+" >>", []byte("x"))
			require.ErrorIs(t, err, errImageFilter, f)
		}
	})
	t.Run("too short for flate", func(t *testing.T) {
		t.Parallel()
		_, err := decode(t, newTestDoc(nil), "<< /Filter /FlateDecode >>", []byte{1})
		require.Error(t, err)
		require.False(t, stopsDocument(err))
	})
}

// TestFilterCaps: decoded bytes are bounded per stream and per document, and
// the bound stops the document, as a decompression bomb must.
func TestFilterCaps(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789"), 10_000) // 100 KB
	limited := func(maxInflated int64) *doc {
		return newDoc(context.Background(), nil, &testBudget{}, Limits{MaxInflatedBytes: maxInflated})
	}
	cases := []struct {
		name, dict string
		raw        []byte
		message    string
	}{
		{"flate", "<< /Filter /FlateDecode >>", zlibBytes(t, big), "a PDF stream inflates past 50001 bytes (decompression bomb)"},
		{"lzw", "<< /Filter /LZWDecode /DecodeParms << /EarlyChange 0 >> >>",
			func() []byte {
				var buf bytes.Buffer
				w := lzw.NewWriter(&buf, lzw.MSB, 8)
				_, _ = w.Write(big)
				_ = w.Close()
				return buf.Bytes()
			}(), "a PDF stream inflates past 50001 bytes (decompression bomb)"},
		{"run length", "<< /Filter /RunLengthDecode >>", bytes.Repeat([]byte{129, 'x'}, 2000), "the archive inflates to more than 50000 bytes (decompression bomb)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := decode(t, limited(50_000), tc.dict, tc.raw)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, KindTooLarge, e.Kind)
			require.Equal(t, tc.message, e.Message)
			require.True(t, stopsDocument(err))
		})
	}
	t.Run("the total over several streams", func(t *testing.T) {
		t.Parallel()
		d := limited(250_000)
		for range 2 {
			_, err := decode(t, d, "<< /Filter /FlateDecode >>", zlibBytes(t, big))
			require.NoError(t, err)
		}
		_, err := decode(t, d, "<< /Filter /FlateDecode >>", zlibBytes(t, big))
		require.True(t, stopsDocument(err), "error: %v", err)
	})
	t.Run("the memory budget", func(t *testing.T) {
		t.Parallel()
		d := newDoc(context.Background(), nil, &testBudget{limit: 64 << 10}, Limits{})
		_, err := decode(t, d, "<< /Filter /FlateDecode >>", zlibBytes(t, big))
		require.True(t, errors.Is(err, errTestBudget), "error: %v", err)
		require.True(t, stopsDocument(err))
		require.ErrorIs(t, d.failed(), errTestBudget, "the failure is kept for the document")
	})
}
