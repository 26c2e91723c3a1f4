package parse

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

const (
	// maxHTMLDepth bounds the recursion of the block walker; deeper subtrees are
	// read as flat text, so hostile nesting cannot exhaust the stack.
	maxHTMLDepth = 200
	// maxColspan bounds how many columns one cell may claim.
	maxColspan = 64
	// maxLayoutCell is the cell text length past which a table is taken for
	// page layout rather than data.
	maxLayoutCell = 2000
)

// metaCharsetRE finds a charset declaration in <meta charset> or in an
// http-equiv Content-Type. It runs on the raw head bytes only.
var metaCharsetRE = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_:.\-]+)`)

// parseHTML extracts the main text of an HTML page: headings, paragraphs, lists,
// tables and preformatted text, without scripts, styles, navigation and other
// site chrome.
func parseHTML(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	s := newSink(b)
	title, err := extractHTML(s, r, size, "")
	if err != nil {
		return nil, err
	}
	return &Document{Title: title, Blocks: s.blocks}, nil
}

// extractHTML adds the blocks of an HTML document to s and returns its title.
// charset is a declaration from outside the document (a MIME part header), or "".
// The page is streamed through the tokenizer into a tree whose every node is
// charged to the memory budget; the tree is let go once the blocks are out.
func extractHTML(s *sink, r io.ReaderAt, size int64, charset string) (string, error) {
	charset, err := htmlCharset(r, size, charset)
	if err != nil {
		return "", err
	}
	text, err := openText(r, size, charset, s.b)
	if err != nil {
		return "", err
	}
	tree := &htmlTree{b: s.b}
	defer tree.free()
	root, err := tree.build(text)
	if errors.Is(err, errHTMLTooDeep) {
		// Absurd nesting: the tokenizer alone still gets the text out.
		tree.free()
		if text, err = openText(r, size, charset, s.b); err != nil {
			return "", err
		}
		return "", htmlTokensText(s, text)
	}
	if err != nil {
		return "", err
	}
	w := &htmlWalker{s: s}
	title := collapseSpace(textContent(findFirst(root, atom.Title)))
	start := root
	if m := mainContent(root); m != nil {
		start = m
		w.inContent = 1
	}
	w.walk(start, 0)
	if w.err == nil {
		w.err = w.flush()
	}
	if w.err != nil {
		return "", w.err
	}
	if title == "" {
		title = collapseSpace(textContent(findFirst(start, atom.H1)))
	}
	return title, nil
}

// htmlCharset returns the declared charset of a page: the outside declaration,
// else a <meta> charset in the first bytes, which browsers honour when no byte
// order mark decides (openText checks that first).
func htmlCharset(r io.ReaderAt, size int64, charset string) (string, error) {
	if charset != "" {
		return charset, nil
	}
	head, err := readHead(r, size, 2048)
	if err != nil {
		return "", err
	}
	if m := metaCharsetRE.FindSubmatch(head); m != nil {
		charset = string(m[1])
		if strings.HasPrefix(strings.ToLower(charset), "utf-16") {
			// An ASCII-readable meta cannot truthfully declare UTF-16.
			charset = "utf-8"
		}
	}
	return charset, nil
}

// htmlWalker turns the DOM into blocks. Inline text accumulates until a block
// boundary flushes it as a paragraph or list item.
type htmlWalker struct {
	s      *sink
	inline strings.Builder
	kind   BlockKind
	level  int
	lists  int
	// inContent counts enclosing article/main elements, inside which header,
	// footer and aside belong to the content rather than the site.
	inContent int
	err       error
}

func (w *htmlWalker) walk(n *html.Node, depth int) {
	if w.err != nil {
		return
	}
	if w.err = w.s.tick(); w.err != nil {
		return
	}
	switch n.Type {
	case html.TextNode:
		w.text(n.Data)
		return
	case html.DocumentNode:
		w.children(n, depth)
		return
	case html.ElementNode:
	default:
		return
	}
	if depth > maxHTMLDepth {
		w.text(textContent(n))
		return
	}
	if skipElement(n) || (n.DataAtom == atom.Form && !hasContent(n)) {
		return
	}
	if isChromeElement(n) && w.inContent == 0 && looksLikeChrome(n) {
		return
	}
	switch n.DataAtom {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		w.block(func() {
			level := int(n.Data[1] - '0')
			w.err = w.s.add(Block{Kind: KindHeading, Level: level, Text: collapseSpace(textContent(n))})
		})
	case atom.Pre, atom.Listing, atom.Xmp, atom.Plaintext:
		w.block(func() { w.err = w.s.add(Block{Kind: KindCode, Text: preText(n)}) })
	case atom.Ul, atom.Ol, atom.Menu, atom.Dir:
		w.block(func() {
			kind, level := w.kind, w.level
			w.lists++
			w.children(n, depth)
			w.lists--
			w.flushErr()
			w.kind, w.level = kind, level
		})
	case atom.Li:
		w.block(func() {
			kind, level := w.kind, w.level
			w.kind, w.level = KindListItem, max(w.lists, 1)
			w.children(n, depth)
			w.flushErr()
			w.kind, w.level = kind, level
		})
	case atom.Table:
		w.block(func() {
			if rows, ok := dataTable(n); ok {
				if caption := findFirst(n, atom.Caption); caption != nil {
					if w.err = w.s.paragraph(collapseSpace(textContent(caption))); w.err != nil {
						return
					}
				}
				w.err = addTable(w.s, rows, 0)
				return
			}
			w.children(n, depth)
		})
	case atom.Br:
		w.inline.WriteByte('\n')
	case atom.Article, atom.Main:
		w.inContent++
		w.block(func() { w.children(n, depth) })
		w.inContent--
	default:
		if isBlockElement(n.DataAtom) {
			w.block(func() { w.children(n, depth) })
			return
		}
		w.children(n, depth)
	}
}

func (w *htmlWalker) children(n *html.Node, depth int) {
	for c := n.FirstChild; c != nil && w.err == nil; c = c.NextSibling {
		w.walk(c, depth+1)
	}
}

// block runs fn between two flushes, so that text before and after does not
// run into the block's own text.
func (w *htmlWalker) block(fn func()) {
	w.flushErr()
	if w.err != nil {
		return
	}
	fn()
	w.flushErr()
}

func (w *htmlWalker) flushErr() {
	if w.err == nil {
		w.err = w.flush()
	}
}

// flush emits the pending inline text as a block of the current kind.
func (w *htmlWalker) flush() error {
	if w.inline.Len() == 0 {
		return nil
	}
	text := trimLines(w.inline.String())
	w.inline.Reset()
	kind := w.kind
	if kind != KindListItem {
		kind = KindParagraph
	}
	return w.s.add(Block{Kind: kind, Level: w.level, Text: text})
}

// text appends HTML text with runs of white space collapsed to one space.
func (w *htmlWalker) text(s string) {
	for _, r := range s {
		if unicode.IsSpace(r) {
			if w.inline.Len() > 0 && !endsWithSpace(&w.inline) {
				w.inline.WriteByte(' ')
			}
			continue
		}
		w.inline.WriteRune(r)
	}
}

func endsWithSpace(sb *strings.Builder) bool {
	s := sb.String()
	return s[len(s)-1] == ' ' || s[len(s)-1] == '\n'
}

// trimLines trims every line of s and drops empty ones.
func trimLines(s string) string {
	if !strings.Contains(s, "\n") {
		return strings.TrimSpace(s)
	}
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// skipElement reports elements that never hold document text: code, media,
// form controls, navigation and hidden content.
func skipElement(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Svg, atom.Math,
		atom.Iframe, atom.Object, atom.Embed, atom.Canvas, atom.Audio, atom.Video,
		atom.Select, atom.Button, atom.Input, atom.Textarea, atom.Option, atom.Head,
		atom.Nav, atom.Dialog, atom.Map, atom.Link, atom.Meta, atom.Title:
		return true
	}
	if n.Namespace == "svg" || n.Namespace == "math" {
		return true
	}
	for _, a := range n.Attr {
		switch strings.ToLower(a.Key) {
		case "hidden":
			return true
		case "aria-hidden":
			if strings.EqualFold(a.Val, "true") {
				return true
			}
		case "role":
			switch strings.ToLower(a.Val) {
			case "navigation", "search", "menu", "menubar", "dialog", "alert", "tooltip":
				return true
			}
		case "style":
			if strings.Contains(strings.ReplaceAll(strings.ToLower(a.Val), " ", ""), "display:none") {
				return true
			}
		}
	}
	return false
}

// isChromeElement reports elements that are often site chrome: page header,
// footer and sidebars, by tag or by ARIA landmark role.
func isChromeElement(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Header, atom.Footer, atom.Aside:
		return true
	}
	switch strings.ToLower(attr(n, "role")) {
	case "banner", "contentinfo", "complementary":
		return true
	}
	return false
}

// looksLikeChrome decides whether a header, footer or aside outside the content
// is chrome. A page header holding the page's h1 with little link text is kept,
// because then it carries the article title.
func looksLikeChrome(n *html.Node) bool {
	if n.DataAtom != atom.Header && !strings.EqualFold(attr(n, "role"), "banner") {
		return true
	}
	if findFirst(n, atom.H1) == nil {
		return true
	}
	total, links := textLen(n, false), textLen(n, true)
	return total == 0 || links*2 > total
}

// hasContent reports whether a form wraps real content (as ASP.NET pages wrap
// the whole body in one form) rather than being a search box or login form.
func hasContent(n *html.Node) bool {
	for _, a := range []atom.Atom{atom.P, atom.H1, atom.H2, atom.H3, atom.Table, atom.Article, atom.Main} {
		if findFirst(n, a) != nil {
			return true
		}
	}
	return false
}

// isBlockElement reports elements that start a new block of text.
func isBlockElement(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Section, atom.Blockquote, atom.Dd, atom.Dt, atom.Dl,
		atom.Address, atom.Figure, atom.Figcaption, atom.Center, atom.Details, atom.Summary,
		atom.Fieldset, atom.Legend, atom.Caption, atom.Body, atom.Html, atom.Hr, atom.Tr,
		atom.Td, atom.Th, atom.Tbody, atom.Thead, atom.Tfoot, atom.Header, atom.Footer,
		atom.Aside, atom.Form, atom.Hgroup, atom.Search:
		return true
	}
	return false
}

// mainContent returns the page's single main landmark (<main> or role=main), or
// else its single article, when it holds a fair share of the page's text.
// Reading only it drops the menus and sidebars that surround it.
func mainContent(root *html.Node) *html.Node {
	var mains, articles []*html.Node
	stack := []*html.Node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.Type == html.ElementNode {
			if skipElement(n) {
				continue
			}
			if n.DataAtom == atom.Main || strings.EqualFold(attr(n, "role"), "main") {
				mains = append(mains, n)
				continue
			}
			if n.DataAtom == atom.Article {
				articles = append(articles, n)
				continue
			}
		}
		for c := n.LastChild; c != nil; c = c.PrevSibling {
			stack = append(stack, c)
		}
	}
	var pick *html.Node
	switch {
	case len(mains) == 1:
		pick = mains[0]
	case len(mains) == 0 && len(articles) == 1:
		pick = articles[0]
	default:
		return nil
	}
	if textLen(pick, false)*3 < textLen(root, false) {
		return nil
	}
	return pick
}

// dataTable returns the rows of a table that holds data, or ok=false for a table
// used for page layout: nested tables, headings or lists in cells, a single row
// or column, or very long cells.
func dataTable(t *html.Node) ([][]string, bool) {
	if strings.EqualFold(attr(t, "role"), "presentation") {
		return nil, false
	}
	var rows [][]string
	width := 0
	for _, tr := range tableRows(t) {
		var row []string
		for c := tr.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode || (c.DataAtom != atom.Td && c.DataAtom != atom.Th) {
				continue
			}
			for _, a := range []atom.Atom{atom.Table, atom.H1, atom.H2, atom.H3, atom.H4, atom.Ul, atom.Ol, atom.Pre} {
				if findFirst(c, a) != nil {
					return nil, false
				}
			}
			text := collapseSpace(textContent(c))
			if len(text) > maxLayoutCell {
				return nil, false
			}
			row = append(row, text)
			span, _ := strconv.Atoi(attr(c, "colspan"))
			for i := 1; i < min(span, maxColspan); i++ {
				row = append(row, "")
			}
		}
		row = trimRow(row)
		if filledCells(row) == 0 {
			continue
		}
		width = max(width, len(row))
		rows = append(rows, row)
	}
	if len(rows) < 2 || width < 2 {
		return nil, false
	}
	return rows, true
}

// tableRows lists the rows of t itself, not of tables nested in it.
func tableRows(t *html.Node) []*html.Node {
	var rows []*html.Node
	for c := t.FirstChild; c != nil; c = c.NextSibling {
		switch c.DataAtom {
		case atom.Tr:
			rows = append(rows, c)
		case atom.Thead, atom.Tbody, atom.Tfoot:
			for r := c.FirstChild; r != nil; r = r.NextSibling {
				if r.DataAtom == atom.Tr {
					rows = append(rows, r)
				}
			}
		}
	}
	return rows
}

// textContent returns the text under n, skipping non-text elements, with <br>
// as a space. It walks with an explicit stack: subtrees may be deep.
func textContent(n *html.Node) string {
	if n == nil {
		return ""
	}
	var sb strings.Builder
	stack := []*html.Node{n}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch c.Type {
		case html.TextNode:
			sb.WriteString(c.Data)
			continue
		case html.ElementNode:
			if c != n && skipElement(c) {
				continue
			}
			if c.DataAtom == atom.Br || isBlockElement(c.DataAtom) || c.DataAtom == atom.Li {
				sb.WriteByte(' ')
			}
		case html.DocumentNode:
		default:
			continue
		}
		for k := c.LastChild; k != nil; k = k.PrevSibling {
			stack = append(stack, k)
		}
	}
	return sb.String()
}

// preText returns the text of a <pre> with its white space kept and <br> as a
// line break.
func preText(n *html.Node) string {
	var sb strings.Builder
	stack := []*html.Node{n}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch {
		case c.Type == html.TextNode:
			sb.WriteString(c.Data)
			continue
		case c.Type == html.ElementNode && c.DataAtom == atom.Br:
			sb.WriteByte('\n')
			continue
		case c.Type == html.ElementNode && c != n && skipElement(c):
			continue
		}
		for k := c.LastChild; k != nil; k = k.PrevSibling {
			stack = append(stack, k)
		}
	}
	return sb.String()
}

// textLen counts the non-space bytes of text under n; with linksOnly, only text
// inside links.
func textLen(n *html.Node, linksOnly bool) int {
	type item struct {
		n      *html.Node
		inLink bool
	}
	total := 0
	stack := []item{{n, false}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c := it.n
		if c.Type == html.TextNode {
			if !linksOnly || it.inLink {
				total += len(strings.TrimSpace(c.Data))
			}
			continue
		}
		if c.Type == html.ElementNode && c != n && skipElement(c) {
			continue
		}
		inLink := it.inLink || c.DataAtom == atom.A
		for k := c.FirstChild; k != nil; k = k.NextSibling {
			stack = append(stack, item{k, inLink})
		}
	}
	return total
}

// findFirst returns the first element of type a under n in document order.
func findFirst(n *html.Node, a atom.Atom) *html.Node {
	if n == nil {
		return nil
	}
	stack := []*html.Node{n}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.Type == html.ElementNode && c.DataAtom == a {
			return c
		}
		for k := c.LastChild; k != nil; k = k.PrevSibling {
			stack = append(stack, k)
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if strings.EqualFold(a.Key, key) {
			return a.Val
		}
	}
	return ""
}

// collapseSpace trims s and collapses runs of white space into one space.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// htmlFlatPara bounds the text htmlTokensText gathers into one paragraph.
const htmlFlatPara = 1 << 20

// htmlTokensText is the fallback for pages the tree builder rejects: the text
// between tags, minus scripts and styles, one paragraph per block-level tag.
func htmlTokensText(s *sink, text io.Reader) error {
	z := html.NewTokenizer(text)
	maxTok := s.b.workingLimit(htmlMaxToken)
	z.SetMaxBuf(int(maxTok))
	var para bytes.Buffer
	skip := 0
	flush := func() error {
		err := s.paragraph(collapseSpace(para.String()))
		para.Reset()
		return err
	}
	for {
		if err := s.tick(); err != nil {
			return err
		}
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if err := htmlTokenError(z.Err(), maxTok); err != nil {
				return err
			}
			return flush()
		case html.TextToken:
			if skip == 0 {
				para.Write(z.Text())
				para.WriteByte(' ')
				if para.Len() > htmlFlatPara {
					// Text without block tags is cut rather than held whole.
					if err := flush(); err != nil {
						return err
					}
				}
			}
		case html.StartTagToken, html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Svg:
				if tt == html.StartTagToken {
					skip++
				} else if skip > 0 {
					skip--
				}
			}
			if isBlockElement(a) || a == atom.Li || a == atom.Br {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
}
