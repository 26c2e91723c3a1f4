package parse

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// epubMaxToken bounds one HTML token: a chapter is streamed, and a single giant
// attribute or text node must not be buffered whole.
const epubMaxToken = 8 << 20

func parseEPUB(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	z, err := openZip(r, size, b)
	if err != nil {
		return nil, err
	}
	opf, err := epubRootfile(z)
	if err != nil {
		return nil, err
	}
	chapters, err := epubSpine(z, opf)
	if err != nil {
		return nil, err
	}
	if err := epubCheckDRM(z, chapters); err != nil {
		return nil, err
	}
	out := &blockSink{b: b}
	for _, ch := range chapters {
		if err := b.check(); err != nil {
			return nil, err
		}
		if !z.has(ch) {
			continue
		}
		if err := epubChapter(z, ch, out); err != nil {
			return nil, err
		}
	}
	return &Document{Blocks: out.blocks, Title: partTitle(z, opf)}, nil
}

// epubRootfile finds the OPF package document through META-INF/container.xml.
func epubRootfile(z *zipArchive) (string, error) {
	const container = "META-INF/container.xml"
	d, rc, err := z.decoder(container)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	for {
		tok, err := d.Token()
		if err != nil {
			if pe := (*Error)(nil); errors.As(err, &pe) && pe.Code != CodeCorrupt {
				return "", pe
			}
			return "", Errorf(CodeCorrupt, "the EPUB container names no package document")
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rootfile" {
			if p := xmlAttr(se, "full-path"); p != "" && z.has(p) {
				return p, nil
			}
		}
	}
}

