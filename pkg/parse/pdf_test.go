package parse

import (
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/youworker/youworker/pkg/corpustest"

	"github.com/stretchr/testify/require"
)

func TestPDFCorpus(t *testing.T) {
	t.Parallel()
	dir := corpustest.Dir(t)
	cases := []containerCase{
		{file: "DA-1p.pdf", format: FormatPDF, pages: 1,
			headings: []string{"MAIN GAME", "CREATURES"},
			phrases:  []string{"We arrived in the dead of night. We had been tracking the maleficar for days"},
			onPage:   map[string]int{"Abomination": 1}},
		// Only an owner password: opened with the empty user password (AES-128).
		{file: "copy-protected.pdf", format: FormatPDF, pages: 2,
			phrases: []string{"Deep Learning Based Document Image Analysis", "{melissadell,jacob carlson}"}},
		{file: "embedded-cmap-cidfont.pdf", format: FormatPDF,
			phrases: []string{"Heading in Helvetica", "This text uses an embedded CMap"}},
		{file: "fake-memo.pdf", format: FormatPDF, title: "fake-memo",
			phrases: []string{"There were 20,000 bottles of water, 10,000 blankets, and 200 laptops delivered"}},
		// Its cross-reference data is broken: objects are found by scanning.
		{file: "invalid-pdf-structure-pdfminer-one-page.pdf", format: FormatPDF,
			phrases:  []string{"the White House issued the National Cybersecurity Strategy"},
			headings: []string{"Cybersecurity: Launching and Implementing the National Cybersecurity Strategy"}},
		{file: "korean-text-with-tables.pdf", format: FormatPDF,
			phrases: []string{"할인점·주유·온라인쇼핑몰 1.5% 빅포인트 적립", "이마트 트레이더스"}},
		{file: "layout-parser-paper-fast.pdf", format: FormatPDF, pages: 2,
			// The built-in encoding of the TeX fonts maps ligatures and braces;
			// ligatures are spelled out.
			phrases: []string{"A Unified Toolkit", "{melissadell,jacob carlson}@fas.harvard.edu"}},
		// Two columns: each column's sentences must read on, not interleave.
		{file: "list-item-example.pdf", format: FormatPDF, pages: 2,
			phrases: []string{"This module introduces the learner to the importance and principles of product development",
				"This module looks at the role of the design team in detail and outlines an approach for creating"},
			lists: []string{"● What challenges may arise in development?", "● Determining the immediate and underlying challenges of design"}},
		{file: "multi-column-2p.pdf", format: FormatPDF, pages: 2,
			headings: []string{"Dense Passage Retrieval for Open-Domain Question Answering"},
			phrases: []string{"relies on efficient passage retrieval", "While early QA systems are often complicated and consist of multiple components",
				"The problem of open-domain QA studied in this paper can be described as follows."},
			onPage: map[string]int{"2 Background": 2}},
		{file: "password.pdf", format: FormatPDF, code: CodeEncrypted},
		{file: "pdf-bad-color-space.pdf", format: FormatPDF, phrases: []string{"Reducing carbon emissions"}},
		{file: "rotated-page-90.pdf", format: FormatPDF,
			phrases: []string{"Hello World Test Text\nSecond line of text here"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			checkContainerCase(t, dir, tc)
		})
	}
}

// buildPDF writes a PDF from object bodies (object i+1 = objs[i]) with a correct
// xref table, unless brokenXref, which points startxref at garbage.
func buildPDF(objs []string, brokenXref bool) []byte {
	var buf bytes.Buffer
	buf.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = buf.Len()
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&buf, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n", len(objs)+1)
	if brokenXref {
		xref = 7
	}
	fmt.Fprintf(&buf, "%d\n%%%%EOF\n", xref)
	return buf.Bytes()
}

func pdfStreamObj(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

func onePagePDF(content string, brokenXref bool) []byte {
	return buildPDF([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		pdfStreamObj("", []byte(content)),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
	}, brokenXref)
}

func parsePDFBytes(data []byte, limits Limits) (*Document, error) {
	return Parse(context.Background(), FormatPDF, bytes.NewReader(data), int64(len(data)), limits)
}

func TestPDFSynthetic(t *testing.T) {
	t.Parallel()
	text := "BT /F1 12 Tf 72 700 Td (Hello from a small PDF) Tj 0 -14 Td [(kerned) -250 (words)] TJ ET"
	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		doc, err := parsePDFBytes(onePagePDF(text, false), DefaultLimits())
		require.NoError(t, err)
		require.Contains(t, allText(doc), "Hello from a small PDF")
		require.Contains(t, allText(doc), "kerned words")
		require.Equal(t, 1, doc.Blocks[0].Page)
	})
	t.Run("broken xref is repaired", func(t *testing.T) {
		t.Parallel()
		doc, err := parsePDFBytes(onePagePDF(text, true), DefaultLimits())
		require.NoError(t, err)
		require.Contains(t, allText(doc), "Hello from a small PDF")
	})
	t.Run("no text layer is empty", func(t *testing.T) {
		t.Parallel()
		_, err := parsePDFBytes(onePagePDF("q 612 0 0 792 0 0 cm 0 0 1 rg 0 0 1 1 re f Q", false), DefaultLimits())
		require.Error(t, err)
		require.Equal(t, CodeEmpty, CodeOf(err))
	})
	t.Run("not a pdf is corrupt", func(t *testing.T) {
		t.Parallel()
		_, err := parsePDFBytes([]byte("just some text, no header"), DefaultLimits())
		require.Equal(t, CodeCorrupt, CodeOf(err))
	})
	t.Run("truncated is corrupt", func(t *testing.T) {
		t.Parallel()
		_, err := parsePDFBytes([]byte("%PDF-1.7\n1 0 obj << /Type /Catalog"), DefaultLimits())
		require.Equal(t, CodeCorrupt, CodeOf(err))
	})
	t.Run("too many pages", func(t *testing.T) {
		t.Parallel()
		limits := DefaultLimits()
		limits.MaxPages = 1
		data := buildPDF([]string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
			"<< /Type /Page /Parent 2 0 R >>",
			"<< /Type /Page /Parent 2 0 R >>",
		}, false)
		_, err := parsePDFBytes(data, limits)
		require.Equal(t, CodeTooLarge, CodeOf(err))
	})
}

// TestPDFFlateBomb: a content stream that inflates without end stops at the
// inflation budget, like a ZIP bomb.
func TestPDFFlateBomb(t *testing.T) {
	t.Parallel()
	// A zlib header, then 1 GiB of operators as concatenated flushed deflate segments.
	var seg bytes.Buffer
	fw, err := flate.NewWriter(&seg, flate.BestCompression)
	require.NoError(t, err)
	_, err = fw.Write([]byte(strings.Repeat("BT ET ", 1<<14)))
	require.NoError(t, err)
	require.NoError(t, fw.Flush())
	z := bytes.NewBuffer([]byte{0x78, 0x9C})
	z.Write(bytes.Repeat(seg.Bytes(), 10000))
	data := buildPDF([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
		pdfStreamObj("/Filter /FlateDecode", z.Bytes()),
	}, false)
	limits := DefaultLimits()
	limits.MaxInflatedBytes = 4 << 20
	_, err = parsePDFBytes(data, limits)
	require.Error(t, err)
	require.Equal(t, CodeTooLarge, CodeOf(err), "error: %v", err)
}
