package parse

import (
	"context"
	"encoding/xml"
	"errors"
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
		blocks, held, err := pptxSlide(z, part, n)
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
		b.release(held)
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
		d, rc, err := z.decoder(pres)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		for {
			tok, err := d.Token()
			if err != nil {
				if pe := (*Error)(nil); errors.As(err, &pe) && pe.Code != CodeCorrupt {
					return nil, pe
				}
				break
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "sldId" {
				if rel, ok := rels[xmlAttrNS(se, "relationships", "id")]; ok && !rel.External {
					if err := z.b.retain(stringCost(len(rel.Target)), memParts); err != nil {
						return nil, err
					}
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

// pptxSlide reads one slide and its notes into blocks, the title first. held is
// what the blocks are charged until the caller adds them to the document.
func pptxSlide(z *zipArchive, part string, n int) (blocks []Block, held int64, err error) {
	defer func() {
		if err != nil {
			z.b.release(held)
			held = 0
		}
	}()
	items, held, err := pptxShapes(z, part)
	if err != nil {
		return nil, held, err
	}
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
			notes, noteHeld, err := pptxShapes(z, rel.Target)
			held += noteHeld
			if err != nil {
				if CodeOf(err) != CodeCorrupt {
					return nil, held, err
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
		return nil, held, nil
	}
	return append([]Block{{Kind: KindHeading, Level: 1, Text: heading, Page: n}}, blocks...), held, nil
}

// pptxShapes streams a slide (or notes) part into its text shapes and tables.
// held is what the items are charged: a slide is read whole before its blocks
// are added, since its title goes first.
func pptxShapes(z *zipArchive, part string) (items []pptxItem, held int64, err error) {
	d, rc, err := z.decoder(part)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	keep := func(n int64) error {
		held += n
		return z.b.retain(n, memSlide)
	}
	var (
		shape  *pptxItem
		para   heldText
		level  int
		inPara bool
		inText bool
		// Table state: a:tbl → a:tr → a:tc → a:txBody → a:p.
		rows    [][]string
		row     []string
		cell    *heldText
		inTable int
	)
	defer func() {
		para.take(z.b)
		if cell != nil {
			cell.take(z.b)
		}
	}()
	for {
		tok, err := d.Token()
		if err != nil {
			if xerr := xmlError(part, err); xerr != nil {
				return nil, held, xerr
			}
			return items, held, nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "Fallback":
				if err := d.Skip(); err != nil {
					return nil, held, xmlError(part, err)
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
					if cell != nil {
						cell.take(z.b)
					}
					cell = &heldText{}
					if xmlAttr(t, "hMerge") == "1" || xmlAttr(t, "vMerge") == "1" {
						cell = nil
						row = append(row, "")
					}
				}
			case "p":
				para.take(z.b)
				level, inPara = 0, true
			case "pPr":
				if l, err := strconv.Atoi(xmlAttr(t, "lvl")); err == nil && l > 0 && l < 9 {
					level = l
				}
			case "t":
				inText = inPara
			case "br":
				err = para.write(z.b, "\n", memSlide)
			case "tab":
				err = para.write(z.b, "\t", memSlide)
			}
		case xml.CharData:
			if inText {
				err = para.write(z.b, string(t), memSlide)
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
				text := para.take(z.b)
				if strings.TrimSpace(text) == "" {
					continue
				}
				switch {
				case inTable > 0 && cell != nil:
					err = cell.write(z.b, text+"\n", memSlide)
				case inTable > 0:
				case shape != nil:
					shape.paras = append(shape.paras, pptxPara{text: text, level: level})
					err = keep(stringCost(len(text)) + 2*8)
				default:
					// Text outside a p:sp (e.g. in a graphic frame) still counts.
					items = append(items, pptxItem{paras: []pptxPara{{text: text, level: level}}})
					err = keep(stringCost(len(text)) + 2*80)
				}
			case "tc":
				if inTable == 1 && cell != nil {
					text := cell.take(z.b)
					row = append(row, text)
					cell = nil
					err = keep(stringCost(len(text)))
				}
			case "tr":
				if inTable == 1 {
					rows = append(rows, row)
					err = keep(costSlice)
				}
			case "tbl":
				inTable--
				if inTable == 0 {
					items = append(items, pptxItem{rows: append([][]string{}, rows...)})
					err = keep(int64(costSlice * (len(rows) + 4)))
				}
			case "sp":
				if shape != nil && !shape.skip && len(shape.paras) > 0 {
					items = append(items, *shape)
					err = keep(2 * 80)
				}
				shape = nil
			}
		}
		if err != nil {
			return nil, held, err
		}
	}
}
