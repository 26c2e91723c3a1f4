package parse

import (
	"context"
	"encoding/xml"
	"io"
	"sort"
	"strconv"
	"strings"
)

// docxStyle is what we need from a paragraph style in word/styles.xml.
type docxStyle struct {
	name     string
	basedOn  string
	outline  int // 1-based heading level from w:outlineLvl, 0 when none
	numbered bool
	numLevel int
}

func parseDOCX(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	z, err := openZip(r, size, b)
	if err != nil {
		return nil, err
	}
	main := "word/document.xml"
	if rels, err := readRels(z, ""); err == nil {
		for _, rel := range rels {
			if relTypeIs(rel.Type, "officeDocument") && z.has(rel.Target) {
				main = rel.Target
			}
		}
	}
	styles, err := docxStyles(z, main)
	if err != nil {
		return nil, err
	}
	rels, err := readRels(z, main)
	if err != nil {
		return nil, err
	}
	var headers, footers, notes []string
	for _, rel := range rels {
		switch {
		case rel.External || !z.has(rel.Target):
		case relTypeIs(rel.Type, "header"):
			headers = append(headers, rel.Target)
		case relTypeIs(rel.Type, "footer"):
			footers = append(footers, rel.Target)
		case relTypeIs(rel.Type, "footnotes"), relTypeIs(rel.Type, "endnotes"):
			notes = append(notes, rel.Target)
		}
	}
	sort.Strings(headers)
	sort.Strings(footers)
	sort.Strings(notes)

	out := &blockSink{b: b}
	seen := map[string]bool{}
	// Headers and footers repeat on every page; each distinct text is kept once,
	// headers before the body and footers after it, where a reader meets them.
	addOnce := func(parts []string) error {
		for _, p := range parts {
			w := &docxWalker{styles: styles, out: &blockSink{b: b}}
			if err := w.walk(z, p); err != nil {
				return err
			}
			for _, blk := range w.out.blocks {
				if !seen[blk.Text] {
					seen[blk.Text] = true
					if err := b.retain(costEntry+int64(len(blk.Text)), memParts); err != nil {
						return err
					}
					if err := out.add(blk); err != nil {
						return err
					}
				}
			}
			w.out.free()
		}
		return nil
	}
	if err := addOnce(headers); err != nil {
		return nil, err
	}
	body := &docxWalker{styles: styles, out: out, page: 1, trackPages: true}
	if err := body.walk(z, main); err != nil {
		return nil, err
	}
	if err := addOnce(footers); err != nil {
		return nil, err
	}
	for _, p := range notes {
		w := &docxWalker{styles: styles, out: out}
		if err := w.walk(z, p); err != nil {
			return nil, err
		}
	}
	doc := &Document{Blocks: out.blocks, Title: partTitle(z, "docProps/core.xml")}
	if body.page > 1 {
		doc.Pages = body.page
	} else {
		// Without page breaks we do not know pages: say so rather than claim page 1.
		for i := range doc.Blocks {
			doc.Blocks[i].Page = 0
		}
	}
	return doc, nil
}

// docxStyles reads paragraph styles, resolving inheritance so that a style based
// on "heading 2" is a level-2 heading too.
func docxStyles(z *zipArchive, main string) (map[string]docxStyle, error) {
	styles := map[string]docxStyle{}
	part := zipResolve(main, "styles.xml")
	if !z.has(part) {
		return styles, nil
	}
	rc, err := z.open(part)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	d := newXMLDecoder(rc, z.b)
	var id string
	var cur docxStyle
	for {
		tok, err := d.Token()
		if err != nil {
			if xerr := xmlError(part, err); xerr != nil {
				// A damaged styles part costs us heading levels, not the document.
				if CodeOf(xerr) == CodeCorrupt {
					break
				}
				return nil, xerr
			}
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "style":
				id, cur = xmlAttr(t, "styleId"), docxStyle{}
			case "name":
				cur.name = strings.ToLower(xmlAttr(t, "val"))
			case "basedOn":
				cur.basedOn = xmlAttr(t, "val")
			case "outlineLvl":
				if n, err := strconv.Atoi(xmlAttr(t, "val")); err == nil && n >= 0 && n < 9 {
					cur.outline = n + 1
				}
			case "numId":
				cur.numbered = xmlAttr(t, "val") != "0"
			case "ilvl":
				cur.numLevel, _ = strconv.Atoi(xmlAttr(t, "val"))
			}
		case xml.EndElement:
			if t.Name.Local == "style" && id != "" {
				if err := z.b.retain(costEntry+64+int64(len(id)+len(cur.name)+len(cur.basedOn)), memParts); err != nil {
					return nil, err
				}
				styles[id] = cur
				id = ""
			}
		}
	}
	return styles, nil
}

