package parse

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFormatNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v        float64
		code     string
		date1904 bool
		want     string
	}{
		{45366, xlsxBuiltinFormats[14], false, "2024-03-15"},
		{45366.5729166667, xlsxBuiltinFormats[22], false, "2024-03-15 13:45"},
		{45366, "d-mmm-yy", false, "2024-03-15"},
		{45366, "dd/mm/yyyy", false, "2024-03-15"},
		{45366, `[$-409]mmmm\ d\,\ yyyy;@`, false, "2024-03-15"},
		{43904, "yyyy-mm-dd", true, "2024-03-15"}, // 1904 system: 1462 days fewer
		{59, "yyyy-mm-dd", false, "1900-02-28"},
		{60, "yyyy-mm-dd", false, "1900-02-29"}, // Excel's leap-year bug
		{61, "yyyy-mm-dd", false, "1900-03-01"},
		{1, "yyyy-mm-dd", false, "1900-01-01"},
		{0.5729166667, xlsxBuiltinFormats[20], false, "13:45"},
		{0.573, xlsxBuiltinFormats[21], false, "13:45:07"},
		{0.5729166667, xlsxBuiltinFormats[18], false, "13:45"},
		{1.5, xlsxBuiltinFormats[46], false, "36:00:00"},
		{0.256, xlsxBuiltinFormats[9], false, "26%"},
		{0.256, xlsxBuiltinFormats[10], false, "25.60%"},
		{1234.5, xlsxBuiltinFormats[5], false, "$1,235"},
		{-1234.5, xlsxBuiltinFormats[7], false, "($1,234.50)"},
		{-1234.5, xlsxBuiltinFormats[8], false, "($1,234.50)"},
		{1234567.891, xlsxBuiltinFormats[4], false, "1,234,567.89"},
		{-5, xlsxBuiltinFormats[37], false, "(5)"},
		{1234.5, xlsxBuiltinFormats[44], false, "$1,234.50"},
		{0, xlsxBuiltinFormats[44], false, "$-"},
		{-3, "0.0", false, "-3.0"},
		{1234.5, `#,##0.00\ [$€-407]`, false, "1,234.50 €"},
		{1234.5, `[$£-809]#,##0.00`, false, "£1,234.50"},
		{12345.678, xlsxBuiltinFormats[11], false, "1.23E+04"},
		{0.5, "0.00 \"kg\"", false, "0.50 kg"},
	}
	for _, tt := range tests {
		got, ok := formatNumber(tt.v, tt.code, tt.date1904)
		require.True(t, ok, "%v %q", tt.v, tt.code)
		require.Equal(t, tt.want, got, "%v %q", tt.v, tt.code)
	}
	// General and fractions keep the stored number.
	for _, code := range []string{"General", "# ?/?"} {
		_, ok := formatNumber(1.5, code, false)
		require.False(t, ok, code)
	}
}

func TestXLSXNumberFormats(t *testing.T) {
	t.Parallel()
	const rels = `http://schemas.openxmlformats.org/officeDocument/2006/relationships`
	data := buildZip(t,
		zipPart{"[Content_Types].xml", `<Types/>`},
		zipPart{"xl/workbook.xml", `<workbook xmlns:r="` + rels + `"><workbookPr date1904="0"/><sheets><sheet name="Budget" r:id="rId1"/></sheets></workbook>`},
		zipPart{"xl/_rels/workbook.xml.rels", `<Relationships><Relationship Id="rId1" Type="` + rels + `/worksheet" Target="worksheets/sheet1.xml"/>` +
			`<Relationship Id="rId2" Type="` + rels + `/styles" Target="styles.xml"/></Relationships>`},
		zipPart{"xl/styles.xml", `<styleSheet><numFmts count="1"><numFmt numFmtId="164" formatCode="&quot;€&quot;#,##0.00"/></numFmts>` +
			`<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="10"/><xf numFmtId="164"/><xf numFmtId="21"/></cellXfs></styleSheet>`},
		zipPart{"xl/worksheets/sheet1.xml", `<worksheet><sheetData>` +
			`<row r="1"><c r="A1" t="inlineStr"><is><t>Date</t></is></c><c r="B1" t="inlineStr"><is><t>Share</t></is></c><c r="C1" t="inlineStr"><is><t>Amount</t></is></c><c r="D1" t="inlineStr"><is><t>At</t></is></c><c r="E1" t="inlineStr"><is><t>Count</t></is></c></row>` +
			`<row r="2"><c r="A2" s="1"><v>45366</v></c><c r="B2" s="2"><v>0.125</v></c><c r="C2" s="3"><v>1234.5</v></c><c r="D2" s="4"><v>0.5</v></c><c r="E2" s="0"><v>42</v></c></row>` +
			`</sheetData></worksheet>`},
	)
	doc, err := Parse(context.Background(), FormatXLSX, bytes.NewReader(data), int64(len(data)), DefaultLimits())
	require.NoError(t, err)
	require.True(t, hasTableRow(doc, []string{"2024-03-15", "12.50%", "€1,234.50", "12:00:00", "42"}), "rows: %v", allText(doc))
	require.NotContains(t, allText(doc), "45366")
}
