package parse

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/youworker/youworker/pkg/corpustest"

	"github.com/stretchr/testify/require"
)

// corpusCase describes what a corpus file of a text format must yield.
type corpusCase struct {
	file     string
	format   Format
	title    string     // expected title, when not ""
	phrases  []string   // must appear in the text
	absent   []string   // must not appear
	headings []string   // must be heading blocks
	rows     [][]string // must be rows of some table block
	code     string     // expected error code instead of a document
}

func TestParseCorpusTextFormats(t *testing.T) {
	t.Parallel()
	dir := corpustest.Dir(t)
	cases := []corpusCase{
		{file: "fake-text.txt", format: FormatText,
			phrases: []string{"This is a test document to use for unit tests.", "Hamburgers are delicious", "Doylestown, PA 18901"}},
		{file: "fake-text-utf-16-le.txt", format: FormatText,
			phrases: []string{"This is a test document to use for unit tests.", "I love fuzzy blankets"}},
		{file: "fake-text-utf-32.txt", format: FormatText,
			phrases: []string{"This is a test document to use for unit tests.", "Dogs are the best"}},
		{file: "fake-text-all-whitespace.txt", format: FormatText, code: CodeEmpty},
		{file: "empty.txt", format: FormatText, code: CodeEmpty},
		{file: "norwich-city.txt", format: FormatText, phrases: []string{"Iwan Roberts", "Bangor, Wales"}},
		{file: "book-war-and-peace-1p.txt", format: FormatText, phrases: []string{"so Genoa and Lucca are now just family estates"}},
		{file: "UDHR_first_article_all.txt", format: FormatText, phrases: []string{"是人都生而自由", "Universal Declaration of Human Right"}},
		// XML is read as plain text: the markup stays, and so do the values.
		{file: "factbook.xml", format: FormatText, phrases: []string{"Emmanuel Macron", "Trinidad &amp; Tobado"}},

		{file: "sample-readme.md", format: FormatMarkdown, title: "Example Docs",
			headings: []string{"Example Docs", "XBRL 10-K"}, phrases: []string{"curl -O", "You can parse this document using the HTML parser."}},
		{file: "codeblock.md", format: FormatMarkdown, headings: []string{"HTML Example", "XML Example"},
			phrases: []string{"<h1>Hello, World!</h1>", "Don't forget me this weekend!"}},
		{file: "simple-table.md", format: FormatMarkdown,
			rows: [][]string{{"Item", "Price", "# In stock"}, {"Juicy Apples", "1.99", "739"}, {"Bananas", "1.89", "6"}}},
		{file: "umlauts-non-utf8.md", format: FormatMarkdown, headings: []string{"können"}, phrases: []string{"äöüß"}},
		{file: "SOURCE.md", format: FormatMarkdown, headings: []string{"Test documents"}, phrases: []string{"Unstructured-IO/unstructured"}},

		{file: "stanley-cups.csv", format: FormatCSV, title: "Stanley Cups",
			rows: [][]string{{"Team", "Location", "Stanley Cups"}, {"Maple Leafs", "TOR", "13"}, {"Blues", "STL", "1"}}},
		{file: "stanley-cups-utf-16.csv", format: FormatCSV,
			rows: [][]string{{"Team", "Location", "Stanley Cups"}, {"Flyers", "PHI", "2"}}},
		{file: "stanley-cups-with-emoji.tsv", format: FormatCSV,
			rows: [][]string{{"Team", "Location", "Stanley Cups"}, {"Maple Leafs", "TOR", "13"}}, phrases: []string{"🔧"}},
		{file: "csv-with-escaped-commas.csv", format: FormatCSV,
			rows: [][]string{{"A", "A", "A", "A", "A"}, {"A", "A", "A", "A,A", "A"}}},
		{file: "semicolon-delimited.csv", format: FormatCSV,
			rows: [][]string{{"Lorem, ipsum", "dolor sit", "amet"}, {"consectetur", "adipiscing", "elit"}}},

		{file: "fake-html.html", format: FormatHTML, title: "My First Heading",
			headings: []string{"My First Heading", "My Second Heading", "A Third Heading"},
			phrases:  []string{"My first paragraph. lorem ipsum", "With sub-bullets!", "Back at the root"},
			rows:     [][]string{{"Column 1", "Column 2"}, {"Row 1, Cell 1", "Row 1, Cell 2"}}},
		{file: "fake-html-cp1252.html", format: FormatHTML, headings: []string{"My First Heading"},
			phrases: []string{"Die schöne Frau", "15,50 €", "L'été était très chaud"}},
		{file: "fake-html-pre.htm", format: FormatHTML,
			phrases: []string{"UNITING AND STRENGTHENING AMERICA", "<DOC>"}},
		{file: "example-with-scripts.html", format: FormatHTML,
			title:    "Russian Offensive Campaign Assessment, December 13 | Institute for the Study of War",
			headings: []string{"Russian Offensive Campaign Assessment, December 13"},
			phrases:  []string{"Belarusian forces remain unlikely to attack Ukraine", "Key Takeaways"},
			absent:   []string{"switchTo5x", "GoogleAnalyticsObject", "jQuery", "stLight", "Skip to main content"}},
		{file: "example-steelJIS-datasheet-utf-16.html", format: FormatHTML,
			title:    "SNB22-3 - SteelJIS - Datasheet, Chemical composition, Standards and Properties",
			headings: []string{"SNB22-3 Chemical composition, standards and properties"},
			phrases:  []string{"Chromium molybdenum steel", "日本語"},
			absent:   []string{"adsbygoogle", "font-family"},
			rows:     [][]string{{"C", "Si", "Mn", "P", "S", "Cr", "Mo"}}},
		{file: "example-10k-1p.html", format: FormatHTML,
			phrases: []string{"Galaxy Gaming, Inc.", "ANNUAL REPORT ON FORM 10-K"}},

		{file: "family-day.eml", format: FormatEML, title: "Family Day",
			phrases: []string{"From: Mallori Harrell <mallori@unstructured.io>", "Subject: Family Day",
				"Get excited for our first annual family day!", "face painting, a petting zoo"},
			absent: []string{"<div", "=3D", "boundary"}},

		{file: "fake-doc.rtf", format: FormatRTF, headings: []string{"My First Heading"},
			phrases: []string{"My first paragraph.", "Table Example:"},
			absent:  []string{"\\par", "fs36", "cellx"},
			rows:    [][]string{{"Column 1", "Column 2"}, {"Row 2, Cell 1", "Row 2, Cell 2"}}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, tc.file)
			format, err := detectFile(t, path, tc.file)
			require.NoError(t, err)
			require.Equal(t, tc.format, format)

			data, err := os.ReadFile(path)
			require.NoError(t, err)
			doc, err := Parse(context.Background(), format, bytes.NewReader(data), int64(len(data)), DefaultLimits())
			if tc.code != "" {
				require.Error(t, err)
				require.Equal(t, tc.code, CodeOf(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.format, doc.Format)
			if tc.title != "" {
				require.Equal(t, tc.title, doc.Title)
			}
			all := docText(doc)
			for _, p := range tc.phrases {
				require.Contains(t, all, p)
			}
			for _, p := range tc.absent {
				require.NotContains(t, all, p)
			}
			for _, h := range tc.headings {
				require.Contains(t, blockTexts(doc, KindHeading), h)
			}
			for _, row := range tc.rows {
				require.True(t, hasRow(doc, row), "no table row %q in %s", row, tc.file)
			}
			requireTablesRendered(t, doc)
		})
	}
}

