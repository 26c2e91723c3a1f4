package parse

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const (
	// xlsxMaxRowsPerTable and xlsxMaxTableBytes split big sheets into several
	// table blocks (each repeating the header row) so no block is huge.
	xlsxMaxRowsPerTable = 200
	xlsxMaxTableBytes   = 32 << 10
	// xlsxMaxCols bounds the padding a far-right cell reference may cause: a cell
	// at XFD1 must not make every row 16,384 cells wide.
	xlsxMaxCols = 512
)

// xlsxSheet is one worksheet listed in the workbook.
type xlsxSheet struct {
	name string
	part string
}

func parseXLSX(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	z, err := openZip(r, size, b)
	if err != nil {
		return nil, err
	}
	const wb = "xl/workbook.xml"
	sheets, err := xlsxSheets(z, wb)
	if err != nil {
		return nil, err
	}
	shared, err := xlsxSharedStrings(z, wb)
	if err != nil {
		return nil, err
	}
	styles, err := xlsxReadStyles(z, wb)
	if err != nil {
		return nil, err
	}
	out := &blockSink{b: b}
	for i, sh := range sheets {
		page := i + 1
		if b.limits.MaxPages > 0 && page > b.limits.MaxPages {
			return nil, Errorf(CodeTooLarge, "the workbook has more than %d sheets", b.limits.MaxPages)
		}
		if !z.has(sh.part) {
			continue
		}
		if err := xlsxSheetBlocks(z, sh, page, shared, styles, out); err != nil {
			return nil, err
		}
	}
	return &Document{Blocks: out.blocks, Pages: len(sheets), Title: partTitle(z, "docProps/core.xml")}, nil
}

