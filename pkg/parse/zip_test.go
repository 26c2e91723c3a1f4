package parse

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"hash/crc32"
	"runtime"
	"testing"
	"time"

	"github.com/youworker/youworker/pkg/corpustest"

	"github.com/stretchr/testify/require"
)

// zipPart is one entry of a test archive.
type zipPart struct {
	name, body string
}

// buildZip writes parts into an in-memory ZIP archive.
func buildZip(t testing.TB, parts ...zipPart) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		// Stored, not deflated: a flate writer per entry makes big archives slow to build.
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(p.body)); err != nil {
			t.Fatal(err)
		}
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// zerosDeflate returns a raw deflate stream of a small XML prefix then n MiB of
// ASCII zeros, without ever holding them: independently compressed, sync-flushed
// segments concatenate into one valid stream. The zeros sit inside a text run, so
// the XML stays well-formed and only the inflation limits can stop the parse.
func zerosDeflate(t testing.TB, mib int) []byte {
	t.Helper()
	segment := func(data []byte, final bool) []byte {
		var buf bytes.Buffer
		fw, err := flate.NewWriter(&buf, flate.BestCompression)
		require.NoError(t, err)
		_, err = fw.Write(data)
		require.NoError(t, err)
		if final {
			require.NoError(t, fw.Close())
		} else {
			require.NoError(t, fw.Flush())
		}
		return buf.Bytes()
	}
	head := segment([]byte(`<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>`), false)
	zeros := segment(bytes.Repeat([]byte("0"), 1<<20), false)
	out := append(head, bytes.Repeat(zeros, mib)...)
	return append(out, segment(nil, true)...)
}

// bombDOCX builds a DOCX whose document.xml inflates to mib MiB of zeros while the
// archive declares it to be `declared` bytes long.
func bombDOCX(t testing.TB, mib int, declared uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("[Content_Types].xml")
	require.NoError(t, err)
	_, err = w.Write([]byte(`<Types/>`))
	require.NoError(t, err)
	raw := zerosDeflate(t, mib)
	w, err = zw.CreateRaw(&zip.FileHeader{
		Name: "word/document.xml", Method: zip.Deflate,
		CRC32: crc32.ChecksumIEEE(nil), CompressedSize64: uint64(len(raw)), UncompressedSize64: declared,
	})
	require.NoError(t, err)
	_, err = w.Write(raw)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestZipBombLyingSize is not parallel: it measures allocation, which other
// tests running at the same time would disturb.
func TestZipBombLyingSize(t *testing.T) {
	data := bombDOCX(t, 1024, 1000) // 1 GiB of zeros declared as 1000 bytes
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Parse(context.Background(), FormatDOCX, bytes.NewReader(data), int64(len(data)), DefaultLimits())
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	require.Error(t, err)
	require.Equal(t, CodeTooLarge, CodeOf(err), "error: %v", err)
	require.Contains(t, err.Error(), "decompression bomb")
	t.Logf("stopped after %v, allocated %d KiB", elapsed, (after.TotalAlloc-before.TotalAlloc)>>10)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "memory must stay bounded")
}

func TestZipBombHonestSizeHitsInflateLimit(t *testing.T) {
	t.Parallel()
	data := bombDOCX(t, 16, 16<<20) // declared truthfully: only the budget can stop it
	limits := DefaultLimits()
	limits.MaxInflatedBytes = 2 << 20
	_, err := Parse(context.Background(), FormatDOCX, bytes.NewReader(data), int64(len(data)), limits)
	require.Error(t, err)
	require.Equal(t, CodeTooLarge, CodeOf(err), "error: %v", err)
	require.Contains(t, err.Error(), "decompression bomb")
}

func TestZipTooManyEntries(t *testing.T) {
	t.Parallel()
	parts := []zipPart{{"[Content_Types].xml", "<Types/>"}, {"xl/workbook.xml", "<workbook/>"}}
	for i := range 20000 {
		parts = append(parts, zipPart{fmt.Sprintf("xl/media/f%05d.bin", i), ""})
	}
	data := buildZip(t, parts...)
	for _, f := range []Format{FormatXLSX, FormatDOCX, FormatEPUB} {
		_, err := Parse(context.Background(), f, bytes.NewReader(data), int64(len(data)), DefaultLimits())
		require.Error(t, err)
		require.Equal(t, CodeTooLarge, CodeOf(err), "%s: %v", f, err)
	}
}

