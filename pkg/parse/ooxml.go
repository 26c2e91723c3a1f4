package parse

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// xmlAttr returns the value of the attribute with the given local name, whatever
// its namespace prefix: OOXML comes in transitional and strict namespaces.
func xmlAttr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// xmlAttrNS is xmlAttr restricted to attributes whose namespace URL contains ns,
// for the few places where two attributes share a local name (id vs r:id).
func xmlAttrNS(se xml.StartElement, ns, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local && strings.Contains(a.Name.Space, ns) {
			return a.Value
		}
	}
	return ""
}

// xmlError wraps a decoding error from a part: budget and context errors pass
// through unchanged, anything else means the part is damaged.
func xmlError(part string, err error) error {
	var pe *Error
	if errors.As(err, &pe) {
		return err
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return &Error{Code: CodeCorrupt, Message: "part " + part + " is not well-formed XML", Err: err}
}

// relationship is one entry of an OPC .rels part.
type relationship struct {
	Type     string
	Target   string // resolved to a part name, unless External
	External bool
}

// readRels reads the relationships of part (e.g. word/document.xml →
// word/_rels/document.xml.rels). A missing .rels part means no relationships.
// The part is streamed; every relationship kept is charged.
func readRels(z *zipArchive, part string) (map[string]relationship, error) {
	dir, file := "", part
	if i := strings.LastIndex(part, "/"); i >= 0 {
		dir, file = part[:i+1], part[i+1:]
	}
	relsPart := dir + "_rels/" + file + ".rels"
	out := map[string]relationship{}
	if !z.has(relsPart) {
		return out, nil
	}
	d, rc, err := z.decoder(relsPart)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	for {
		tok, err := d.Token()
		if err != nil {
			return out, xmlError(relsPart, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Relationship" {
			continue
		}
		rel := relationship{Type: xmlAttr(se, "Type"), Target: xmlAttr(se, "Target"),
			External: strings.EqualFold(xmlAttr(se, "TargetMode"), "External")}
		if !rel.External {
			rel.Target = zipResolve(part, rel.Target)
		}
		id := xmlAttr(se, "Id")
		if err := z.b.retain(costEntry+int64(len(id)+len(rel.Type)+len(rel.Target)), memParts); err != nil {
			return nil, err
		}
		out[id] = rel
	}
}

// relTypeIs reports whether a relationship type URL ends in the given short name,
// which holds for both the transitional and the strict OOXML namespaces.
func relTypeIs(typ, short string) bool {
	return strings.HasSuffix(typ, "/"+short)
}

// blockSink accumulates a document's blocks, charging their text to the budget
// and what they hold to the memory budget.
type blockSink struct {
	b      *budget
	blocks []Block
	// held is what the blocks are charged, for a sink that is let go.
	held int64
}

// add appends blk when it has text; whitespace runs are collapsed so blocks are clean.
func (l *blockSink) add(blk Block) error {
	if blk.Kind != KindTable {
		blk.Text = squashSpace(blk.Text)
		if blk.Text == "" {
			return nil
		}
	} else if strings.TrimSpace(blk.Text) == "" {
		return nil
	}
	if err := l.b.addText(len(blk.Text)); err != nil {
		return err
	}
	if err := l.b.retain(blockCost(blk), memDocument); err != nil {
		return err
	}
	l.held += blockCost(blk)
	l.blocks = append(l.blocks, blk)
	return nil
}

// free credits the blocks of a sink whose blocks were copied elsewhere.
func (l *blockSink) free() {
	l.b.release(l.held)
	l.held, l.blocks = 0, nil
}

// addTable appends rows as a KindTable block (see cleanTableBlock).
func (l *blockSink) addTable(rows [][]string, page int) error {
	if blk, ok := cleanTableBlock(rows, page); ok {
		return l.add(blk)
	}
	return nil
}

// cleanTableBlock builds a KindTable block from rows, dropping empty rows and trimming
// cells; ok is false when no cell has text.
func cleanTableBlock(rows [][]string, page int) (Block, bool) {
	clean := make([][]string, 0, len(rows))
	for _, r := range rows {
		empty := true
		out := make([]string, len(r))
		for i, c := range r {
			out[i] = squashSpace(c)
			if out[i] != "" {
				empty = false
			}
		}
		if !empty {
			clean = append(clean, out)
		}
	}
	if len(clean) == 0 {
		return Block{}, false
	}
	// A one-cell table is a layout box, not data: keep it as a paragraph.
	if len(clean) == 1 && len(clean[0]) == 1 {
		return Block{Kind: KindParagraph, Text: clean[0][0], Page: page}, true
	}
	return Block{Kind: KindTable, Text: renderTable(clean), Rows: clean, Page: page}, true
}

// squashSpace trims s and folds each run of spaces and tabs into one space,
// keeping single line breaks that separate lines inside a block.
func squashSpace(s string) string {
	if s == "" {
		return ""
	}
	var sb strings.Builder
	sb.Grow(len(s))
	space, newline := false, false
	for _, r := range s {
		switch r {
		case '\n', '\r', '\v', '\f':
			newline = true
		case ' ', '\t', '\u00a0':
			space = true
		default:
			if r == 0 || r == '\ufeff' {
				continue
			}
			if sb.Len() > 0 {
				if newline {
					sb.WriteByte('\n')
				} else if space {
					sb.WriteByte(' ')
				}
			}
			space, newline = false, false
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// partTitle reads the first dc:title of a metadata part (docProps/core.xml,
// meta.xml, an OPF package); "" when there is none.
func partTitle(z *zipArchive, part string) string {
	if !z.has(part) {
		return ""
	}
	d, rc, err := z.decoder(part)
	if err != nil {
		return ""
	}
	defer rc.Close()
	in := false
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.StartElement:
			in = t.Name.Local == "title"
		case xml.CharData:
			if in {
				if s := squashSpace(string(t)); s != "" {
					return s
				}
			}
		case xml.EndElement:
			in = false
		}
	}
}

// decoder opens a part as a bounded XML stream.
func (z *zipArchive) decoder(part string) (*xmlDecoder, io.Closer, error) {
	rc, err := z.open(part)
	if err != nil {
		return nil, nil, err
	}
	return newXMLDecoder(rc, z.b), rc, nil
}
