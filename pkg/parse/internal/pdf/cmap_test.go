package pdf

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// toUnicode is a ToUnicode CMap with one- and two-byte codes, the way
// subsetting writers emit them.
const toUnicode = `/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CMapName /Test-UCS def
2 begincodespacerange
<00> <80>
<8140> <9FFC>
endcodespacerange
4 beginbfchar
<01> <0041>
<02> /fi
<8141> <D83DDE00>
<03> <00660066>
endbfchar
3 beginbfrange
<10> <12> <0061>
<20> <22> [<0058> <0059> <005A0301>]
<30> <2F> <0041>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end`

func TestCMapText(t *testing.T) {
	t.Parallel()
	m := parseCMapData([]byte(toUnicode), 0, nil)
	cases := []struct {
		code uint32
		want string
		ok   bool
	}{
		{0x01, "A", true},
		{0x02, "\uFB01", true},       // a glyph name as destination
		{0x8141, "\U0001F600", true}, // a surrogate pair
		{0x03, "ff", true},           // one code, two characters
		{0x10, "a", true},            // a range counts up from its start
		{0x12, "c", true},            //
		{0x13, "", false},            // past the range
		{0x20, "X", true},            // a range mapped to an array, one string per code
		{0x22, "Z\u0301", true},      //
		{0x30, "", false},            // a range ending before its start is dropped
		{0x7F, "", false},            // in the codespace, not mapped
	}
	for _, tc := range cases {
		got, ok := m.text(tc.code)
		require.Equal(t, tc.ok, ok, "code %#x", tc.code)
		require.Equal(t, tc.want, got, "code %#x", tc.code)
	}
}

func TestCMapCodeLength(t *testing.T) {
	t.Parallel()
	m := parseCMapData([]byte(toUnicode), 0, nil)
	cases := []struct {
		in   []byte
		want int
	}{
		{[]byte{0x41, 0x81}, 1},       // in <00>-<80>
		{[]byte{0x81, 0x41}, 2},       // in <8140>-<9FFC>
		{[]byte{0x9F, 0xFC, 0x01}, 2}, //
		{[]byte{0xA0, 0x00}, 3},       // in no range: the fallback
		{[]byte{0x81}, 3},             // a two-byte range cut short
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, m.codeLen(tc.in, 3), "% x", tc.in)
	}
	var none *cmap
	require.Equal(t, 2, none.codeLen([]byte{1, 2}, 2), "no map: the fallback")
}

func TestCMapCIDs(t *testing.T) {
	t.Parallel()
	m := parseCMapData([]byte(`1 begincodespacerange <0000> <FFFF> endcodespacerange
2 begincidrange <0000> <00FF> 100 <1000> <1010> 5000 endcidrange
1 begincidchar <0101> 7 endcidchar`), 0, nil)
	for code, want := range map[uint32]uint32{0x0000: 100, 0x0041: 165, 0x0101: 7, 0x1005: 5005} {
		got, ok := m.cidOf(code)
		require.True(t, ok, "code %#x", code)
		require.Equal(t, want, got, "code %#x", code)
	}
	_, ok := m.cidOf(0x2000)
	require.False(t, ok)
}

// TestCMapBounds: a CMap stops growing when the budget says no, and huge
// ranges are refused rather than expanded.
func TestCMapBounds(t *testing.T) {
	t.Parallel()
	var src strings.Builder
	src.WriteString("100 beginbfchar\n")
	for i := range 100 {
		fmt.Fprintf(&src, "<%02X> <%04X>\n", i, 'A'+i)
	}
	src.WriteString("endbfchar\n1 beginbfrange <0000> <FFFFFF> <0041> endbfrange")
	spent := int64(0)
	m := parseCMapData([]byte(src.String()), 0, func(n int64) bool {
		spent += n
		return spent <= 10*(costEntry+1)
	})
	require.Len(t, m.uni, 10, "entries kept before the budget said no")
	require.Empty(t, m.uniRanges)

	m = parseCMapData([]byte(src.String()), 0, nil)
	require.Len(t, m.uni, 100)
	require.Empty(t, m.uniRanges, "a range of 16 million codes is refused")
}

// TestCompositeFontDecode: a Type0 font splits shown strings into codes by
// its encoding's codespace and maps them through ToUnicode; widths come per
// CID from W, else DW.
func TestCompositeFontDecode(t *testing.T) {
	t.Parallel()
	f := &font{
		composite: true,
		toUni:     parseCMapData([]byte(toUnicode), 0, nil),
		encoding:  parseCMapData([]byte(toUnicode), 0, nil),
		widths:    map[uint32]float64{0x01: 250},
		dw:        1000,
		scale:     0.001,
	}
	glyphs := f.decode([]byte{0x01, 0x81, 0x41, 0x02, 0x11})
	var texts []string
	var widths []float64
	for _, g := range glyphs {
		texts = append(texts, g.text)
		widths = append(widths, g.width)
	}
	require.Equal(t, []string{"A", "\U0001F600", "fi", "b"}, texts, "ligatures are spelled out")
	require.Equal(t, []float64{0.25, 1, 1, 1}, widths)
}

// TestToUnicodeInAFile: a Type0 font with Identity-H codes and a
// Flate-compressed ToUnicode stream, read end to end.
func TestToUnicodeInAFile(t *testing.T) {
	t.Parallel()
	cmapSrc := `begincmap 1 begincodespacerange <0000> <FFFF> endcodespacerange
2 beginbfrange <0003> <0005> <0048> <0010> <0011> [<00E9> <0020>] endbfrange endcmap`
	objs := onePage("BT /F1 12 Tf 72 700 Td <000300040005001000110004> Tj ET")
	objs[4] = "<< /Type /Font /Subtype /Type0 /BaseFont /Sub+Font /Encoding /Identity-H /DescendantFonts [6 0 R] /ToUnicode 7 0 R >>"
	objs = append(objs,
		"<< /Type /Font /Subtype /CIDFontType2 /DW 600 >>",
		streamObj("/Filter /FlateDecode", zlibBytes(t, []byte(cmapSrc))))
	data, _ := pdfFile(objs, "")
	require.Equal(t, []string{"HIJé I"}, extractText(t, data))
}