// headingLevel returns the heading level of a paragraph style, or 0.
func (w *docxWalker) headingLevel(styleID string) int {
	for depth := 0; depth < 10 && styleID != ""; depth++ {
		st, ok := w.styles[styleID]
		name := st.name
		if !ok {
			name = strings.ToLower(styleID)
		}
		name = strings.ReplaceAll(name, " ", "")
		if name == "title" {
			return 1
		}
		if n, ok := strings.CutPrefix(name, "heading"); ok {
			if lvl, err := strconv.Atoi(n); err == nil && lvl >= 1 && lvl <= 9 {
				return lvl
			}
		}
		if st.outline > 0 {
			return st.outline
		}
		styleID = st.basedOn
	}
	return 0
}

// docxPara is the paragraph being read; paragraphs nest when a text box sits in a run.
type docxPara struct {
	text    heldText
	style   string
	outline int
	numID   string
	ilvl    int
}

// docxTable collects a table's rows; cell is the cell being read.
type docxTable struct {
	rows [][]string
	row  []string
	cell *heldText
	span int
	// held is what the rows are charged until the table is added.
	held int64
	// merged marks a vertically merged continuation cell, whose text Word hides.
	merged bool
}

// docxWalker streams one WordprocessingML part into blocks.
type docxWalker struct {
	styles     map[string]docxStyle
	out        *blockSink
	page       int
	trackPages bool
	justBroke  bool
	paras      []*docxPara
	tables     []*docxTable
	inText     bool
	inNumPr    bool
}

