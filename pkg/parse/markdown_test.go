package parse

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/corpustest"
)

func TestParseMarkdownBlocks(t *testing.T) {
	t.Parallel()
	src := "---\ntitle: \"Front Title\"\ntags: [a]\n---\n" +
		"# Top ##\n\nIntro line one\nline two\n\nSetext Title\n============\n\nSub title\n---\n\n" +
		"- item one\n  continued\n  - nested item\n* item two\n\n1. first\n2) second\n\n" +
		"> quoted text\n\n***\n\n" +
		"```go\nfunc main() {\n\n    fmt.Println(\"|\")\n}\n```\n\n" +
		"| A | B \\| C |\n|:--|--:|\n| 1 | 2 |\n| 3 |\n\n" +
		"~~~\nunclosed fence\n"
	doc, err := parseString(t, FormatMarkdown, src)
	require.NoError(t, err)
	require.Equal(t, []shapedBlock{
		{KindHeading, 1, "Top"},
		{KindParagraph, 0, "Intro line one\nline two"},
		{KindHeading, 1, "Setext Title"},
		{KindHeading, 2, "Sub title"},
		{KindListItem, 1, "item one continued"},
		{KindListItem, 2, "nested item"},
		{KindListItem, 1, "item two"},
		{KindListItem, 1, "first"},
		{KindListItem, 1, "second"},
		{KindParagraph, 0, "quoted text"},
		{KindCode, 0, "func main() {\n\n    fmt.Println(\"|\")\n}"},
		{KindTable, 0, "| A | B \\| C |\n| --- | --- |\n| 1 | 2 |\n| 3 |  |"},
		{KindCode, 0, "unclosed fence"},
	}, blockShapes(doc))
	require.Equal(t, "Top", doc.Title)
	require.Equal(t, [][]string{{"A", "B | C"}, {"1", "2"}, {"3", ""}}, doc.Blocks[11].Rows)
}

func TestParseMarkdownTitleFromFrontMatter(t *testing.T) {
	t.Parallel()
	doc, err := parseString(t, FormatMarkdown, "---\ntitle: Handbook\n---\n## Section\ntext\n")
	require.NoError(t, err)
	require.Equal(t, "Handbook", doc.Title)
	require.Equal(t, []string{"Section"}, blockTexts(doc, KindHeading))
}

func TestParseMarkdownNotATable(t *testing.T) {
	t.Parallel()
	doc, err := parseString(t, FormatMarkdown, "a | b\nnot a delimiter\n\nx|y\n---\n")
	require.NoError(t, err)
	require.Empty(t, blockTexts(doc, KindTable))
	require.Equal(t, []string{"x|y"}, blockTexts(doc, KindHeading))
}

