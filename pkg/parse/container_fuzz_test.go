package parse

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// Minimal documents of each container format: fuzz seeds and unit-test inputs.

const relsNS = `http://schemas.openxmlformats.org/officeDocument/2006/relationships`

func seedDOCX(t testing.TB) []byte {
	return buildZip(t,
		zipPart{"[Content_Types].xml", `<Types/>`},
		zipPart{"_rels/.rels", `<Relationships><Relationship Id="r1" Type="` + relsNS + `/officeDocument" Target="word/document.xml"/></Relationships>`},
		zipPart{"word/_rels/document.xml.rels", `<Relationships><Relationship Id="h1" Type="` + relsNS + `/header" Target="header1.xml"/></Relationships>`},
		zipPart{"word/header1.xml", `<w:hdr xmlns:w="w"><w:p><w:r><w:t>Header text</w:t></w:r></w:p></w:hdr>`},
		zipPart{"word/styles.xml", `<w:styles xmlns:w="w"><w:style w:styleId="Kop1"><w:name w:val="heading 1"/></w:style></w:styles>`},
		zipPart{"word/document.xml", `<w:document xmlns:w="w"><w:body>
<w:p><w:pPr><w:pStyle w:val="Kop1"/></w:pPr><w:r><w:t>Title here</w:t></w:r></w:p>
<w:p><w:pPr><w:numPr><w:ilvl w:val="1"/><w:numId w:val="3"/></w:numPr></w:pPr><w:r><w:t>An item</w:t></w:r></w:p>
<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b</w:t></w:r></w:p></w:tc></w:tr>
<w:tr><w:tc><w:tcPr><w:gridSpan w:val="2"/></w:tcPr><w:p><w:r><w:t>c</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
<w:p><w:r><w:t>Before</w:t><w:br w:type="page"/><w:t>After</w:t><w:tab/><w:t>tab</w:t></w:r></w:p>
</w:body></w:document>`},
	)
}

func seedPPTX(t testing.TB) []byte {
	return buildZip(t,
		zipPart{"[Content_Types].xml", `<Types/>`},
		zipPart{"ppt/presentation.xml", `<p:presentation xmlns:p="p" xmlns:r="` + relsNS + `"><p:sldIdLst><p:sldId id="256" r:id="rId2"/></p:sldIdLst></p:presentation>`},
		zipPart{"ppt/_rels/presentation.xml.rels", `<Relationships><Relationship Id="rId2" Type="` + relsNS + `/slide" Target="slides/slide1.xml"/></Relationships>`},
		zipPart{"ppt/slides/_rels/slide1.xml.rels", `<Relationships><Relationship Id="n" Type="` + relsNS + `/notesSlide" Target="../notesSlides/notesSlide1.xml"/></Relationships>`},
		zipPart{"ppt/slides/slide1.xml", `<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree>
<p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Quarterly results</a:t></a:r></a:p></p:txBody></p:sp>
<p:sp><p:txBody><a:p><a:pPr lvl="1"/><a:r><a:t>Revenue grew</a:t></a:r></a:p></p:txBody></p:sp>
<p:graphicFrame><a:graphic><a:graphicData><a:tbl><a:tr><a:tc><a:txBody><a:p><a:r><a:t>Q1</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>10</a:t></a:r></a:p></a:txBody></a:tc></a:tr>
<a:tr><a:tc><a:txBody><a:p><a:r><a:t>Q2</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>12</a:t></a:r></a:p></a:txBody></a:tc></a:tr></a:tbl></a:graphicData></a:graphic></p:graphicFrame>
</p:spTree></p:cSld></p:sld>`},
		zipPart{"ppt/notesSlides/notesSlide1.xml", `<p:notes xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>Speaker note</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:notes>`},
	)
}

