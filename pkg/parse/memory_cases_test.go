package parse

import (
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
)

// Hostile inputs per parser; see memory_test.go. Sizes are of the input as the
// parser reads it (inflated, for the ZIP formats).

const mib = 1 << 20

// memoryTooLarge is the part of the message naming the memory budget.
var memoryTooLarge = "the parser's memory budget of " + byteSize(memBudget)

func TestMemoryCSV(t *testing.T) {
	runMemCases(t, []memCase{
		// O(1) per line: empty lines are skipped as they are read.
		{name: "128 MiB of empty lines", format: FormatCSV, streams: true,
			input:   fileInput("name,qty\n", "\n", scaled(128*mib), "tea,3\n"),
			message: "| tea | 3 |"},
		// A field is never held whole: the row fails past its bound.
		{name: "one 64 MiB field", format: FormatCSV,
			input: fileInput("name,note\nbig,\"", "x", scaled(64*mib), "\"\n"),
			code:  CodeTooLarge, message: "the CSV file has a row larger than 1 MiB"},
		// The rows stream into table blocks; what the blocks hold hits the budget.
		{name: "millions of tiny cells", format: FormatCSV,
			input: fileInput("a,b,c,d,e,f,g,h\n", "1,2,3,4,5,6,7,8\n", 8*mib, ""),
			code:  CodeTooLarge, message: memoryTooLarge},
	})
}

func TestMemoryText(t *testing.T) {
	runMemCases(t, []memCase{
		{name: "128 MiB of blank lines", format: FormatText, streams: true,
			input: fileInput("first\n", " \t\r\n", scaled(32*mib), "last\n"), message: "last"},
		{name: "one line of 128 MiB", format: FormatText,
			input: fileInput("", "word ", 26*mib, ""), code: CodeTooLarge, message: memoryTooLarge},
	})
}

func TestMemoryMarkdown(t *testing.T) {
	runMemCases(t, []memCase{
		{name: "128 MiB of blank lines", format: FormatMarkdown, streams: true,
			input: fileInput("# Title\n", " \t\r\n", scaled(32*mib), "text\n"), message: "text"},
		// A table is held until it ends.
		{name: "a table of 128 MiB", format: FormatMarkdown,
			input: fileInput("| a | b |\n|---|---|\n", "| 1 | 2 |\n", 13*mib, ""),
			code:  CodeTooLarge, message: memoryTooLarge},
	})
}

func TestMemoryHTML(t *testing.T) {
	// Formatting elements left open are re-opened by the HTML5 rules in every
	// block that follows: html.Parse cloned all 500 into each div (20 million
	// nodes, gigabytes, from a page of 500 KB). The tree here never clones.
	var open strings.Builder
	open.WriteString("<p>")
	for i := range 500 {
		fmt.Fprintf(&open, "<b id=%d>", i)
	}
	open.WriteString("</p>")
	runMemCases(t, []memCase{
		{name: "16 million sibling elements", format: FormatHTML,
			input: fileInput("<html><body>", "<p>x</p>", 16*mib, "</body></html>"),
			code:  CodeTooLarge, message: "the page's HTML elements exceed " + memoryTooLarge},
		// Deeper than the tree allows: the flat tokenizer reads it, streaming.
		{name: "16 million nested elements", format: FormatHTML, streams: true,
			input: fileInput("<html><body>", "<div>", scaled(16*mib), "deep text"), message: "deep text"},
		{name: "open formatting elements before 40000 blocks", format: FormatHTML,
			input: fileInput(open.String(), "<div>x</div>", scaled(40000), "<p>end</p>"), message: "end"},
	})
}

