package parse

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/youworker/youworker/pkg/corpustest"

	"github.com/stretchr/testify/require"
)

// readCorpus reads one corpus document.
func readCorpus(t *testing.T, dir, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return data
}

// parseCorpusFile parses one corpus document with default limits.
func parseCorpusFile(t *testing.T, dir, name string, f Format) (*Document, error) {
	t.Helper()
	data := readCorpus(t, dir, name)
	return Parse(context.Background(), f, bytes.NewReader(data), int64(len(data)), DefaultLimits())
}

// allText joins every block's text, one block a line.
func allText(doc *Document) string {
	var sb strings.Builder
	for _, b := range doc.Blocks {
		sb.WriteString(b.Text)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// containerCase is the expected outcome of parsing one corpus document.
type containerCase struct {
	file     string
	format   Format
	code     string   // expected failure code; "" for success
	phrases  []string // must appear in the text
	absent   []string // must not appear
	headings []string // must be heading blocks (prefix match)
	lists    []string // must be list items (prefix match)
	row      []string // a table must hold this row
	pages    int      // Document.Pages, when not 0
	onPage   map[string]int
	title    string
}

func checkContainerCase(t *testing.T, dir string, tc containerCase) {
	t.Helper()
	doc, err := parseCorpusFile(t, dir, tc.file, tc.format)
	if tc.code != "" {
		require.Error(t, err)
		require.Equal(t, tc.code, CodeOf(err), "error: %v", err)
		return
	}
	require.NoError(t, err)
	text := allText(doc)
	for _, p := range tc.phrases {
		require.Contains(t, text, p)
	}
	for _, p := range tc.absent {
		require.NotContains(t, text, p)
	}
	for _, h := range tc.headings {
		require.True(t, hasBlock(doc, KindHeading, h), "heading %q missing", h)
	}
	for _, l := range tc.lists {
		require.True(t, hasBlock(doc, KindListItem, l), "list item %q missing", l)
	}
	if tc.row != nil {
		require.True(t, hasTableRow(doc, tc.row), "row %q missing", tc.row)
	}
	if tc.pages != 0 {
		require.Equal(t, tc.pages, doc.Pages)
	}
	for phrase, page := range tc.onPage {
		found := false
		for _, b := range doc.Blocks {
			if strings.Contains(b.Text, phrase) {
				require.Equal(t, page, b.Page, "page of %q", phrase)
				found = true
				break
			}
		}
		require.True(t, found, "phrase %q missing", phrase)
	}
	if tc.title != "" {
		require.Equal(t, tc.title, doc.Title)
	}
	for _, b := range doc.Blocks {
		if b.Kind == KindTable {
			require.NotEmpty(t, b.Rows)
			require.Equal(t, renderTable(b.Rows), b.Text)
		}
	}
}

func hasBlock(doc *Document, kind BlockKind, prefix string) bool {
	for _, b := range doc.Blocks {
		if b.Kind == kind && strings.HasPrefix(b.Text, prefix) {
			return true
		}
	}
	return false
}

func hasTableRow(doc *Document, want []string) bool {
	for _, b := range doc.Blocks {
		for _, r := range b.Rows {
			if len(r) >= len(want) && strings.Join(r[:len(want)], "\x00") == strings.Join(want, "\x00") {
				return true
			}
		}
	}
	return false
}

func TestContainerCorpus(t *testing.T) {
	t.Parallel()
	dir := corpustest.Dir(t)
	cases := []containerCase{
		{file: "docx-hdrftr.docx", format: FormatDOCX,
			phrases: []string{"First header para", "Main document", "para2"},
			// Word hides the text of vertically merged continuation cells.
			absent: []string{"I should not be included"},
			row:    []string{"Table cell1", "Table cell2"}},
		{file: "docx-tables.docx", format: FormatDOCX,
			phrases: []string{"Simple uniform table", "Table with merged cells"},
			row:     []string{"Header Col 1", "Header Col 2"}},
		{file: "example-list-items-multiple.docx", format: FormatDOCX,
			lists: []string{"This is simply dummy text", "The quick brown fox jumps over the lazy dog."}},
		{file: "fake.docx", format: FormatDOCX, phrases: []string{"Lorem ipsum dolor sit amet."}},
		{file: "handbook-1p.docx", format: FormatDOCX, pages: 2,
			phrases: []string{"US Trustee Handbook"},
			onPage:  map[string]int{"A. PURPOSE": 1, "B. ROLE OF THE UNITED STATES TRUSTEE": 2}},
		{file: "page-breaks.docx", format: FormatDOCX,
			onPage: map[string]int{"First page, tab here:": 1, "<<Text on second page": 2, "<<and then more text proceeds.": 4}},
		{file: "tables-with-incomplete-rows.docx", format: FormatDOCX,
			phrases: []string{"rows is missing cells"}, row: []string{"Data"}},
		{file: "fake-power-point.pptx", format: FormatPPTX, pages: 1,
			headings: []string{"Slide 1: Adding a Bullet Slide"},
			lists:    []string{"Use _TextFrame.add_paragraph() for subsequent bullets"}},
		{file: "fake-power-point-malformed.pptx", format: FormatPPTX,
			headings: []string{"Slide 1: Test Slide"}, phrases: []string{"Problem Date Placeholder"}},
		{file: "fake-power-point-table.pptx", format: FormatPPTX,
			headings: []string{"Slide 1: A Slide with a Table"}, row: []string{"Red", "Green", "Blue"}},
		{file: "sample-presentation.pptx", format: FormatPPTX, pages: 4,
			headings: []string{"Slide 3: This is the second content slide"},
			onPage:   map[string]int{"This one is a sub-sub-bullet": 2, "Sub-details 2": 3},
			row:      []string{"1", "A1", "B1", "C1"}},
		{file: "emoji.xlsx", format: FormatXLSX, phrases: []string{"🤠😅"}, headings: []string{"Sheet1"}},
		{file: "empty.xlsx", format: FormatXLSX, code: CodeEmpty},
		{file: "password_protected.xlsx", format: FormatXLSX, code: CodeEncrypted},
		{file: "stanley-cups.xlsx", format: FormatXLSX, pages: 2,
			headings: []string{"Stanley Cups", "Stanley Cups Since 67"},
			row:      []string{"Maple Leafs", "TOR", "13.0"},
			onPage:   map[string]int{"Stanley Cups Since 67": 2}},
		{file: "vodafone.xlsx", format: FormatXLSX,
			row: []string{"Quarterly revenue", "Nine quarters to 30 June 2023"}},
		{file: "fake.odt", format: FormatODT,
			phrases: []string{"Lorem ipsum dolor sit amet."}, row: []string{"Color", "Blue", "Red", "Green"}},
		{file: "winter-sports.epub", format: FormatEPUB, title: "Winter Sports in Switzerland",
			headings: []string{"CONTENTS"},
			phrases:  []string{"And that which he weds to such lovely language"},
			row:      []string{"II.", "Rinks and Skaters", "23"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			checkContainerCase(t, dir, tc)
		})
	}
}

func TestOOXMLWrongFormatIsCorrupt(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{FormatDOCX, FormatPPTX, FormatXLSX, FormatODT, FormatEPUB} {
		data := []byte("this is not a zip archive at all")
		_, err := Parse(context.Background(), f, bytes.NewReader(data), int64(len(data)), DefaultLimits())
		require.Error(t, err)
		require.Equal(t, CodeCorrupt, CodeOf(err), "%s: %v", f, err)
	}
}

func TestContainerFeatures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		format Format
		data   func(testing.TB) []byte
		want   []Block
		title  string
		pages  int
	}{
		{"docx", FormatDOCX, seedDOCX, []Block{
			{Kind: KindParagraph, Text: "Header text"},
			// The style id is localised; its name says "heading 1".
			{Kind: KindHeading, Level: 1, Text: "Title here", Page: 1},
			{Kind: KindListItem, Level: 2, Text: "An item", Page: 1},
			{Kind: KindTable, Rows: [][]string{{"a", "b"}, {"c", ""}}, Page: 1},
			// A page break inside a paragraph splits it between the pages.
			{Kind: KindParagraph, Text: "Before", Page: 1},
			{Kind: KindParagraph, Text: "After tab", Page: 2},
		}, "", 2},
		{"pptx", FormatPPTX, seedPPTX, []Block{
			{Kind: KindHeading, Level: 1, Text: "Slide 1: Quarterly results", Page: 1},
			{Kind: KindListItem, Level: 1, Text: "Revenue grew", Page: 1},
			{Kind: KindTable, Rows: [][]string{{"Q1", "10"}, {"Q2", "12"}}, Page: 1},
			{Kind: KindParagraph, Text: "Speaker note", Page: 1},
		}, "", 1},
		{"xlsx", FormatXLSX, seedXLSX, []Block{
			{Kind: KindHeading, Level: 1, Text: "Budget", Page: 1},
			// Rich-text shared strings join their runs; numbers stay as written.
			{Kind: KindTable, Rows: [][]string{{"Item", "Cost"}, {"Paper", "", "12.50", "TRUE", "note"}}, Page: 1},
		}, "", 1},
		{"odt", FormatODT, seedODT, []Block{
			{Kind: KindHeading, Level: 2, Text: "Section", Page: 1},
			{Kind: KindParagraph, Text: "One two three", Page: 1},
			{Kind: KindListItem, Level: 1, Text: "Item", Page: 1},
			{Kind: KindListItem, Level: 2, Text: "Nested", Page: 1},
			{Kind: KindTable, Rows: [][]string{{"x", "x"}, {"y", ""}}, Page: 1},
			{Kind: KindParagraph, Text: "Next page", Page: 2},
		}, "Seed", 2},
		{"epub", FormatEPUB, seedEPUB, []Block{
			// Spine order, not manifest order; scripts and styles dropped.
			{Kind: KindHeading, Level: 2, Text: "Preface"},
			{Kind: KindParagraph, Text: "Comes first."},
			{Kind: KindTable, Rows: [][]string{{"k", "v"}, {"a", "1"}}},
			{Kind: KindHeading, Level: 1, Text: "Chapter One"},
			{Kind: KindParagraph, Text: "First chapter text."},
			{Kind: KindListItem, Level: 1, Text: "point"},
		}, "Seed Book", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := tc.data(t)
			doc, err := Parse(context.Background(), tc.format, bytes.NewReader(data), int64(len(data)), DefaultLimits())
			require.NoError(t, err)
			for i := range tc.want {
				if tc.want[i].Kind == KindTable {
					tc.want[i].Text = renderTable(tc.want[i].Rows)
				}
			}
			require.Equal(t, tc.want, doc.Blocks)
			require.Equal(t, tc.title, doc.Title)
			require.Equal(t, tc.pages, doc.Pages)
		})
	}
}

