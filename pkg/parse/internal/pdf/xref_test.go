package pdf

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const helloContent = "BT /F1 12 Tf 72 700 Td (Hello from the page) Tj ET"

func TestClassicXref(t *testing.T) {
	t.Parallel()
	data, offs := pdfFile(onePage(helloContent), "/Info 6 0 R")
	d := newTestDoc(data)
	require.True(t, d.readXrefChain())
	require.Equal(t, xrefEntry{kind: 0}, d.xref[0], "object 0 heads the free list")
	for i, off := range offs {
		require.Equal(t, xrefEntry{kind: 1, off: off}, d.xref[i+1], "object %d", i+1)
	}
	require.Equal(t, ref{num: 1}, d.trailer["Root"])
	require.Equal(t, ref{num: 6}, d.trailer["Info"])
	page, ok := d.resolve(ref{num: 3}).(dict)
	require.True(t, ok)
	require.Equal(t, name("Page"), page["Type"])
	require.False(t, d.scanned)
}

// TestXrefSubsections: a table in several subsections, one of them starting
// at 1 with the free entry 0 in it (a common writer bug), and an incremental
// update whose newer entries win over the older ones they follow.
func TestXrefSubsections(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("%PDF-1.4\n")
	obj := func(num int, body string) int {
		off := b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", num, body)
		return off
	}
	o1 := obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	o2 := obj(2, "(old)")
	o7 := obj(7, "(seven)")
	first := b.Len()
	fmt.Fprintf(&b, "xref\n1 3\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n7 1\n%010d 00000 n \ntrailer\n<< /Size 8 /Root 1 0 R >>\n", o1, o2, o7)
	o2new := obj(2, "(new)")
	update := b.Len()
	fmt.Fprintf(&b, "xref\n0 1\n0000000000 65535 f \n2 1\n%010d 00000 n \ntrailer\n<< /Size 8 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", o2new, first, update)

	d := newTestDoc([]byte(b.String()))
	require.True(t, d.readXrefChain())
	require.Equal(t, xrefEntry{kind: 1, off: o1}, d.xref[1], "the subsection's free entry 0 shifts the rest down")
	require.Equal(t, xrefEntry{kind: 1, off: o2new}, d.xref[2], "the newer section wins")
	require.Equal(t, xrefEntry{kind: 1, off: o7}, d.xref[7])
	require.Equal(t, str("new"), d.resolve(ref{num: 2}))
	require.Equal(t, str("seven"), d.resolve(ref{num: 7}))
}

// pngUp encodes rows of width bytes with the PNG Up predictor.
func pngUp(rows []byte, width int) []byte {
	var out []byte
	prev := make([]byte, width)
	for r := 0; r < len(rows); r += width {
		out = append(out, 2)
		for i := range width {
			out = append(out, rows[r+i]-prev[i])
		}
		prev = rows[r : r+width]
	}
	return out
}