func TestMemoryXLSX(t *testing.T) {
	small := func(sheet string) []zipPart {
		return []zipPart{
			{"[Content_Types].xml", `<Types/>`},
			{"xl/workbook.xml", `<workbook xmlns:r="` + relsNS + `"><sheets><sheet name="Big" sheetId="1" r:id="rId1"/></sheets></workbook>`},
			{"xl/_rels/workbook.xml.rels", `<Relationships><Relationship Id="rId1" Type="` + relsNS + `/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="` + relsNS + `/sharedStrings" Target="sharedStrings.xml"/></Relationships>`},
		}
	}
	runMemCases(t, []memCase{
		// Any cell may name any shared string: the table is held, and charged.
		{name: "a shared string table of 256 MiB", format: FormatXLSX,
			input: bytesInput(func(t testing.TB) []byte {
				raw, size := deflateRepeat(t, "<sst>", "<si><t>shared string</t></si>", 9*mib, "</sst>")
				parts := append(small(""), zipPart{"xl/worksheets/sheet1.xml", `<worksheet><sheetData/></worksheet>`})
				return zipWithBig(t, parts, bigPart{"xl/sharedStrings.xml", raw, size})
			}),
			code: CodeTooLarge, message: "the spreadsheet's shared strings exceed " + memoryTooLarge},
		// A sheet streams: millions of cells cost what they yield.
		{name: "a sheet of 128 MiB of empty cells", format: FormatXLSX, streams: true,
			input: bytesInput(func(t testing.TB) []byte {
				raw, size := deflateRepeat(t, "<worksheet><sheetData>", `<row r="7"><c r="A7" s="1"/><c r="B7" s="1"/><c r="C7" s="2"/></row>`,
					int(scaled(128*mib/68)),
					`<row><c t="inlineStr"><is><t>last cell</t></is></c></row></sheetData></worksheet>`)
				parts := append(small(""), zipPart{"xl/sharedStrings.xml", `<sst/>`})
				return zipWithBig(t, parts, bigPart{"xl/worksheets/sheet1.xml", raw, size})
			}),
			message: "last cell"},
	})
}

// docxWith returns a DOCX whose document.xml is head, unit n times, tail.
func docxWith(head, unit string, n int, tail string) func(testing.TB) (io.ReaderAt, int64) {
	return bytesInput(func(t testing.TB) []byte {
		raw, size := deflateRepeat(t, `<w:document xmlns:w="w"><w:body>`+head, unit, n, tail+`</w:body></w:document>`)
		return zipWithBig(t, []zipPart{{"[Content_Types].xml", `<Types/>`}}, bigPart{"word/document.xml", raw, size})
	})
}

func TestMemoryDOCX(t *testing.T) {
	runMemCases(t, []memCase{
		{name: "128 MiB of empty paragraphs", format: FormatDOCX, streams: true,
			input: docxWith(`<w:p><w:r><w:t>first</w:t></w:r></w:p>`,
				`<w:p w:rsidR="00A1B2C3" w:rsidRDefault="00A1B2C3" w:rsidP="00D4E5F6" w:rsidRPr="00D4E5F6" w14:paraId="1A2B3C4D" w14:textId="77777777"/>`,
				int(scaled(128*mib/135)), `<w:p><w:r><w:t>last</w:t></w:r></w:p>`),
			message: "last"},
		{name: "paragraphs nested 2 million deep", format: FormatDOCX,
			input: docxWith("", `<w:p>`, 2*mib, ""), code: CodeTooLarge, message: "nests elements more than 1000 deep"},
		{name: "a table of 128 MiB", format: FormatDOCX,
			input: docxWith("<w:tbl>", `<w:tr><w:tc><w:p><w:r><w:t>cell</w:t></w:r></w:p></w:tc></w:tr>`, 2*mib, "</w:tbl>"),
			code:  CodeTooLarge, message: "a table of the document exceeds " + memoryTooLarge},
	})
}

func TestMemoryPPTX(t *testing.T) {
	runMemCases(t, []memCase{
		// A slide is read whole (its title goes first): it is charged.
		{name: "a slide of 128 MiB", format: FormatPPTX,
			input: bytesInput(func(t testing.TB) []byte {
				raw, size := deflateRepeat(t, `<p:sld xmlns:p="p" xmlns:a="a"><p:sp>`, `<a:p><a:r><a:t>bullet text</a:t></a:r></a:p>`, 3*mib, `</p:sp></p:sld>`)
				return zipWithBig(t, []zipPart{
					{"[Content_Types].xml", `<Types/>`},
					{"ppt/presentation.xml", `<p:presentation xmlns:p="p" xmlns:r="` + relsNS + `"><p:sldIdLst><p:sldId r:id="a"/></p:sldIdLst></p:presentation>`},
					{"ppt/_rels/presentation.xml.rels", `<Relationships><Relationship Id="a" Type="` + relsNS + `/slide" Target="slides/slide1.xml"/></Relationships>`},
				}, bigPart{"ppt/slides/slide1.xml", raw, size})
			}),
			code: CodeTooLarge, message: "a slide of the presentation exceeds " + memoryTooLarge},
	})
}