func TestPPTXBrokenSlideIsSkipped(t *testing.T) {
	t.Parallel()
	rel := func(id, target string) string {
		return `<Relationship Id="` + id + `" Type="` + relsNS + `/slide" Target="` + target + `"/>`
	}
	data := buildZip(t,
		zipPart{"[Content_Types].xml", `<Types/>`},
		zipPart{"ppt/presentation.xml", `<p:presentation xmlns:p="p" xmlns:r="` + relsNS + `"><p:sldIdLst>` +
			`<p:sldId r:id="a"/><p:sldId r:id="b"/><p:sldId r:id="c"/></p:sldIdLst></p:presentation>`},
		zipPart{"ppt/_rels/presentation.xml.rels", `<Relationships>` + rel("a", "slides/slide1.xml") +
			rel("b", "slides/slide2.xml") + rel("c", "slides/slide3.xml") + `</Relationships>`},
		zipPart{"ppt/slides/slide1.xml", `<p:sld xmlns:p="p" xmlns:a="a"><p:sp><a:p><a:r><a:t>Good slide</a:t></a:r></a:p></p:sp></p:sld>`},
		zipPart{"ppt/slides/slide2.xml", `<p:sld xmlns:p="p" xmlns:a="a"><p:sp><a:p><a:r><a:t>cut off`},
		// slide3.xml is missing altogether.
	)
	doc, err := Parse(context.Background(), FormatPPTX, bytes.NewReader(data), int64(len(data)), DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, 3, doc.Pages)
	require.Equal(t, []Block{
		{Kind: KindHeading, Level: 1, Text: "Slide 1", Page: 1},
		{Kind: KindParagraph, Text: "Good slide", Page: 1},
	}, doc.Blocks)

	// When no slide can be read, the deck is corrupt.
	data = buildZip(t,
		zipPart{"[Content_Types].xml", `<Types/>`},
		zipPart{"ppt/presentation.xml", `<p:presentation xmlns:p="p" xmlns:r="` + relsNS + `"><p:sldIdLst><p:sldId r:id="b"/></p:sldIdLst></p:presentation>`},
		zipPart{"ppt/_rels/presentation.xml.rels", `<Relationships>` + rel("b", "slides/slide2.xml") + `</Relationships>`},
		zipPart{"ppt/slides/slide2.xml", `<p:sld><a:t>cut off`},
	)
	_, err = Parse(context.Background(), FormatPPTX, bytes.NewReader(data), int64(len(data)), DefaultLimits())
	require.Equal(t, CodeCorrupt, CodeOf(err))
}
