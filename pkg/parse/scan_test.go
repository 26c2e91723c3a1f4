package parse

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScanTextGoesInPageOrder(t *testing.T) {
	t.Parallel()
	d := &Document{
		Blocks: []Block{{Kind: KindParagraph, Text: "typed on page 1", Page: 1}, {Kind: KindParagraph, Text: "a page number", Page: 3},
			{Kind: KindParagraph, Text: "typed on page 4", Page: 4}},
		Scans: []Scan{{Page: 2}, {Page: 3}, {Page: 5}},
	}
	d.PutScanText([]string{
		"# Minutes\n\nThe board met on Tues-\nday and agreed\r\non the budget.\n  \nNext meeting: May",
		"page three",
		"",
	})
	var got []string
	for _, b := range d.Blocks {
		got = append(got, strings.Join([]string{string(rune('0' + b.Page)), map[BlockKind]string{KindHeading: "h", KindParagraph: "p"}[b.Kind], b.Text}, " "))
	}
	require.Equal(t, []string{
		"1 p typed on page 1",
		"2 h Minutes",
		"2 p The board met on Tuesday and agreed on the budget.",
		"2 p Next meeting: May",
		"3 p a page number",
		"3 p page three",
		"4 p typed on page 4",
	}, got)
	require.Nil(t, d.Scans, "the pictures are let go once read")

	d = &Document{Scans: []Scan{{Page: 1}}}
	d.PutScanText([]string{strings.Repeat("é", maxScanTextBytes)})
	require.LessOrEqual(t, len(d.Blocks[0].Text), maxScanTextBytes, "a reader gone astray is cut short")
	require.True(t, strings.HasSuffix(d.Blocks[0].Text, "é"), "at a character boundary")
}
