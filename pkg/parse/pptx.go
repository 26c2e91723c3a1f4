package parse

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
)

func parsePPTX(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	z, err := openZip(r, size, b)
	if err != nil {
		return nil, err
	}
	const pres = "ppt/presentation.xml"
	slides, err := pptxSlideOrder(z, pres)
	if err != nil {
		return nil, err
	}
	out := &blockSink{b: b}
	var firstErr error
	parsed := 0
	for i, part := range slides {
		n := i + 1
		if b.limits.MaxPages > 0 && n > b.limits.MaxPages {
			return nil, Errorf(CodeTooLarge, "the presentation has more than %d slides", b.limits.MaxPages)
		}
		if err := b.check(); err != nil {
			return nil, err
		}
		blocks, err := pptxSlide(z, part, n)
		if err != nil {
			// A broken slide costs that slide, not the deck; limits still stop everything.
			if CodeOf(err) != CodeCorrupt {
				return nil, err
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		parsed++
		for _, blk := range blocks {
			if err := out.add(blk); err != nil {
				return nil, err
			}
		}
	}
	if parsed == 0 && firstErr != nil {
		return nil, firstErr
	}
	return &Document{Blocks: out.blocks, Pages: len(slides), Title: partTitle(z, "docProps/core.xml")}, nil
}

// pptxSlideOrder lists slide parts in presentation order (p:sldIdLst). A deck whose
// list is missing or unusable falls back to the slide parts in name order.
func pptxSlideOrder(z *zipArchive, pres string) ([]string, error) {
	rels, err := readRels(z, pres)
	if err != nil {
		return nil, err
	}
	var slides []string
	if z.has(pres) {
		data, err := z.readAll(pres, maxSmallPart)
		if err != nil {
			return nil, err
		}
		d := newXMLDecoder(strings.NewReader(string(data)))
		for {
			tok, err := d.Token()
			if err != nil {
				break
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "sldId" {
				if rel, ok := rels[xmlAttrNS(se, "relationships", "id")]; ok && !rel.External {
					slides = append(slides, rel.Target)
				}
			}
		}
	}
	if len(slides) > 0 {
		return slides, nil
	}
	// No usable order: take ppt/slides/slideN.xml by number.
	byNum := map[int]string{}
	maxN := 0
	for _, name := range z.names() {
		key := zipKey(name)
		num, ok := strings.CutPrefix(key, "ppt/slides/slide")
		if !ok {
			continue
		}
		num, ok = strings.CutSuffix(num, ".xml")
		if n, err := strconv.Atoi(num); ok && err == nil && n > 0 && n <= 1<<16 {
			byNum[n] = name
			maxN = max(maxN, n)
		}
	}
	for n := 1; n <= maxN; n++ {
		if name, ok := byNum[n]; ok {
			slides = append(slides, name)
		}
	}
	if len(slides) == 0 {
		return nil, Errorf(CodeCorrupt, "the presentation has no slides")
	}
	return slides, nil
}

// pptxItem is a shape's paragraphs or a table, in slide order.
type pptxItem struct {
	title bool
	skip  bool
	paras []pptxPara
	rows  [][]string
}

type pptxPara struct {
	text  string
	level int
}

// pptxSlide reads one slide and its notes into blocks, the title first.
func pptxSlide(z *zipArchive, part string, n int) ([]Block, error) {
	items, err := pptxShapes(z, part)
	if err != nil {
		return nil, err
	}
	var blocks []Block
	var title []string
	for _, it := range items {
		if it.title {
			for _, p := range it.paras {
				title = append(title, p.text)
			}
		}
	}
	heading := fmt.Sprintf("Slide %d", n)
	if t := squashSpace(strings.Join(title, " ")); t != "" {
		heading += ": " + t
	}
	for _, it := range items {
		switch {
		case it.title:
		case it.rows != nil:
			if blk, ok := cleanTableBlock(it.rows, n); ok {
				blocks = append(blocks, blk)
			}
		default:
			for _, p := range it.paras {
				blk := Block{Kind: KindParagraph, Text: p.text, Page: n}
				if p.level > 0 {
					blk.Kind, blk.Level = KindListItem, p.level
				}
				blocks = append(blocks, blk)
			}
		}
	}
	// Speaker notes belong to the slide; a missing or broken notes part is ignored.
	if rels, err := readRels(z, part); err == nil {
		for _, rel := range rels {
			if !relTypeIs(rel.Type, "notesSlide") || rel.External || !z.has(rel.Target) {
				continue
			}
			notes, err := pptxShapes(z, rel.Target)
			if err != nil {
				if CodeOf(err) != CodeCorrupt {
					return nil, err
				}
				continue
			}
			for _, it := range notes {
				for _, p := range it.paras {
					blocks = append(blocks, Block{Kind: KindParagraph, Text: p.text, Page: n})
				}
			}
		}
	}
	if len(blocks) == 0 && len(title) == 0 {
		return nil, nil
	}
	return append([]Block{{Kind: KindHeading, Level: 1, Text: heading, Page: n}}, blocks...), nil
}

// pptxShapes streams a slide (or notes) part into its text shapes and tables.
func pptxShapes(z *zipArchive, part string) ([]pptxItem, error) {
	rc, err := z.open(part)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	d := newXMLDecoder(rc)
	var (
		items  []pptxItem
		shape  *pptxItem
		para   strings.Builder
		level  int
		inPara bool
		inText bool
		// Table state: a:tbl → a:tr → a:tc → a:txBody → a:p.
		rows    [][]string
		row     []string
		cell    *strings.Builder
		inTable int
	)
	for {
		tok, err := d.Token()
		if err != nil {
			if xerr := xmlError(part, err); xerr != nil {
				return nil, xerr
			}
			return items, nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "Fallback":
				if err := d.Skip(); err != nil {
					return nil, xmlError(part, err)
				}
			case "sp":
				shape = &pptxItem{}
			case "ph":
				if shape != nil {
					switch xmlAttr(t, "type") {
					case "title", "ctrTitle":
						shape.title = true
					case "sldNum", "sldImg":
						// Slide numbers and thumbnails are not content.
						shape.skip = true
					}
				}
			case "tbl":
				inTable++
				if inTable == 1 {
					rows = nil
				}
			case "tr":
				if inTable == 1 {
					row = nil
				}
			case "tc":
				if inTable == 1 {
					cell = &strings.Builder{}
					if xmlAttr(t, "hMerge") == "1" || xmlAttr(t, "vMerge") == "1" {
						cell = nil
						row = append(row, "")
					}
				}
			case "p":
				para.Reset()
				level, inPara = 0, true
			case "pPr":
				if l, err := strconv.Atoi(xmlAttr(t, "lvl")); err == nil && l > 0 && l < 9 {
					level = l
				}
			case "t":
				inText = inPara
			case "br":
				para.WriteByte('\n')
			case "tab":
				para.WriteByte('\t')
			}
		case xml.CharData:
			if inText {
				para.Write(t)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				if !inPara {
					continue
				}
				inPara = false
				text := para.String()
				if strings.TrimSpace(text) == "" {
					continue
				}
				switch {
				case inTable > 0 && cell != nil:
					cell.WriteString(text + "\n")
				case inTable > 0:
				case shape != nil:
					shape.paras = append(shape.paras, pptxPara{text: text, level: level})
				default:
					// Text outside a p:sp (e.g. in a graphic frame) still counts.
					items = append(items, pptxItem{paras: []pptxPara{{text: text, level: level}}})
				}
			case "tc":
				if inTable == 1 && cell != nil {
					row = append(row, cell.String())
					cell = nil
				}
			case "tr":
				if inTable == 1 {
					rows = append(rows, row)
				}
			case "tbl":
				inTable--
				if inTable == 0 {
					items = append(items, pptxItem{rows: append([][]string{}, rows...)})
				}
			case "sp":
				if shape != nil && !shape.skip && len(shape.paras) > 0 {
					items = append(items, *shape)
				}
				shape = nil
			}
		}
	}
}