func TestMemoryODT(t *testing.T) {
	runMemCases(t, []memCase{
		{name: "a table of 128 MiB", format: FormatODT,
			input: bytesInput(func(t testing.TB) []byte {
				raw, size := deflateRepeat(t, `<office:document-content><office:body><office:text><table:table>`,
					`<table:table-row><table:table-cell><text:p>cell</text:p></table:table-cell></table:table-row>`, 128*mib/93,
					`</table:table></office:text></office:body></office:document-content>`)
				return zipWithBig(t, []zipPart{{"mimetype", "application/vnd.oasis.opendocument.text"}}, bigPart{"content.xml", raw, size})
			}),
			code: CodeTooLarge, message: "a table of the document exceeds " + memoryTooLarge},
	})
}

func TestMemoryEPUB(t *testing.T) {
	runMemCases(t, []memCase{
		{name: "a chapter paragraph of 128 MiB", format: FormatEPUB,
			input: bytesInput(func(t testing.TB) []byte {
				raw, size := deflateRepeat(t, `<html><body><p>`, `words <b>in</b> one paragraph `, 128*mib/30, `</p></body></html>`)
				return zipWithBig(t, []zipPart{
					{"mimetype", "application/epub+zip"},
					{"META-INF/container.xml", `<container><rootfiles><rootfile full-path="OEBPS/content.opf"/></rootfiles></container>`},
					{"OEBPS/content.opf", `<package><manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="c1"/></spine></package>`},
				}, bigPart{"OEBPS/c1.xhtml", raw, size})
			}),
			code: CodeTooLarge, message: "a paragraph of the document exceeds " + memoryTooLarge},
	})
}

func TestMemoryEML(t *testing.T) {
	line := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("attached bytes! ", 4)[:57])) + "\r\n"
	runMemCases(t, []memCase{
		// Attachments are named, not held.
		{name: "an attachment of 128 MiB", format: FormatEML, streams: true,
			input: fileInput("From: a@example.com\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"+
				"--b\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"+
				"--b\r\nContent-Type: application/octet-stream; name=big.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n",
				line, scaled(128*mib)/int64(len(line)), "--b--\r\n"),
			message: "Attachments: big.bin"},
		// The text part is held until the parts are chosen: it is charged.
		{name: "a text body of 128 MiB", format: FormatEML,
			input: fileInput("From: a@example.com\r\nSubject: big\r\n\r\n", "body text\r\n", 12*mib, ""),
			code:  CodeTooLarge, message: "the message's parts exceed " + memoryTooLarge},
	})
}

func TestMemoryRTF(t *testing.T) {
	runMemCases(t, []memCase{
		{name: "one paragraph of 128 MiB", format: FormatRTF,
			input: fileInput(`{\rtf1\ansi `, `text {\b bold} `, 8*mib, `}`),
			code:  CodeTooLarge, message: "a paragraph of the document exceeds " + memoryTooLarge},
		{name: "128 MiB of skipped groups", format: FormatRTF, streams: true,
			input:   fileInput(`{\rtf1\ansi Before.\par `, `{\*\unknown skipped}`, scaled(6*mib), `After.\par}`),
			message: "After."},
	})
}

func TestMemoryPDF(t *testing.T) {
	runMemCases(t, []memCase{
		// A PDF is held whole: one larger than the budget is refused at once.
		{name: "a file of 128 MiB", format: FormatPDF,
			input: fileInput("%PDF-1.4\n", "% filler\n", 15*mib, "%%EOF\n"),
			code:  CodeTooLarge, message: "the file exceeds " + memoryTooLarge},
		{name: "a content stream inflating to 256 MiB", format: FormatPDF,
			input: bytesInput(func(t testing.TB) []byte {
				raw, _ := deflateRepeat(t, "BT /F1 12 Tf 72 720 Td ", "(text) Tj ", 26*mib, "ET")
				stream := "\x78\x9c" + string(raw) + "\x00\x00\x00\x00"
				return []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n" +
					"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" +
					"3 0 obj<</Type/Page/Parent 2 0 R/Contents 4 0 R>>endobj\n" +
					fmt.Sprintf("4 0 obj<</Length %d/Filter/FlateDecode>>stream\n", len(stream)) + stream +
					"\nendstream\nendobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
			}),
			code: CodeTooLarge, message: "the PDF's decoded streams exceed " + memoryTooLarge},
	})
}
