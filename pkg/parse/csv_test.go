package parse

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSniffDelimiter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want rune
	}{
		{"comma", "a,b,c\n1,2,3\n", ','},
		{"semicolon with commas in text", "Lorem, ipsum; dolor; amet\nx; y; z\nsed, do; e; t\n", ';'},
		{"tab", "a\tb\n1\t2\n", '\t'},
		{"pipe", "a|b|c\n1|2|3\n", '|'},
		{"quoted commas ignored", "\"a,b,c\";d\n\"e,f\";g\n", ';'},
		{"single column", "one\ntwo\n", ','},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, sniffDelimiter(tc.in))
		})
	}
}

func TestParseCSV(t *testing.T) {
	t.Parallel()
	doc, err := parseString(t, FormatCSV, "name;note;qty\r\n\"Doe; John\";\"said \"\"hi\"\"\nthen left\";3\r\nshort\r\n;;\r\nbad \"quote;x;1;extra\r\n")
	require.NoError(t, err)
	require.Len(t, doc.Blocks, 1)
	require.Equal(t, KindTable, doc.Blocks[0].Kind)
	require.Equal(t, [][]string{
		{"name", "note", "qty"},
		{"Doe; John", "said \"hi\"\nthen left", "3"},
		{"short"},
		{"bad \"quote", "x", "1", "extra"},
	}, doc.Blocks[0].Rows)
	require.Contains(t, doc.Blocks[0].Text, "| said \"hi\" then left |")
}

func TestParseCSVUTF16(t *testing.T) {
	t.Parallel()
	src := "\xFF\xFE" + string([]byte{'a', 0, '\t', 0, 'b', 0, '\n', 0, '1', 0, '\t', 0, '2', 0})
	doc, err := parseString(t, FormatCSV, src)
	require.NoError(t, err)
	require.Equal(t, [][]string{{"a", "b"}, {"1", "2"}}, doc.Blocks[0].Rows)
}

func TestParseCSVLargeSplitsWithHeader(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	sb.WriteString("id,city,comment\n")
	for i := range 5000 {
		fmt.Fprintf(&sb, "%d,Zürich,\"line %d, with comma\"\n", i, i)
	}
	doc, err := parseString(t, FormatCSV, sb.String())
	require.NoError(t, err)
	require.Greater(t, len(doc.Blocks), 2)
	rows := 0
	for _, b := range doc.Blocks {
		require.Equal(t, KindTable, b.Kind)
		require.Equal(t, []string{"id", "city", "comment"}, b.Rows[0])
		rows += len(b.Rows) - 1
	}
	require.Equal(t, 5000, rows)
	last := doc.Blocks[len(doc.Blocks)-1].Rows
	require.Equal(t, []string{"4999", "Zürich", "line 4999, with comma"}, last[len(last)-1])
}

func TestParseCSVEmpty(t *testing.T) {
	t.Parallel()
	_, err := parseString(t, FormatCSV, ",,\n , \n\n")
	require.Equal(t, CodeEmpty, CodeOf(err))
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n"))
	f.Add([]byte("x;\"y;z\"\n\"unterminated\n"))
	f.Add([]byte("\xFF\xFEa\x00\t\x00b\x00"))
	f.Fuzz(func(t *testing.T, data []byte) { checkFuzzParse(t, FormatCSV, data) })
}