// xlsxSheets lists worksheets in workbook order with their names.
func xlsxSheets(z *zipArchive, wb string) ([]xlsxSheet, error) {
	rels, err := readRels(z, wb)
	if err != nil {
		return nil, err
	}
	d, rc, err := z.decoder(wb)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var sheets []xlsxSheet
	for {
		tok, err := d.Token()
		if err != nil {
			if xerr := xmlError(wb, err); xerr != nil {
				return nil, xerr
			}
			return sheets, nil
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "sheet" {
			continue
		}
		rel, ok := rels[xmlAttrNS(se, "relationships", "id")]
		if !ok || rel.External || !relTypeIs(rel.Type, "worksheet") {
			// Chart sheets and dialog sheets hold no cells.
			continue
		}
		sh := xlsxSheet{name: xmlAttr(se, "name"), part: rel.Target}
		if err := z.b.retain(2*costString+int64(len(sh.name)+len(sh.part)), memParts); err != nil {
			return nil, err
		}
		sheets = append(sheets, sh)
	}
}

// xlsxSharedStrings reads the shared string table. Phonetic runs (rPh) are skipped:
// they repeat the text in another script. The table is held while the sheets are
// read, since any cell may refer to any string: every string is charged.
func xlsxSharedStrings(z *zipArchive, wb string) ([]string, error) {
	part := ""
	if rels, err := readRels(z, wb); err == nil {
		for _, rel := range rels {
			if relTypeIs(rel.Type, "sharedStrings") && !rel.External {
				part = rel.Target
			}
		}
	}
	if part == "" {
		part = "xl/sharedStrings.xml"
	}
	if !z.has(part) {
		return nil, nil
	}
	d, rc, err := z.decoder(part)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var (
		out  []string
		cur  heldText
		inT  bool
		inSI bool
	)
	defer cur.take(z.b)
	for {
		tok, err := d.Token()
		if err != nil {
			return out, xmlError(part, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				cur.take(z.b)
				inSI = true
			case "t":
				inT = inSI
			case "rPh":
				if err := d.Skip(); err != nil {
					return nil, xmlError(part, err)
				}
			}
		case xml.CharData:
			if inT {
				if err := cur.write(z.b, string(t), memSharedStrings); err != nil {
					return nil, err
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inT = false
			case "si":
				// The string keeps what its builder holds, charged already; its slot
				// in the table is charged with the table's growth slack.
				str, _ := cur.detach()
				if err := z.b.retain(costString, memSharedStrings); err != nil {
					return nil, err
				}
				out = append(out, str)
				inSI = false
			}
		}
	}
}

// xlsxTable accumulates one sheet's rows and flushes them in bounded tables.
type xlsxTable struct {
	out    *blockSink
	page   int
	header []string
	rows   [][]string
	bytes  int
	title  string
	titled bool
	// held is what the pending rows are charged (the row being read included).
	held int64
}

// cell charges a cell of the row being read: a sheet streams, but a row is
// gathered whole, and one may be very wide.
func (t *xlsxTable) cell(n int64) error {
	t.held += n
	return t.out.b.retain(n, memRow)
}

func (t *xlsxTable) addRow(row []string) error {
	if t.header == nil {
		t.header = row
		t.bytes = xlsxRowBytes(row)
		return nil
	}
	t.rows = append(t.rows, row)
	t.bytes += xlsxRowBytes(row)
	if len(t.rows) >= xlsxMaxRowsPerTable || t.bytes >= xlsxMaxTableBytes {
		return t.flush()
	}
	return nil
}

func xlsxRowBytes(row []string) int {
	n := 0
	for _, c := range row {
		n += len(c) + 3
	}
	return n
}

// flush writes the pending rows as a table headed by the sheet's first row.
func (t *xlsxTable) flush() error {
	if t.header == nil || (len(t.rows) == 0 && t.titled) {
		return nil
	}
	if !t.titled {
		// The sheet name heads the sheet's tables, once, and only when it has cells.
		if err := t.out.add(Block{Kind: KindHeading, Level: 1, Text: t.title, Page: t.page}); err != nil {
			return err
		}
		t.titled = true
	}
	rows := append([][]string{t.header}, t.rows...)
	width := 0
	for _, r := range rows {
		for i := len(r) - 1; i >= 0; i-- {
			if strings.TrimSpace(r[i]) != "" {
				width = max(width, i+1)
				break
			}
		}
	}
	// Columns empty in every row (margins left of the data) carry nothing.
	first := width
	for _, r := range rows {
		for i := 0; i < len(r) && i < first; i++ {
			if strings.TrimSpace(r[i]) != "" {
				first = i
				break
			}
		}
	}
	for i, r := range rows {
		r = r[:min(len(r), width)]
		rows[i] = r[min(first, len(r)):]
	}
	// The block holds the rows from now on; the header stays for the next one.
	t.out.b.release(t.held - rowCost(t.header))
	t.held = rowCost(t.header)
	t.rows, t.bytes = nil, xlsxRowBytes(t.header)
	if err := t.out.b.check(); err != nil {
		return err
	}
	if len(rows) == 1 && len(rows[0]) == 1 {
		return t.out.add(Block{Kind: KindParagraph, Text: rows[0][0], Page: t.page})
	}
	return t.out.add(Block{Kind: KindTable, Text: renderTable(rows), Rows: rows, Page: t.page})
}

// xlsxSheetBlocks streams one worksheet into a heading and table blocks.
func xlsxSheetBlocks(z *zipArchive, sh xlsxSheet, page int, shared []string, styles *xlsxStyles, out *blockSink) error {
	rc, err := z.open(sh.part)
	if err != nil {
		return err
	}
	defer rc.Close()
	name := sh.name
	if strings.TrimSpace(name) == "" {
		name = fmt.Sprintf("Sheet %d", page)
	}
	tbl := &xlsxTable{out: out, page: page, title: name}
	defer func() { out.b.release(tbl.held) }()
	d := newXMLDecoder(rc, z.b)
	var (
		row     []string
		col     int
		typ     string
		style   string
		val     heldText
		inValue bool
		inRow   bool
	)
	defer val.take(out.b)
	for {
		tok, err := d.Token()
		if err != nil {
			if xerr := xmlError(sh.part, err); xerr != nil {
				return xerr
			}
			return tbl.flush()
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "row":
				row, col, inRow = nil, 0, true
			case "c":
				typ, style = xmlAttr(t, "t"), xmlAttr(t, "s")
				if c, ok := xlsxColumn(xmlAttr(t, "r")); ok {
					col = c
				}
				val.take(out.b)
			case "v", "t":
				inValue = inRow
			case "rPh":
				if err := d.Skip(); err != nil {
					return xmlError(sh.part, err)
				}
			}
		case xml.CharData:
			if inValue {
				if err := val.write(out.b, string(t), memRow); err != nil {
					return err
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "v", "t":
				inValue = false
			case "c":
				if !inRow {
					continue
				}
				text := xlsxCellText(typ, style, val.take(out.b), shared, styles)
				if text != "" {
					before := len(row)
					if col < xlsxMaxCols {
						for len(row) < col {
							row = append(row, "")
						}
					}
					row = append(row, text)
					if err := tbl.cell(stringCost(len(text)) + int64(len(row)-before-1)*costString); err != nil {
						return err
					}
				}
				col = max(col+1, len(row))
			case "row":
				inRow = false
				if len(row) > 0 {
					if err := tbl.addRow(row); err != nil {
						return err
					}
				}
			}
		}
	}
}

// xlsxCellText renders a cell value as a reader sees it: shared and inline
// strings as text, booleans as TRUE/FALSE, numbers through their style's
// number format (dates, percentages, amounts).
func xlsxCellText(typ, style, raw string, shared []string, styles *xlsxStyles) string {
	switch typ {
	case "", "n":
		return styles.format(style, raw)
	case "s":
		if i, err := strconv.Atoi(strings.TrimSpace(raw)); err == nil && i >= 0 && i < len(shared) {
			return shared[i]
		}
		return ""
	case "b":
		switch strings.TrimSpace(raw) {
		case "1":
			return "TRUE"
		case "0":
			return "FALSE"
		}
	}
	return raw
}

// xlsxColumn returns the 0-based column of a cell reference such as "BC12".
func xlsxColumn(ref string) (int, bool) {
	col, n := 0, 0
	for _, r := range ref {
		switch {
		case r >= 'A' && r <= 'Z':
			col = col*26 + int(r-'A'+1)
		case r >= 'a' && r <= 'z':
			col = col*26 + int(r-'a'+1)
		default:
			if n == 0 {
				return 0, false
			}
			return col - 1, col > 0 && col <= 16384
		}
		n++
		if n > 3 {
			return 0, false
		}
	}
	return col - 1, n > 0 && col <= 16384
}