func TestZipMissingPartNamesIt(t *testing.T) {
	t.Parallel()
	data := buildZip(t, zipPart{"[Content_Types].xml", "<Types/>"})
	_, err := Parse(context.Background(), FormatDOCX, bytes.NewReader(data), int64(len(data)), DefaultLimits())
	require.Error(t, err)
	require.Equal(t, CodeCorrupt, CodeOf(err))
	require.Contains(t, err.Error(), "word/document.xml")
}

func TestZipEncryptedOOXML(t *testing.T) {
	t.Parallel()
	data := append([]byte(ole2Magic), make([]byte, 4096)...)
	for _, f := range []Format{FormatDOCX, FormatPPTX, FormatXLSX} {
		_, err := Parse(context.Background(), f, bytes.NewReader(data), int64(len(data)), DefaultLimits())
		require.Error(t, err)
		require.Equal(t, CodeEncrypted, CodeOf(err), "%s", f)
	}
}

func TestSniffZip(t *testing.T) {
	t.Parallel()
	ct := zipPart{"[Content_Types].xml", "<Types/>"}
	cases := []struct {
		name string
		data []byte
		want Format
		ok   bool
	}{
		{"docx", buildZip(t, ct, zipPart{"word/document.xml", "<w:document/>"}), FormatDOCX, true},
		{"pptx", buildZip(t, ct, zipPart{"ppt/presentation.xml", "<p/>"}), FormatPPTX, true},
		{"xlsx", buildZip(t, ct, zipPart{"xl/workbook.xml", "<w/>"}), FormatXLSX, true},
		{"odt", buildZip(t, zipPart{"mimetype", "application/vnd.oasis.opendocument.text"}), FormatODT, true},
		{"epub", buildZip(t, zipPart{"mimetype", "application/epub+zip"}), FormatEPUB, true},
		{"ods is not odt", buildZip(t, zipPart{"mimetype", "application/vnd.oasis.opendocument.spreadsheet"}), "", false},
		{"docx parts without content types", buildZip(t, zipPart{"word/document.xml", "<w/>"}), "", false},
		{"plain zip", buildZip(t, zipPart{"readme.txt", "hello"}), "", false},
		{"not a zip", []byte("PK\x03\x04 but truncated"), "", false},
		{"empty", nil, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, ok := sniffZip(bytes.NewReader(tc.data), int64(len(tc.data)))
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, f)
		})
	}
}

func TestSniffZipCorpus(t *testing.T) {
	t.Parallel()
	dir := corpustest.Dir(t)
	for name, want := range map[string]Format{
		"fake.docx": FormatDOCX, "sample-presentation.pptx": FormatPPTX, "stanley-cups.xlsx": FormatXLSX,
		"fake.odt": FormatODT, "winter-sports.epub": FormatEPUB,
	} {
		data := readCorpus(t, dir, name)
		f, ok := sniffZip(bytes.NewReader(data), int64(len(data)))
		require.True(t, ok, name)
		require.Equal(t, want, f, name)
	}
}

func TestXLSXLargeSheetSplitsRepeatingHeader(t *testing.T) {
	t.Parallel()
	var sheet bytes.Buffer
	sheet.WriteString(`<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c><c r="B1" t="inlineStr"><is><t>Count</t></is></c></row>`)
	for i := 2; i <= 1001; i++ {
		fmt.Fprintf(&sheet, `<row r="%d"><c r="A%d" t="inlineStr"><is><t>item %d</t></is></c><c r="B%d"><v>%d</v></c></row>`, i, i, i, i, i)
	}
	sheet.WriteString(`<row r="1005"/></sheetData></worksheet>`)
	data := buildZip(t,
		zipPart{"[Content_Types].xml", "<Types/>"},
		zipPart{"xl/workbook.xml", `<workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		zipPart{"xl/_rels/workbook.xml.rels", `<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
		zipPart{"xl/worksheets/sheet1.xml", sheet.String()},
	)
	doc, err := Parse(context.Background(), FormatXLSX, bytes.NewReader(data), int64(len(data)), DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, KindHeading, doc.Blocks[0].Kind)
	require.Equal(t, "Data", doc.Blocks[0].Text)
	tables, rows := 0, 0
	for _, b := range doc.Blocks[1:] {
		require.Equal(t, KindTable, b.Kind)
		require.Equal(t, []string{"Name", "Count"}, b.Rows[0], "every slice repeats the header")
		require.Equal(t, 1, b.Page)
		tables++
		rows += len(b.Rows) - 1
	}
	require.Greater(t, tables, 1)
	require.Equal(t, 1000, rows)
}