func FuzzParseMarkdown(f *testing.F) {
	f.Add([]byte("# T\n\n- a\n  - b\n\n```\ncode\n```\n| a | b |\n|---|---|\n| 1 | 2 |\n"))
	f.Add([]byte("Title\n===\n> > quote\n"))
	f.Add([]byte("---\ntitle: x\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkFuzzParse(t, FormatMarkdown, data) })
}

// The blocks the hand-written reader before goldmark missed: indented code,
// lazy continuation lines and reference links (CommonMark 0.31.2, examples 107,
// 293 and 192).
func TestParseMarkdownIndentedCode(t *testing.T) {
	t.Parallel()
	doc, err := parseString(t, FormatMarkdown, "Text before.\n\n    a simple\n      indented code block\n\n    after a blank\n\nText after.\n")
	require.NoError(t, err)
	require.Equal(t, []shapedBlock{
		{KindParagraph, 0, "Text before."},
		{KindCode, 0, "a simple\n  indented code block\n\nafter a blank"},
		{KindParagraph, 0, "Text after."},
	}, blockShapes(doc))
}

func TestParseMarkdownLazyContinuation(t *testing.T) {
	t.Parallel()
	doc, err := parseString(t, FormatMarkdown, "> # Foo\n> bar\nbaz\n\n- item\nlazy line\n\nend\n")
	require.NoError(t, err)
	require.Equal(t, []shapedBlock{
		{KindHeading, 1, "Foo"},
		{KindParagraph, 0, "bar\nbaz"},
		{KindListItem, 1, "item lazy line"},
		{KindParagraph, 0, "end"},
	}, blockShapes(doc))
}

func TestParseMarkdownReferenceLinks(t *testing.T) {
	t.Parallel()
	src := "See [the guide][guide], [Guide] and [missing][nowhere].\n\n" +
		"[guide]: https://example.com/guide \"Title\"\n"
	doc, err := parseString(t, FormatMarkdown, src)
	require.NoError(t, err)
	require.Equal(t, []shapedBlock{
		{KindParagraph, 0, "See the guide, Guide and [missing][nowhere]."},
	}, blockShapes(doc))
}

// Inline markup is reduced to its text; escapes and entities are resolved.
func TestParseMarkdownInlineText(t *testing.T) {
	t.Parallel()
	src := "# A *very* `fine` title\n\n" +
		"**Bold**, _em_, ~~gone~~, ![a chart](c.png), <https://example.com>, x<br>y, \\*not\\*, &amp; &#35;.\n" +
		"Hard break:  \nnext.\n\n" +
		"<div align=\"center\">\n  <b>Raw</b> HTML &amp; text\n</div>\n"
	doc, err := parseString(t, FormatMarkdown, src)
	require.NoError(t, err)
	require.Equal(t, []shapedBlock{
		{KindHeading, 1, "A very fine title"},
		{KindParagraph, 0, "Bold, em, gone, a chart, https://example.com, xy, *not*, & #.\nHard break:\nnext."},
		{KindParagraph, 0, "Raw HTML & text"},
	}, blockShapes(doc))
	require.Equal(t, "A very fine title", doc.Title)
}

// A large document is parsed in sections: the blocks are those of the whole,
// fenced code with blank lines stays whole, and references defined in an
// earlier section resolve in later ones.
func TestParseMarkdownSections(t *testing.T) {
	t.Parallel()
	var src strings.Builder
	src.WriteString("[early]: https://example.com\n\n")
	var want []shapedBlock
	for i := 0; src.Len() < 3*mdSectionTarget; i++ {
		fmt.Fprintf(&src, "## Part %d\n\nParagraph %d with [a link][early].\n\n```\ncode %d\n\n\nmore\n```\n\n- item\n\n- item\n\n\n\n", i, i, i)
		want = append(want,
			shapedBlock{KindHeading, 2, fmt.Sprintf("Part %d", i)},
			shapedBlock{KindParagraph, 0, fmt.Sprintf("Paragraph %d with a link.", i)},
			shapedBlock{KindCode, 0, fmt.Sprintf("code %d\n\n\nmore", i)},
			shapedBlock{KindListItem, 1, "item"},
			shapedBlock{KindListItem, 1, "item"})
	}
	doc, err := parseString(t, FormatMarkdown, src.String())
	require.NoError(t, err)
	require.Equal(t, want, blockShapes(doc))
}

// The Markdown files of the corpus, block by block where they are small.
func TestParseMarkdownCorpus(t *testing.T) {
	t.Parallel()
	parseFile := func(name string) *Document {
		data := corpustest.Read(t, name)
		doc, err := Parse(context.Background(), FormatMarkdown, bytes.NewReader(data), int64(len(data)), DefaultLimits())
		require.NoError(t, err, name)
		return doc
	}
	note := "<note>\n    <to>Tove</to>\n    <from>Jani</from>\n    <heading>Reminder</heading>\n    <body>Don't forget me this weekend!</body>\n</note>"
	doc := parseFile("codeblock.md")
	require.Len(t, doc.Blocks, 5)
	require.Equal(t, shapedBlock{KindHeading, 2, "HTML Example"}, blockShapes(doc)[0])
	require.Equal(t, KindCode, doc.Blocks[1].Kind)
	require.True(t, strings.HasPrefix(doc.Blocks[1].Text, "<!DOCTYPE html>\n<html lang=\"en\">"))
	require.Equal(t, []shapedBlock{{KindHeading, 2, "XML Example"}, {KindCode, 0, note}, {KindCode, 0, note}}, blockShapes(doc)[2:])

	doc = parseFile("simple-table.md")
	require.Len(t, doc.Blocks, 1)
	require.Equal(t, [][]string{{"Item", "Price", "# In stock"}, {"Juicy Apples", "1.99", "739"}, {"Bananas", "1.89", "6"}}, doc.Blocks[0].Rows)

	doc = parseFile("sample-readme.md")
	require.Equal(t, "Example Docs", doc.Title)
	require.Equal(t, []string{
		"example-10k.html - A 10-K SEC filing in HTML format",
		"layout-parser-paper.pdf - A PDF copy of the layout parser paper",
		"factbook.xml/factbook.xsl - Example XML/XLS files that you can use to test stylesheets",
	}, blockTexts(doc, KindListItem))
	require.Equal(t, []string{"curl -O \\\n  -A '${organization} ${email}'\n  https://www.sec.gov/Archives/edgar/data/311094/000117184321001344/0001171843-21-001344.txt"},
		blockTexts(doc, KindCode))

	doc = parseFile("umlauts-non-utf8.md")
	require.Equal(t, []shapedBlock{{KindHeading, 2, "können"}, {KindParagraph, 0, "können"}, {KindParagraph, 0, "äöüß"}}, blockShapes(doc))

	doc = parseFile("SOURCE.md")
	require.Equal(t, "Test documents", doc.Title)
	require.NotContains(t, docText(doc), "`", "code spans are reduced to their text")
	require.Contains(t, docText(doc), "Notable cases: password.pdf and password_protected.xlsx are encrypted")
}

// goldmark's link matching grows faster than the square of the brackets of a
// paragraph: past a bound they are read as text, so a hostile paragraph of
// unclosed links parses in a blink instead of minutes.
func TestParseMarkdownManyBrackets(t *testing.T) {
	t.Parallel()
	src := "[first](https://example.com) " + strings.Repeat("[a](", 16<<10) + "\n\n```\n[kept](x)\n```\n\n[after](https://example.com)\n"
	start := time.Now()
	doc, err := parseString(t, FormatMarkdown, src)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 10*time.Second)
	texts := blockTexts(doc, KindParagraph)
	require.True(t, strings.HasPrefix(texts[0], "first [a]("), "links before the bound are read as links")
	require.Equal(t, []string{"[kept](x)"}, blockTexts(doc, KindCode), "code is never changed")
	require.Equal(t, "after", texts[len(texts)-1], "the bound is per paragraph")
}

// Hostile shapes goldmark is slow on are bounded before it sees them: a line of
// thousands of quote markers, a paragraph of thousands of escapes.
func TestParseMarkdownHostileShapes(t *testing.T) {
	t.Parallel()
	for name, src := range map[string]string{
		"deep quote":     strings.Repeat(">", 256<<10) + " deep\n",
		"escaped links":  strings.Repeat("\\[a](", 8<<10) + "\n",
		"a long line":    strings.Repeat("word ", 64<<10) + "\n",
		"many bracketed": strings.Repeat("[a](\n", 8<<10),
	} {
		start := time.Now()
		doc, err := parseString(t, FormatMarkdown, src)
		require.NoError(t, err, name)
		require.NotEmpty(t, doc.Blocks, name)
		require.Less(t, time.Since(start), 20*time.Second, name)
	}
}
