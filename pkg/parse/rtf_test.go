package parse

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseRTF(t *testing.T) {
	t.Parallel()
	src := `{\rtf1\ansi\ansicpg1251\deff0{\fonttbl{\f0\fcharset0 Arial;}{\f1\fcharset238 Arial CE;}}` +
		`{\colortbl;\red0\green0\blue0;}{\stylesheet{\s1 heading 1;}}` +
		`{\info{\title Quarterly {\i report}}{\author Someone}}` +
		`{\*\generator Writer;}` +
		`\pard\outlinelevel1\b Section\b0\par` +
		`\pard Caf\'e9? No: \'cf\'f0\'e8\'e2\'e5\'f2 \f1\'b9\f0\par` +
		`\pard\uc1 Emoji \u-10179?\u-8694? and \u8364\'80 euro\line next line\par` +
		`{\pict\pngblip 89504e470d0a}{\field{\*\fldinst HYPERLINK "http://x"}{\fldrslt link text}}\par` +
		`\pard \{braces\} and \\backslash\tab tab \emdash\~nbsp\par` +
		`{\*\unknowndest hidden}{\header header text}\bin4 ABCDvisible after bin\par}`
	doc, err := parseString(t, FormatRTF, src)
	require.NoError(t, err)
	require.Equal(t, "Quarterly report", doc.Title)
	require.Equal(t, []string{"Section"}, blockTexts(doc, KindHeading))
	require.Equal(t, []string{
		"Cafй? No: Привет ą",
		"Emoji 😊 and € euro\nnext line",
		"link text",
		"{braces} and \\backslash\ttab —\u00a0nbsp",
		"visible after bin",
	}, blockTexts(doc, KindParagraph))
	all := docText(doc)
	for _, absent := range []string{"Arial", "heading 1", "Someone", "Writer", "89504e", "HYPERLINK", "hidden", "header text", "ABCD"} {
		require.NotContains(t, all, absent)
	}
}

func TestParseRTFTableAndUnbalanced(t *testing.T) {
	t.Parallel()
	src := `{\rtf1\ansi Intro\par\trowd\cellx100\cellx200\pard\intbl A\cell B\cell\row` +
		`\pard\intbl 1\cell 2\par more\cell\row\pard After\par{{{{`
	doc, err := parseString(t, FormatRTF, src)
	require.NoError(t, err)
	require.Equal(t, []string{"Intro", "After"}, blockTexts(doc, KindParagraph))
	tables := blockTexts(doc, KindTable)
	require.Len(t, tables, 1)
	require.Equal(t, [][]string{{"A", "B"}, {"1", "2 more"}}, doc.Blocks[1].Rows)
}

func FuzzParseRTF(f *testing.F) {
	f.Add([]byte(`{\rtf1\ansi{\fonttbl{\f0 Arial;}}\pard Hello\par}`))
	f.Add([]byte(`{\rtf1\ansicpg932\uc2\u12354\'82\'a0 x\bin99999}`))
	f.Add([]byte(`{\rtf1\trowd\pard\intbl a\cell b\cell\row}`))
	f.Fuzz(func(t *testing.T, data []byte) { checkFuzzParse(t, FormatRTF, data) })
}