// epubSpine lists the chapter parts in reading (spine) order. Without a usable
// spine, every XHTML item of the manifest is read in manifest order.
func epubSpine(z *zipArchive, opf string) ([]string, error) {
	d, rc, err := z.decoder(opf)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	type item struct{ href, media string }
	manifest := map[string]item{}
	var order, spine []string
	for {
		tok, err := d.Token()
		if err != nil {
			if xerr := xmlError(opf, err); xerr != nil {
				return nil, xerr
			}
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		var cost int64
		switch se.Name.Local {
		case "item":
			id := xmlAttr(se, "id")
			it := item{href: xmlAttr(se, "href"), media: xmlAttr(se, "media-type")}
			manifest[id] = it
			order = append(order, id)
			cost = costEntry + 2*costString + int64(2*len(id)+len(it.href)+len(it.media))
		case "itemref":
			idref := xmlAttr(se, "idref")
			spine = append(spine, idref)
			cost = stringCost(len(idref))
		}
		if err := z.b.retain(cost, memParts); err != nil {
			return nil, err
		}
	}
	resolve := func(href string) string {
		if u, err := url.PathUnescape(href); err == nil {
			href = u
		}
		href, _, _ = strings.Cut(href, "#")
		return zipResolve(opf, href)
	}
	var out []string
	for _, id := range spine {
		if it, ok := manifest[id]; ok && it.href != "" {
			out = append(out, resolve(it.href))
		}
	}
	if len(out) == 0 {
		for _, id := range order {
			if it := manifest[id]; strings.Contains(it.media, "html") {
				out = append(out, resolve(it.href))
			}
		}
	}
	if len(out) == 0 {
		return nil, Errorf(CodeCorrupt, "the EPUB package lists no chapters")
	}
	return out, nil
}

// epubCheckDRM reports CodeEncrypted when META-INF/encryption.xml lists chapters:
// font obfuscation is common and harmless, encrypted text is DRM we cannot read.
func epubCheckDRM(z *zipArchive, chapters []string) error {
	const enc = "META-INF/encryption.xml"
	if !z.has(enc) {
		return nil
	}
	d, rc, err := z.decoder(enc)
	if err != nil {
		return err
	}
	defer rc.Close()
	isChapter := map[string]bool{}
	for _, c := range chapters {
		isChapter[zipKey(c)] = true
	}
	for {
		tok, err := d.Token()
		if err != nil {
			if pe := (*Error)(nil); errors.As(err, &pe) && pe.Code != CodeCorrupt {
				return pe
			}
			return nil
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "CipherReference" {
			uri := xmlAttr(se, "URI")
			if u, err := url.PathUnescape(uri); err == nil {
				uri = u
			}
			if isChapter[zipKey(uri)] {
				return Errorf(CodeEncrypted, "the EPUB's chapters are encrypted (DRM)")
			}
		}
	}
}

// epubChapter streams one XHTML chapter into blocks.
func epubChapter(z *zipArchive, part string, out *blockSink) error {
	rc, err := z.open(part)
	if err != nil {
		return err
	}
	defer rc.Close()
	tz := html.NewTokenizer(rc)
	maxTok := z.b.workingLimit(epubMaxToken)
	tz.SetMaxBuf(int(maxTok))
	w := &xhtmlWalker{out: out}
	defer w.release()
	for {
		tt := tz.Next()
		switch tt {
		case html.ErrorToken:
			err := tz.Err()
			if err == io.EOF {
				return w.flush()
			}
			var pe *Error
			if errors.As(err, &pe) {
				return pe
			}
			if err == html.ErrBufferExceeded {
				return Errorf(CodeTooLarge, "chapter %s has a token larger than %s", path.Base(part), byteSize(maxTok))
			}
			return &Error{Code: CodeCorrupt, Message: "chapter " + path.Base(part) + " cannot be read", Err: err}
		case html.TextToken:
			if w.skip == 0 {
				if err := w.text(string(tz.Text())); err != nil {
					return err
				}
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := tz.TagName()
			if err := w.start(atom.Lookup(name), tt == html.SelfClosingTagToken); err != nil {
				return err
			}
		case html.EndTagToken:
			name, _ := tz.TagName()
			if err := w.end(atom.Lookup(name)); err != nil {
				return err
			}
		}
	}
}

// lineBreaksToSpaces flattens the text of a chapter outside <pre>.
var lineBreaksToSpaces = strings.NewReplacer("\n", " ", "\r", " ")

// xhtmlTable collects a table's rows while the walker is inside it.
type xhtmlTable struct {
	rows [][]string
	row  []string
	cell *heldText
	// held is what the table is charged until it is added.
	held int64
}

// costXHTMLTable is an open table's own charge: tables may nest without end.
const costXHTMLTable = 128

// xhtmlWalker turns a stream of HTML tokens into blocks.
type xhtmlWalker struct {
	out    *blockSink
	cur    heldText
	kind   BlockKind
	level  int
	skip   int
	pre    int
	lists  int
	tables []*xhtmlTable
}

func (w *xhtmlWalker) text(s string) error {
	if w.pre == 0 {
		s = lineBreaksToSpaces.Replace(s)
	}
	if n := len(w.tables); n > 0 && w.tables[n-1].cell != nil {
		return w.tables[n-1].cell.write(w.out.b, s, memTable)
	}
	return w.cur.write(w.out.b, s, memParagraph)
}

// release credits what the walker still holds at the end, whole or not.
func (w *xhtmlWalker) release() {
	w.cur.take(w.out.b)
	for _, t := range w.tables {
		w.out.b.release(t.held)
		if t.cell != nil {
			t.cell.take(w.out.b)
		}
	}
	w.tables = nil
}

// flush emits the pending text as a block of the current kind.
func (w *xhtmlWalker) flush() error {
	text := w.cur.take(w.out.b)
	kind, level := w.kind, w.level
	w.kind, w.level = KindParagraph, 0
	if w.lists > 0 && kind == KindParagraph {
		kind, level = KindListItem, w.lists
	}
	return w.out.add(Block{Kind: kind, Level: level, Text: text})
}

func (w *xhtmlWalker) start(a atom.Atom, selfClosing bool) error {
	switch a {
	case atom.Script, atom.Style, atom.Head, atom.Nav, atom.Noscript, atom.Template, atom.Svg, atom.Math:
		if !selfClosing {
			w.skip++
		}
		return nil
	case atom.Br:
		return w.text("\n")
	case atom.Img, atom.Hr:
		return nil
	}
	if w.skip > 0 {
		return nil
	}
	switch a {
	case atom.Table:
		if err := w.flush(); err != nil {
			return err
		}
		w.tables = append(w.tables, &xhtmlTable{held: costXHTMLTable})
		if err := w.out.b.retain(costXHTMLTable, memTable); err != nil {
			return err
		}
	case atom.Tr:
		if n := len(w.tables); n > 0 {
			w.tables[n-1].row = nil
		}
	case atom.Td, atom.Th:
		if n := len(w.tables); n > 0 {
			if c := w.tables[n-1].cell; c != nil {
				c.take(w.out.b)
			}
			w.tables[n-1].cell = &heldText{}
		}
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		if err := w.flush(); err != nil {
			return err
		}
		w.kind, w.level = KindHeading, int(a.String()[1]-'0')
	case atom.Pre:
		if err := w.flush(); err != nil {
			return err
		}
		w.pre++
		w.kind = KindCode
	case atom.Ul, atom.Ol:
		if err := w.flush(); err != nil {
			return err
		}
		w.lists++
	case atom.P, atom.Div, atom.Li, atom.Blockquote, atom.Section, atom.Article, atom.Dt, atom.Dd,
		atom.Figcaption, atom.Caption, atom.Header, atom.Footer, atom.Aside, atom.Main, atom.Body:
		if len(w.tables) == 0 {
			return w.flush()
		}
		return w.text(" ")
	}
	return nil
}

func (w *xhtmlWalker) end(a atom.Atom) error {
	switch a {
	case atom.Script, atom.Style, atom.Head, atom.Nav, atom.Noscript, atom.Template, atom.Svg, atom.Math:
		w.skip = max(0, w.skip-1)
		return nil
	}
	if w.skip > 0 {
		return nil
	}
	switch a {
	case atom.Td, atom.Th:
		if n := len(w.tables); n > 0 && w.tables[n-1].cell != nil {
			t := w.tables[n-1]
			text := t.cell.take(w.out.b)
			t.row = append(t.row, text)
			t.cell = nil
			t.held += stringCost(len(text))
			return w.out.b.retain(stringCost(len(text)), memTable)
		}
	case atom.Tr:
		if n := len(w.tables); n > 0 {
			t := w.tables[n-1]
			t.rows = append(t.rows, t.row)
			t.held += costSlice
			if err := w.out.b.retain(costSlice, memTable); err != nil {
				return err
			}
			t.row = nil
		}
	case atom.Table:
		n := len(w.tables)
		if n == 0 {
			return nil
		}
		t := w.tables[n-1]
		w.tables = w.tables[:n-1]
		defer w.out.b.release(t.held)
		if t.cell != nil {
			t.cell.take(w.out.b)
		}
		if n > 1 && w.tables[n-2].cell != nil {
			for _, r := range t.rows {
				if err := w.tables[n-2].cell.write(w.out.b, strings.Join(r, " ")+" ", memTable); err != nil {
					return err
				}
			}
			return nil
		}
		return w.out.addTable(t.rows, 0)
	case atom.Pre:
		w.pre = max(0, w.pre-1)
		return w.flush()
	case atom.Ul, atom.Ol:
		err := w.flush()
		w.lists = max(0, w.lists-1)
		return err
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.P, atom.Div, atom.Li,
		atom.Blockquote, atom.Section, atom.Article, atom.Dt, atom.Dd, atom.Figcaption,
		atom.Caption, atom.Header, atom.Footer, atom.Aside, atom.Main, atom.Body:
		if len(w.tables) == 0 {
			return w.flush()
		}
	}
	return nil
}
