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
	data, err := z.readAll(container, maxSmallPart)
	if err != nil {
		return "", err
	}
	d := newXMLDecoder(strings.NewReader(string(data)))
	for {
		tok, err := d.Token()
		if err != nil {
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
	data, err := z.readAll(opf, maxSmallPart)
	if err != nil {
		return nil, err
	}
	type item struct{ href, media string }
	manifest := map[string]item{}
	var order, spine []string
	d := newXMLDecoder(strings.NewReader(string(data)))
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
		switch se.Name.Local {
		case "item":
			id := xmlAttr(se, "id")
			manifest[id] = item{href: xmlAttr(se, "href"), media: xmlAttr(se, "media-type")}
			order = append(order, id)
		case "itemref":
			spine = append(spine, xmlAttr(se, "idref"))
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
	data, err := z.readAll(enc, maxSmallPart)
	if err != nil {
		return err
	}
	isChapter := map[string]bool{}
	for _, c := range chapters {
		isChapter[zipKey(c)] = true
	}
	d := newXMLDecoder(strings.NewReader(string(data)))
	for {
		tok, err := d.Token()
		if err != nil {
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
	tz.SetMaxBuf(epubMaxToken)
	w := &xhtmlWalker{out: out}
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
				return Errorf(CodeTooLarge, "chapter %s has a token larger than %d bytes", path.Base(part), epubMaxToken)
			}
			return &Error{Code: CodeCorrupt, Message: "chapter " + path.Base(part) + " cannot be read", Err: err}
		case html.TextToken:
			if w.skip == 0 {
				w.text(string(tz.Text()))
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

// xhtmlTable collects a table's rows while the walker is inside it.
type xhtmlTable struct {
	rows [][]string
	row  []string
	cell *strings.Builder
}

// xhtmlWalker turns a stream of HTML tokens into blocks.
type xhtmlWalker struct {
	out    *blockSink
	cur    strings.Builder
	kind   BlockKind
	level  int
	skip   int
	pre    int
	lists  int
	tables []*xhtmlTable
}

func (w *xhtmlWalker) text(s string) {
	if w.pre == 0 {
		s = strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
	}
	if n := len(w.tables); n > 0 && w.tables[n-1].cell != nil {
		w.tables[n-1].cell.WriteString(s)
		return
	}
	w.cur.WriteString(s)
}

// flush emits the pending text as a block of the current kind.
func (w *xhtmlWalker) flush() error {
	text := w.cur.String()
	w.cur.Reset()
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
		w.text("\n")
		return nil
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
		w.tables = append(w.tables, &xhtmlTable{})
	case atom.Tr:
		if n := len(w.tables); n > 0 {
			w.tables[n-1].row = nil
		}
	case atom.Td, atom.Th:
		if n := len(w.tables); n > 0 {
			w.tables[n-1].cell = &strings.Builder{}
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
		w.text(" ")
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
			t.row = append(t.row, t.cell.String())
			t.cell = nil
		}
	case atom.Tr:
		if n := len(w.tables); n > 0 {
			t := w.tables[n-1]
			t.rows = append(t.rows, t.row)
			t.row = nil
		}
	case atom.Table:
		n := len(w.tables)
		if n == 0 {
			return nil
		}
		t := w.tables[n-1]
		w.tables = w.tables[:n-1]
		if n > 1 && w.tables[n-2].cell != nil {
			for _, r := range t.rows {
				w.tables[n-2].cell.WriteString(strings.Join(r, " ") + " ")
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
