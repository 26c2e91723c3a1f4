package parse

import (
	"testing"

	"github.com/stretchr/testify/require"
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