func (w *docxWalker) walk(z *zipArchive, part string) error {
	rc, err := z.open(part)
	if err != nil {
		return err
	}
	defer rc.Close()
	d := newXMLDecoder(rc, z.b)
	defer w.release()
	for {
		tok, err := d.Token()
		if err != nil {
			return xmlError(part, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := w.start(d, t); err != nil {
				return err
			}
		case xml.EndElement:
			if err := w.end(t); err != nil {
				return err
			}
		case xml.CharData:
			if w.inText && len(w.paras) > 0 {
				if err := w.write(string(t)); err != nil {
					return err
				}
			}
		}
	}
}

func (w *docxWalker) para() *docxPara {
	if len(w.paras) == 0 {
		return nil
	}
	return w.paras[len(w.paras)-1]
}

func (w *docxWalker) write(s string) error {
	if p := w.para(); p != nil {
		return p.text.write(w.out.b, s, memParagraph)
	}
	return nil
}

// release credits what the walker still holds when a part ends, whole or not.
func (w *docxWalker) release() {
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

func (w *docxWalker) start(d *xmlDecoder, t xml.StartElement) error {
	p := w.para()
	switch t.Name.Local {
	case "Fallback", "instrText", "delText", "rPr":
		// Fallback repeats the Choice content; field codes and deletions are not text.
		return d.Skip()
	case "p":
		w.paras = append(w.paras, &docxPara{})
	case "t":
		w.inText = true
	case "tab", "ptab":
		return w.write("\t")
	case "noBreakHyphen":
		return w.write("-")
	case "cr":
		return w.write("\n")
	case "br":
		if xmlAttr(t, "type") == "page" {
			return w.pageBreak(false)
		}
		return w.write("\n")
	case "lastRenderedPageBreak":
		return w.pageBreak(true)
	case "sym":
		if c, err := strconv.ParseUint(xmlAttr(t, "char"), 16, 32); err == nil && c >= 0x20 && c < 0xF000 {
			return w.write(string(rune(c)))
		}
	case "pStyle":
		if p != nil {
			p.style = xmlAttr(t, "val")
		}
	case "outlineLvl":
		if n, err := strconv.Atoi(xmlAttr(t, "val")); err == nil && n >= 0 && n < 9 && p != nil {
			p.outline = n + 1
		}
	case "numPr":
		w.inNumPr = true
	case "numId":
		if w.inNumPr && p != nil {
			p.numID = xmlAttr(t, "val")
		}
	case "ilvl":
		if w.inNumPr && p != nil {
			p.ilvl, _ = strconv.Atoi(xmlAttr(t, "val"))
		}
	case "tbl":
		w.tables = append(w.tables, &docxTable{})
	case "tr":
		if tb := w.table(); tb != nil {
			tb.row = nil
		}
	case "tc":
		if tb := w.table(); tb != nil {
			if tb.cell != nil {
				tb.cell.take(w.out.b)
			}
			tb.cell = &heldText{}
		}
	case "vMerge":
		if tb := w.table(); tb != nil && tb.cell != nil && xmlAttr(t, "val") != "restart" {
			tb.merged = true
		}
	case "gridSpan":
		if tb := w.table(); tb != nil && tb.cell != nil {
			if n, err := strconv.Atoi(xmlAttr(t, "val")); err == nil && n > 1 && n <= 64 {
				tb.span = n
			}
		}
	}
	return nil
}

func (w *docxWalker) table() *docxTable {
	if len(w.tables) == 0 {
		return nil
	}
	return w.tables[len(w.tables)-1]
}

func (w *docxWalker) end(t xml.EndElement) error {
	switch t.Name.Local {
	case "t":
		w.inText = false
	case "numPr":
		w.inNumPr = false
	case "p":
		if len(w.paras) == 0 {
			return nil
		}
		p := w.paras[len(w.paras)-1]
		w.paras = w.paras[:len(w.paras)-1]
		return w.emit(p)
	case "tc":
		if tb := w.table(); tb != nil && tb.cell != nil {
			text := tb.cell.take(w.out.b)
			if tb.merged {
				text = ""
			}
			tb.row = append(tb.row, text)
			// A merged cell spans columns: pad so later cells stay under their headers.
			for range tb.span - 1 {
				tb.row = append(tb.row, "")
			}
			cost := stringCost(len(text)) + int64(max(tb.span-1, 0))*costString
			tb.cell, tb.span, tb.merged = nil, 0, false
			tb.held += cost
			return w.out.b.retain(cost, memTable)
		}
	case "tr":
		if tb := w.table(); tb != nil {
			tb.rows = append(tb.rows, tb.row)
			tb.row = nil
			tb.held += costSlice
			return w.out.b.retain(costSlice, memTable)
		}
	case "tbl":
		if len(w.tables) == 0 {
			return nil
		}
		tb := w.tables[len(w.tables)-1]
		w.tables = w.tables[:len(w.tables)-1]
		defer w.out.b.release(tb.held)
		if outer := w.table(); outer != nil && outer.cell != nil {
			// A nested table is flattened into its enclosing cell.
			for _, r := range tb.rows {
				if err := outer.cell.write(w.out.b, strings.Join(r, " ")+"\n", memTable); err != nil {
					return err
				}
			}
			return nil
		}
		return w.out.addTable(tb.rows, w.pageNo())
	}
	return nil
}

// emit turns a finished paragraph into a block, or into cell text inside a table.
func (w *docxWalker) emit(p *docxPara) error {
	text := p.text.take(w.out.b)
	if tb := w.table(); tb != nil && tb.cell != nil {
		if strings.TrimSpace(text) != "" {
			return tb.cell.write(w.out.b, text+"\n", memTable)
		}
		return nil
	}
	if strings.TrimSpace(text) == "" {
		return nil
	}
	w.justBroke = false
	blk := Block{Kind: KindParagraph, Text: text, Page: w.pageNo()}
	level := p.outline
	if lvl := w.headingLevel(p.style); lvl > 0 {
		level = lvl
	}
	st := w.styles[p.style]
	switch {
	case level > 0:
		blk.Kind, blk.Level = KindHeading, level
	case p.numID != "" && p.numID != "0":
		blk.Kind, blk.Level = KindListItem, p.ilvl+1
	case p.numID == "" && st.numbered:
		blk.Kind, blk.Level = KindListItem, st.numLevel+1
	}
	return w.out.add(blk)
}

func (w *docxWalker) pageNo() int {
	if !w.trackPages {
		return 0
	}
	return w.page
}

// pageBreak advances the page. Word writes lastRenderedPageBreak where the page
// broke when the file was last laid out, which follows an explicit page break too:
// a rendered break right after an explicit one is the same break.
func (w *docxWalker) pageBreak(rendered bool) error {
	if !w.trackPages || (rendered && w.justBroke) {
		return nil
	}
	if w.table() == nil {
		// Text already on the old page stays there: split the paragraph.
		if p := w.para(); p != nil && strings.TrimSpace(p.text.String()) != "" {
			rest := &docxPara{style: p.style, outline: p.outline, numID: p.numID, ilvl: p.ilvl}
			if err := w.emit(p); err != nil {
				return err
			}
			w.paras[len(w.paras)-1] = rest
		}
	}
	w.page++
	if w.page > w.out.b.limits.MaxPages && w.out.b.limits.MaxPages > 0 {
		return Errorf(CodeTooLarge, "the document has more than %d pages", w.out.b.limits.MaxPages)
	}
	w.justBroke = !rendered
	if err := w.out.b.check(); err != nil {
		return err
	}
	return nil
}