// xrefStreamFile assembles a PDF whose page objects (1 to 3 and the font 5)
// are compressed in an object stream (object 6), located by an xref stream
// (object 7) that is Flate-encoded with the PNG Up predictor, as writers
// usually do. Only the content (4) and the two streams are plain objects.
func xrefStreamFile(t testing.TB, index string) []byte {
	t.Helper()
	objs := onePage(helloContent)
	inner := []int{1, 2, 3, 5}
	var header, body strings.Builder
	for _, num := range inner {
		fmt.Fprintf(&header, "%d %d ", num, body.Len())
		body.WriteString(objs[num-1] + "\n")
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n")
	offs := map[int]int{}
	write := func(num int, src string) {
		offs[num] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", num, src)
	}
	write(4, objs[3])
	write(6, streamObj(fmt.Sprintf("/Type /ObjStm /N %d /First %d", len(inner), header.Len()), []byte(header.String()+body.String())))
	offs[7] = b.Len()
	// Entries of 1 + 4 + 2 bytes: type, offset or object stream, generation or index.
	entry := func(kind byte, field2, field3 int) []byte {
		return []byte{kind, byte(field2 >> 24), byte(field2 >> 16), byte(field2 >> 8), byte(field2), byte(field3 >> 8), byte(field3)}
	}
	rows := entry(0, 0, 65535)
	for num := 1; num <= 7; num++ {
		switch num {
		case 4, 6, 7:
			rows = append(rows, entry(1, offs[num], 0)...)
		default:
			idx := map[int]int{1: 0, 2: 1, 3: 2, 5: 3}[num]
			rows = append(rows, entry(2, 6, idx)...)
		}
	}
	z := zlibBytes(t, pngUp(rows, 7))
	fmt.Fprintf(&b, "7 0 obj\n%s\nendobj\n", streamObj("/Type /XRef /Size 8 /W [1 4 2] "+index+" /Root 1 0 R /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 7 >>", z))
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", offs[7])
	return b.Bytes()
}

func TestXrefStream(t *testing.T) {
	t.Parallel()
	for _, index := range []string{"", "/Index [0 8]"} {
		t.Run("index "+index, func(t *testing.T) {
			t.Parallel()
			data := xrefStreamFile(t, index)
			d := newTestDoc(data)
			require.True(t, d.readXrefChain())
			require.Equal(t, xrefEntry{kind: 2, stm: 6, idx: 2}, d.xref[3])
			require.Equal(t, uint8(1), d.xref[4].kind)
			require.Equal(t, ref{num: 1}, d.trailer["Root"], "the xref stream's dictionary is the trailer")
			// Objects in the object stream resolve through it.
			page, ok := d.resolve(ref{num: 3}).(dict)
			require.True(t, ok)
			require.Equal(t, name("Page"), page["Type"])
			require.False(t, d.scanned)

			require.Equal(t, []string{"Hello from the page"}, extractText(t, data))
		})
	}
}

func TestXrefRepair(t *testing.T) {
	t.Parallel()
	good, offs := pdfFile(onePage(helloContent), "")
	xrefAt := bytes.Index(good, []byte("xref\n"))
	cases := []struct {
		name string
		data []byte
	}{
		{"startxref points at garbage", bytes.Replace(good, []byte(fmt.Sprintf("startxref\n%d", xrefAt)), []byte("startxref\n7"), 1)},
		{"no startxref", good[:bytes.Index(good, []byte("startxref"))]},
		{"offsets in the table are wrong", bytes.Replace(good, []byte(fmt.Sprintf("%010d", offs[2])), []byte(fmt.Sprintf("%010d", offs[2]+3)), 1)},
		{"no table and no trailer: the catalog is found by type", good[:xrefAt]},
		{"objects moved after the table was written", bytes.Replace(good, []byte("%PDF-1.4\n"), []byte("%PDF-1.4\n% a comment inserted later\n"), 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, []string{"Hello from the page"}, extractText(t, tc.data))
			d := newTestDoc(tc.data)
			d.load()
			_ = d.resolve(ref{num: 3})
			require.True(t, d.scanned, "the file was scanned for objects")
			require.Equal(t, ref{num: 1}, d.trailer["Root"])
		})
	}
}

// TestScanKeepsLastDefinition: objects appended by an update without a new
// table are found by scanning, and the last definition wins.
func TestScanKeepsLastDefinition(t *testing.T) {
	t.Parallel()
	data, _ := pdfFile(onePage(helloContent), "")
	data = append(data[:bytes.Index(data, []byte("xref\n"))], "4 0 obj\n"+streamObj("", []byte("BT /F1 12 Tf 72 700 Td (Updated text) Tj ET"))+"\nendobj\n"...)
	require.Equal(t, []string{"Updated text"}, extractText(t, data))
}

// TestScanFindsCompressedObjects: with the xref stream lost, objects inside
// object streams are still found through the streams the scan turns up.
func TestScanFindsCompressedObjects(t *testing.T) {
	t.Parallel()
	data := xrefStreamFile(t, "")
	data = bytes.Replace(data, []byte("/Type /XRef"), []byte("/Type /Junk"), 1)
	d := newTestDoc(data)
	d.load()
	require.True(t, d.scanned)
	require.Equal(t, xrefEntry{kind: 2, stm: 6, idx: d.objStm(6).offs[3]}, d.xref[3])
	require.Equal(t, []string{"Hello from the page"}, extractText(t, data))
}

func TestHeaderBefore(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src       string
		num, from int
		ok        bool
	}{
		{"12 0 obj", 12, 0, true},
		{"x\n7 3 obj", 7, 2, true},
		{"(a)15  0\r\nobj", 15, 3, true},
		{"endobj", 0, 0, false},
		{"a12 0 obj", 0, 0, false},
		{"12 obj", 0, 0, false},
		{"12345678901 0 obj", 0, 0, false},
	}
	for _, tc := range cases {
		at := strings.LastIndex(tc.src, "obj")
		num, from, ok := headerBefore([]byte(tc.src), at)
		require.Equal(t, tc.ok, ok, tc.src)
		if ok {
			require.Equal(t, tc.num, num, tc.src)
			require.Equal(t, tc.from, from, tc.src)
		}
	}
}