func seedXLSX(t testing.TB) []byte {
	return buildZip(t,
		zipPart{"[Content_Types].xml", `<Types/>`},
		zipPart{"xl/workbook.xml", `<workbook xmlns:r="` + relsNS + `"><sheets><sheet name="Budget" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		zipPart{"xl/_rels/workbook.xml.rels", `<Relationships><Relationship Id="rId1" Type="` + relsNS + `/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="` + relsNS + `/sharedStrings" Target="sharedStrings.xml"/></Relationships>`},
		zipPart{"xl/sharedStrings.xml", `<sst><si><t>Item</t></si><si><r><t>Co</t></r><r><t>st</t></r></si><si><t>Paper</t></si></sst>`},
		zipPart{"xl/worksheets/sheet1.xml", `<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>
<row r="3"><c r="A3" t="s"><v>2</v></c><c r="C3"><v>12.50</v></c><c r="D3" t="b"><v>1</v></c><c r="E3" t="inlineStr"><is><t>note</t></is></c></row></sheetData></worksheet>`},
	)
}

func seedODT(t testing.TB) []byte {
	return buildZip(t,
		zipPart{"mimetype", "application/vnd.oasis.opendocument.text"},
		zipPart{"meta.xml", `<office:document-meta xmlns:office="o" xmlns:dc="dc"><office:meta><dc:title>Seed</dc:title></office:meta></office:document-meta>`},
		zipPart{"content.xml", `<office:document-content xmlns:office="o" xmlns:text="t" xmlns:table="tb"><office:body><office:text>
<text:h text:outline-level="2">Section</text:h><text:p>One<text:s text:c="3"/>two<text:tab/>three</text:p>
<text:list><text:list-item><text:p>Item</text:p><text:list><text:list-item><text:p>Nested</text:p></text:list-item></text:list></text:list-item></text:list>
<table:table><table:table-row><table:table-cell table:number-columns-repeated="2"><text:p>x</text:p></table:table-cell></table:table-row>
<table:table-row><table:table-cell><text:p>y</text:p></table:table-cell><table:covered-table-cell/></table:table-row></table:table>
<text:soft-page-break/><text:p>Next page</text:p></office:text></office:body></office:document-content>`},
	)
}

func seedEPUB(t testing.TB) []byte {
	return buildZip(t,
		zipPart{"mimetype", "application/epub+zip"},
		zipPart{"META-INF/container.xml", `<container><rootfiles><rootfile full-path="OEBPS/content.opf"/></rootfiles></container>`},
		zipPart{"OEBPS/content.opf", `<package xmlns:dc="dc"><metadata><dc:title>Seed Book</dc:title></metadata>
<manifest><item id="c1" href="ch%201.xhtml" media-type="application/xhtml+xml"/><item id="c2" href="ch2.xhtml" media-type="application/xhtml+xml"/></manifest>
<spine><itemref idref="c2"/><itemref idref="c1"/></spine></package>`},
		zipPart{"OEBPS/ch 1.xhtml", `<html><head><title>x</title><style>p{}</style></head><body><h1>Chapter One</h1><p>First <b>chapter</b> text.</p><script>var x;</script><ul><li>point</li></ul></body></html>`},
		zipPart{"OEBPS/ch2.xhtml", `<html><body><h2>Preface</h2><p>Comes first.</p><table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr></table></body></html>`},
	)
}

// fuzzParser calls a format's parser directly, not through Parse, so that a panic
// fails the fuzz run instead of being recovered into an error.
func fuzzParser(t *testing.T, format Format, data []byte) {
	limits := Limits{MaxInflatedBytes: 8 << 20, MaxEntries: 200, MaxPages: 50, MaxTextBytes: 1 << 20,
		MaxRetainedBytes: 16 << 20, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), limits.Timeout)
	defer cancel()
	doc, err := parsers[format](ctx, bytes.NewReader(data), int64(len(data)), newBudget(ctx, limits))
	if err != nil {
		return
	}
	if doc == nil {
		t.Fatal("nil document without error")
	}
	for _, b := range doc.Blocks {
		if b.Kind == KindTable && b.Text != renderTable(b.Rows) {
			t.Fatalf("table text does not match rows")
		}
	}
}

func FuzzParsePDF(f *testing.F) {
	f.Add(onePagePDF("BT /F1 12 Tf 72 700 Td (Hello) Tj [(a) -300 (b)] TJ ET", false))
	f.Add(onePagePDF("BT /F1 12 Tf 1 0 0 1 72 700 Tm (x) ' ET", true))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParser(t, FormatPDF, data) })
}

func FuzzParseDOCX(f *testing.F) {
	f.Add(seedDOCX(f))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParser(t, FormatDOCX, data) })
}

func FuzzParsePPTX(f *testing.F) {
	f.Add(seedPPTX(f))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParser(t, FormatPPTX, data) })
}

func FuzzParseXLSX(f *testing.F) {
	f.Add(seedXLSX(f))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParser(t, FormatXLSX, data) })
}

func FuzzParseODT(f *testing.F) {
	f.Add(seedODT(f))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParser(t, FormatODT, data) })
}

func FuzzParseEPUB(f *testing.F) {
	f.Add(seedEPUB(f))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParser(t, FormatEPUB, data) })
}

func FuzzSniffZip(f *testing.F) {
	f.Add(seedDOCX(f))
	f.Add(seedODT(f))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		format, ok := sniffZip(bytes.NewReader(data), int64(len(data)))
		if ok != (format != "") {
			t.Fatalf("ok=%v with format %q", ok, format)
		}
	})
}
