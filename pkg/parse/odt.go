package parse

import (
	"context"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
)

// odtMaxRepeat bounds number-columns-repeated / number-rows-repeated: writers use
// huge repeats for trailing empty cells, and honouring them blindly is a bomb.
const odtMaxRepeat = 64

func parseODT(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	z, err := openZip(r, size, b)
	if err != nil {
		return nil, err
	}
	const part = "content.xml"
	rc, err := z.open(part)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	w := &odtWalker{out: &blockSink{b: b}, page: 1}
	defer w.release()
	if err := w.walk(newXMLDecoder(rc, b), part); err != nil {
		return nil, err
	}
	doc := &Document{Blocks: w.out.blocks, Title: partTitle(z, "meta.xml")}
	if w.page > 1 {
		doc.Pages = w.page
	} else {
		for i := range doc.Blocks {
			doc.Blocks[i].Page = 0
		}
	}
	return doc, nil
}

// odtPara is a text:p or text:h being read; notes and frames nest paragraphs.
type odtPara struct {
	text    heldText
	heading int
	list    int
}

type odtTable struct {
	rows [][]string
	row  []string
	cell *heldText
	// held is what the rows are charged until the table is added.
	held      int64
	colRepeat int
	rowRepeat int
}

// odtWalker streams content.xml into blocks.
type odtWalker struct {
	out    *blockSink
	page   int
	paras  []*odtPara
	tables []*odtTable
	lists  int
}

// release credits what the walker still holds at the end, whole or not.
func (w *odtWalker) release() {
	for _, p := range w.paras {
		p.text.take(w.out.b)
	}
	for _, tb := range w.tables {
		w.out.b.release(tb.held)
		if tb.cell != nil {
			tb.cell.take(w.out.b)
		}
	}
	w.paras, w.tables = nil, nil
}

// write adds text to the paragraph being read, charging it.
func (w *odtWalker) write(p *odtPara, s string) error {
	return p.text.write(w.out.b, s, memParagraph)
}

func (w *odtWalker) walk(d *xmlDecoder, part string) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return xmlError(part, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := w.start(d, t); err != nil {
				return xmlError(part, err)
			}
		case xml.EndElement:
			if err := w.end(t); err != nil {
				return err
			}
		case xml.CharData:
			if p := w.para(); p != nil {
				if err := w.write(p, string(t)); err != nil {
					return err
				}
			}
		}
	}
}

func (w *odtWalker) para() *odtPara {
	if len(w.paras) == 0 {
		return nil
	}
	return w.paras[len(w.paras)-1]
}

func (w *odtWalker) table() *odtTable {
	if len(w.tables) == 0 {
		return nil
	}
	return w.tables[len(w.tables)-1]
}

func (w *odtWalker) start(d *xmlDecoder, t xml.StartElement) error {
	p := w.para()
	switch t.Name.Local {
	case "annotation", "tracked-changes", "note-citation", "sequence-decls", "title", "desc":
		// Comments, deleted revisions and footnote marks are not body text.
		return d.Skip()
	case "p", "h":
		np := &odtPara{list: w.lists}
		if t.Name.Local == "h" {
			np.heading = 1
			if n, err := strconv.Atoi(xmlAttr(t, "outline-level")); err == nil && n >= 1 && n <= 10 {
				np.heading = n
			}
		}
		w.paras = append(w.paras, np)
	case "s":
		if p != nil {
			n, err := strconv.Atoi(xmlAttr(t, "c"))
			if err != nil || n < 1 {
				n = 1
			}
			return w.write(p, strings.Repeat(" ", min(n, 64)))
		}
	case "tab":
		if p != nil {
			return w.write(p, "\t")
		}
	case "line-break":
		if p != nil {
			return w.write(p, "\n")
		}
	case "soft-page-break":
		w.page++
		if lim := w.out.b.limits.MaxPages; lim > 0 && w.page > lim {
			return Errorf(CodeTooLarge, "the document has more than %d pages", lim)
		}
	case "list":
		w.lists++
	case "table":
		w.tables = append(w.tables, &odtTable{})
	case "table-row":
		if tb := w.table(); tb != nil {
			tb.row = nil
			tb.rowRepeat = odtRepeat(xmlAttr(t, "number-rows-repeated"))
		}
	case "table-cell", "covered-table-cell":
		if tb := w.table(); tb != nil {
			if tb.cell != nil {
				tb.cell.take(w.out.b)
			}
			tb.cell = &heldText{}
			tb.colRepeat = odtRepeat(xmlAttr(t, "number-columns-repeated"))
		}
	}
	return nil
}

func odtRepeat(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	return min(n, odtMaxRepeat)
}

func (w *odtWalker) end(t xml.EndElement) error {
	switch t.Name.Local {
	case "p", "h":
		if len(w.paras) == 0 {
			return nil
		}
		p := w.paras[len(w.paras)-1]
		w.paras = w.paras[:len(w.paras)-1]
		text := p.text.take(w.out.b)
		if outer := w.para(); outer != nil {
			// A note or frame inside a paragraph: keep its text with the paragraph.
			return w.write(outer, " "+text+" ")
		}
		if tb := w.table(); tb != nil && tb.cell != nil {
			return tb.cell.write(w.out.b, text+"\n", memTable)
		}
		blk := Block{Kind: KindParagraph, Text: text, Page: w.page}
		switch {
		case p.heading > 0:
			blk.Kind, blk.Level = KindHeading, p.heading
		case p.list > 0:
			blk.Kind, blk.Level = KindListItem, p.list
		}
		return w.out.add(blk)
	case "list":
		w.lists = max(0, w.lists-1)
	case "table-cell", "covered-table-cell":
		if tb := w.table(); tb != nil && tb.cell != nil {
			text := tb.cell.take(w.out.b)
			n := tb.colRepeat
			if strings.TrimSpace(text) == "" {
				n = min(n, 1)
			}
			for range n {
				tb.row = append(tb.row, text)
			}
			tb.cell = nil
			cost := stringCost(len(text)) + int64(n)*costString
			tb.held += cost
			return w.out.b.retain(cost, memTable)
		}
	case "table-row":
		if tb := w.table(); tb != nil {
			n := tb.rowRepeat
			if odtRowEmpty(tb.row) {
				n = 0
			}
			for range n {
				tb.rows = append(tb.rows, tb.row)
			}
			// The cells were charged as they came; repeated rows share them.
			cost := int64(n) * costSlice
			tb.row = nil
			tb.held += cost
			return w.out.b.retain(cost, memTable)
		}
	case "table":
		if len(w.tables) == 0 {
			return nil
		}
		tb := w.tables[len(w.tables)-1]
		w.tables = w.tables[:len(w.tables)-1]
		defer w.out.b.release(tb.held)
		if outer := w.table(); outer != nil && outer.cell != nil {
			for _, r := range tb.rows {
				if err := outer.cell.write(w.out.b, strings.Join(r, " ")+"\n", memTable); err != nil {
					return err
				}
			}
			return nil
		}
		if err := w.out.b.check(); err != nil {
			return err
		}
		return w.out.addTable(tb.rows, w.page)
	}
	return nil
}

func odtRowEmpty(row []string) bool {
	for _, c := range row {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}