// docText joins the text of all blocks.
func docText(doc *Document) string {
	var sb strings.Builder
	for _, b := range doc.Blocks {
		sb.WriteString(b.Text)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// blockTexts lists the texts of the blocks of one kind.
func blockTexts(doc *Document, kind BlockKind) []string {
	var out []string
	for _, b := range doc.Blocks {
		if b.Kind == kind {
			out = append(out, b.Text)
		}
	}
	return out
}

// hasRow reports whether some table block holds row (ignoring trailing cells).
func hasRow(doc *Document, row []string) bool {
	for _, b := range doc.Blocks {
		for _, r := range b.Rows {
			if len(r) >= len(row) && slices.Equal(r[:len(row)], row) {
				return true
			}
		}
	}
	return false
}

// requireTablesRendered checks the Block contract for tables: Text is the
// Markdown rendering of Rows, and only tables have Rows.
func requireTablesRendered(t *testing.T, doc *Document) {
	t.Helper()
	for _, b := range doc.Blocks {
		if b.Kind == KindTable {
			require.NotEmpty(t, b.Rows)
			require.Equal(t, renderTable(b.Rows), b.Text)
		} else {
			require.Nil(t, b.Rows)
		}
	}
}

// parseString parses s as format with default limits.
func parseString(t *testing.T, format Format, s string) (*Document, error) {
	t.Helper()
	return Parse(context.Background(), format, strings.NewReader(s), int64(len(s)), DefaultLimits())
}

// shapedBlock is what structure tests compare of a block.
type shapedBlock struct {
	Kind  BlockKind
	Level int
	Text  string
}

// blockShapes lists the document's blocks as shapedBlocks.
func blockShapes(doc *Document) []shapedBlock {
	var out []shapedBlock
	for _, b := range doc.Blocks {
		out = append(out, shapedBlock{b.Kind, b.Level, b.Text})
	}
	return out
}

func TestParseTextParagraphs(t *testing.T) {
	t.Parallel()
	doc, err := parseString(t, FormatText, "first line\r\nsecond line  \r\n\r\n\r\n  second\x00 para\x07graph\f\nthird")
	require.NoError(t, err)
	require.Equal(t, []string{"first line\nsecond line", "second paragraph", "third"}, blockTexts(doc, KindParagraph))
}

func TestParseTextSplitsHugeParagraph(t *testing.T) {
	t.Parallel()
	line := strings.Repeat("word ", 30) + "\n"
	doc, err := parseString(t, FormatText, strings.Repeat(line, 2000))
	require.NoError(t, err)
	require.Greater(t, len(doc.Blocks), 1)
	for _, b := range doc.Blocks {
		require.LessOrEqual(t, len(b.Text), maxBlockBytes)
	}
}

func TestParseTextLimits(t *testing.T) {
	t.Parallel()
	s := strings.Repeat("some text\n\n", 10000)
	_, err := Parse(context.Background(), FormatText, strings.NewReader(s), int64(len(s)), Limits{MaxTextBytes: 1000})
	require.Equal(t, CodeTooLarge, CodeOf(err))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Parse(ctx, FormatText, strings.NewReader(s), int64(len(s)), DefaultLimits())
	require.Equal(t, CodeTimeout, CodeOf(err))
}

// fuzzLimits are small so that fuzzing finds budget violations quickly.
func fuzzLimits() Limits {
	return Limits{MaxInflatedBytes: 1 << 20, MaxEntries: 100, MaxPages: 20, MaxTextBytes: 64 << 10,
		MaxRetainedBytes: 4 << 20, Timeout: 10 * time.Second}
}

// checkFuzzParse parses data as format and fails when a parser panicked (Parse
// reports a recovered panic as CodeParseError), when the text budget was
// exceeded, or when a table's Text is not the rendering of its Rows.
func checkFuzzParse(t *testing.T, format Format, data []byte) {
	limits := fuzzLimits()
	doc, err := Parse(context.Background(), format, bytes.NewReader(data), int64(len(data)), limits)
	if err != nil {
		if CodeOf(err) == CodeParseError {
			t.Fatalf("parser panicked: %v", err)
		}
		return
	}
	total := 0
	for _, b := range doc.Blocks {
		total += len(b.Text)
		if b.Kind == KindTable && b.Text != renderTable(b.Rows) {
			t.Fatalf("table text is not the rendering of its rows: %q", b.Text)
		}
	}
	if int64(total) > limits.MaxTextBytes {
		t.Fatalf("extracted %d bytes of text, limit %d", total, limits.MaxTextBytes)
	}
}

func FuzzParseText(f *testing.F) {
	f.Add([]byte("hello\n\nworld"))
	f.Add([]byte("\xFF\xFEh\x00i\x00"))
	f.Add([]byte("caf\xe9\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkFuzzParse(t, FormatText, data) })
}

// wholeParagraphs is how paragraphs were cut from text held whole: runs of
// non-blank lines, trailing spaces trimmed, long ones cut by splitLong.
func wholeParagraphs(text string) []string {
	var out []string
	var para strings.Builder
	flush := func() {
		if p := strings.TrimSpace(para.String()); p != "" {
			out = append(out, splitLong(p, maxBlockBytes)...)
		}
		para.Reset()
	}
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, " \t\n")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if para.Len() > 0 {
			para.WriteByte('\n')
		}
		para.WriteString(line)
	}
	flush()
	return out
}

// TestParagraphStreamMatchesWholeText checks that paragraphs cut while the text
// streams (a long one in pieces as soon as they are settled) are the ones cut
// from the text held whole.
func TestParagraphStreamMatchesWholeText(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"word", "ünïcode", "x", "longerword", "\t", "  ", "\u00a0", "🙂"}
	for i := range 40 {
		var sb strings.Builder
		for range rng.IntN(300) {
			switch r := rng.IntN(20); {
			case r == 0:
				sb.WriteString("\n")
			case r == 1:
				sb.WriteString(" \t \n")
			case r == 2:
				// A line far longer than a block, at times without any space.
				sep := []string{" ", "", "\n"}[rng.IntN(3)]
				for range rng.IntN(40000) {
					sb.WriteString(words[rng.IntN(len(words))] + sep)
				}
				sb.WriteString("\n")
			default:
				for range rng.IntN(30) {
					sb.WriteString(words[rng.IntN(len(words))] + " ")
				}
				sb.WriteString("\n")
			}
		}
		text := sb.String()
		doc, err := parseString(t, FormatText, text)
		if len(wholeParagraphs(text)) == 0 {
			require.Equal(t, CodeEmpty, CodeOf(err))
			continue
		}
		require.NoError(t, err)
		require.Equal(t, wholeParagraphs(text), blockTexts(doc, KindParagraph), "text %d", i)
	}
}
