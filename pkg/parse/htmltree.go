package parse

import (
	"errors"
	"io"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// The HTML extractor reads a tree, since where a page's main content is, which
// headers are site chrome and which tables hold data all depend on what comes
// later. html.Parse builds that tree without bounds: every node costs a hundred
// bytes or more, and the rules that re-open formatting elements can make a small
// page clone elements hundreds of times per tag. htmlTree builds it instead from
// the tokenizer, charging every node to the memory budget, with the HTML5 tree
// construction rules that decide where text lands (implied end tags, tables,
// lists, foreign content) and none that clone elements.

const (
	// htmlMaxOpen bounds the open elements, as html.Parse did: a page nesting
	// deeper is read by the flat tokenizer fallback.
	htmlMaxOpen = 512
	// htmlMaxToken bounds one token (a text run, a tag with its attributes); an
	// eighth of the memory budget when that is smaller.
	htmlMaxToken = 16 << 20
	// costHTMLNode is the heap of one node (html.Node is 104 bytes) with its
	// share of the walker's stacks.
	costHTMLNode = 144
)

// errHTMLTooDeep reports a page nested deeper than htmlMaxOpen.
var errHTMLTooDeep = errors.New("html: elements nest too deep")

// htmlTree builds a document tree from a token stream.
type htmlTree struct {
	b    *budget
	held int64
	// oe is the stack of open elements; html and body are always open.
	oe         []*html.Node
	root, body *html.Node
	// form is the open form: nested forms are ignored, as browsers do.
	form   *html.Node
	quirks bool
	// head is the head element, where noframes goes before the body starts;
	// started is set once the body has content; frameset marks a frameset page,
	// whose only text is in noframes.
	head              *html.Node
	started, frameset bool
}

// htmlKeptAttrs are the attributes the extractor reads; others are not kept.
var htmlKeptAttrs = map[string]bool{"hidden": true, "aria-hidden": true, "role": true, "colspan": true}

// build reads the page from r. It fails with errHTMLTooDeep on absurd nesting.
func (t *htmlTree) build(r io.Reader) (*html.Node, error) {
	t.root = &html.Node{Type: html.DocumentNode}
	htmlEl, head, body := t.newElement(atom.Html, "html", ""), t.newElement(atom.Head, "head", ""), t.newElement(atom.Body, "body", "")
	t.root.AppendChild(htmlEl)
	htmlEl.AppendChild(head)
	htmlEl.AppendChild(body)
	t.body, t.head, t.oe, t.quirks = body, head, []*html.Node{htmlEl, body}, true
	if err := t.charge(4 * costHTMLNode); err != nil {
		return nil, err
	}
	maxTok := t.b.workingLimit(htmlMaxToken)
	z := html.NewTokenizer(r)
	z.SetMaxBuf(int(maxTok))
	initial := true
	for steps := 0; ; steps++ {
		if steps%checkEvery == 0 {
			if err := t.b.check(); err != nil {
				return nil, err
			}
		}
		z.AllowCDATA(t.cur().Namespace != "")
		tt := z.Next()
		var err error
		switch tt {
		case html.ErrorToken:
			return t.root, htmlTokenError(z.Err(), maxTok)
		case html.DoctypeToken:
			if initial {
				t.quirks = quirksDoctype(string(z.Text()))
			}
		case html.TextToken:
			text := string(z.Text())
			if initial && strings.Trim(text, htmlSpace) == "" {
				continue
			}
			err = t.text(text)
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			var attrs []html.Attribute
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs = append(attrs, html.Attribute{Key: string(k), Val: string(v)})
			}
			err = t.start(string(name), attrs, tt == html.SelfClosingTagToken)
			if t.cur().Namespace != "" {
				// Foreign content has no raw text elements (an SVG <title>).
				z.NextIsNotRawText()
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			err = t.end(string(name))
		}
		if err != nil {
			return nil, err
		}
		if tt != html.CommentToken {
			initial = false
		}
	}
}

// htmlTokenError turns the tokenizer's final error into ours; nil at the end.
func htmlTokenError(err error, maxTok int64) error {
	var pe *Error
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.Is(err, html.ErrBufferExceeded):
		return Errorf(CodeTooLarge, "the page has a single run of text or markup larger than %s", byteSize(maxTok))
	case errors.As(err, &pe):
		return pe
	}
	return &Error{Code: CodeCorrupt, Message: "the page could not be read", Err: err}
}

// free credits the tree's charge once it is no longer needed.
func (t *htmlTree) free() {
	t.b.release(t.held)
	t.held = 0
	t.root, t.body, t.head, t.oe, t.form = nil, nil, nil, nil, nil
}

func (t *htmlTree) charge(n int64) error {
	t.held += n
	return t.b.retain(n, memHTMLTree)
}

func (t *htmlTree) cur() *html.Node { return t.oe[len(t.oe)-1] }

func (t *htmlTree) newElement(a atom.Atom, name, ns string) *html.Node {
	if a != 0 && ns == "" {
		name = a.String() // shared, not allocated
	}
	return &html.Node{Type: html.ElementNode, DataAtom: a, Data: name, Namespace: ns}
}

// element makes an element with the attributes the extractor reads, charged.
func (t *htmlTree) element(a atom.Atom, name, ns string, attrs []html.Attribute) (*html.Node, error) {
	n := t.newElement(a, name, ns)
	cost := int64(costHTMLNode)
	if a == 0 || ns != "" {
		cost += stringCost(len(name))
	}
	for _, at := range attrs {
		key := strings.ToLower(at.Key)
		val := at.Val
		if key == "style" {
			if !strings.Contains(strings.ReplaceAll(strings.ToLower(val), " ", ""), "display:none") {
				continue
			}
			val = "display:none"
		} else if !htmlKeptAttrs[key] {
			continue
		}
		n.Attr = append(n.Attr, html.Attribute{Key: key, Val: val})
		cost += 48 + int64(len(key)+len(val))
	}
	return n, t.charge(cost)
}

// insert adds n where the current node takes children: into it, or before the
// table when the current node is a table part that cannot hold n (foster
// parenting: text and stray elements in a table show before it).
func (t *htmlTree) insert(n *html.Node) {
	if t.fosterTarget() {
		for i := len(t.oe) - 1; i > 0; i-- {
			if tb := t.oe[i]; isHTML(tb, atom.Table) {
				if tb.Parent != nil {
					tb.Parent.InsertBefore(n, tb)
				} else {
					t.oe[i-1].AppendChild(n)
				}
				return
			}
		}
	}
	t.cur().AppendChild(n)
}

// fosterTarget reports whether the current node is a table part, which holds
// only rows and cells.
func (t *htmlTree) fosterTarget() bool {
	switch c := t.cur(); {
	case c.Namespace != "":
		return false
	default:
		switch c.DataAtom {
		case atom.Table, atom.Tbody, atom.Thead, atom.Tfoot, atom.Tr, atom.Colgroup:
			return true
		}
	}
	return false
}

// open inserts and pushes an element.
func (t *htmlTree) open(a atom.Atom, name, ns string, attrs []html.Attribute) error {
	n, err := t.element(a, name, ns, attrs)
	if err != nil {
		return err
	}
	t.insert(n)
	return t.push(n)
}

// void inserts an element that takes no children.
func (t *htmlTree) void(a atom.Atom, name string, attrs []html.Attribute) error {
	n, err := t.element(a, name, "", attrs)
	if err != nil {
		return err
	}
	t.insert(n)
	return nil
}

func (t *htmlTree) push(n *html.Node) error {
	if len(t.oe) >= htmlMaxOpen {
		return errHTMLTooDeep
	}
	t.oe = append(t.oe, n)
	return nil
}

// popTo pops the open elements from the top down to index i, inclusive; html and
// body stay open.
func (t *htmlTree) popTo(i int) {
	t.oe = t.oe[:max(i, 2)]
}

// popAtom pops down to the topmost open HTML element a, if there is one.
func (t *htmlTree) popAtom(a atom.Atom) {
	if i := t.indexOf(a); i >= 2 {
		t.popTo(i)
	}
}

func (t *htmlTree) indexOf(a atom.Atom) int {
	for i := len(t.oe) - 1; i >= 0; i-- {
		if isHTML(t.oe[i], a) {
			return i
		}
	}
	return -1
}

func isHTML(n *html.Node, a atom.Atom) bool { return n.DataAtom == a && n.Namespace == "" }

// text adds a text node.
func (t *htmlTree) text(s string) error {
	if s == "" {
		return nil
	}
	if t.frameset && !isHTML(t.cur(), atom.Noframes) {
		return nil
	}
	if !t.started && strings.Trim(s, htmlSpace) != "" {
		// The text of a title or script in the head does not start the body.
		switch c := t.cur(); {
		case c.Namespace != "":
			t.started = true
		case c.DataAtom != atom.Title && c.DataAtom != atom.Style && c.DataAtom != atom.Script &&
			c.DataAtom != atom.Noscript && c.DataAtom != atom.Noframes && c.DataAtom != atom.Template:
			t.started = true
		}
	}
	n := &html.Node{Type: html.TextNode, Data: s}
	if err := t.charge(costHTMLNode + int64(len(s))); err != nil {
		return err
	}
	if t.fosterTarget() && strings.Trim(s, htmlSpace) == "" {
		// White space in a table stays where it is.
		t.cur().AppendChild(n)
		return nil
	}
	t.insert(n)
	return nil
}

// htmlSpace is what HTML counts as white space.
const htmlSpace = " \t\n\f\r"

// Scopes, as HTML defines them: where the search for an open element stops.
type htmlScope int

const (
	scopeDefault htmlScope = iota
	scopeListItem
	scopeButton
	scopeTable
)

// inScope reports whether an HTML element a is open within the scope.
func (t *htmlTree) inScope(a atom.Atom, scope htmlScope) bool {
	for i := len(t.oe) - 1; i >= 0; i-- {
		n := t.oe[i]
		if isHTML(n, a) {
			return true
		}
		if scopeBoundary(n, scope) {
			return false
		}
	}
	return false
}

func scopeBoundary(n *html.Node, scope htmlScope) bool {
	if n.Namespace == "" {
		switch n.DataAtom {
		case atom.Html, atom.Table, atom.Template:
			return true
		}
		if scope == scopeTable {
			return false
		}
		switch n.DataAtom {
		case atom.Applet, atom.Caption, atom.Td, atom.Th, atom.Marquee, atom.Object:
			return true
		case atom.Ol, atom.Ul:
			return scope == scopeListItem
		case atom.Button:
			return scope == scopeButton
		}
		return false
	}
	return scope != scopeTable && integrationPoint(n)
}

// integrationPoint reports the foreign elements whose content is HTML again.
func integrationPoint(n *html.Node) bool {
	switch n.Namespace {
	case "svg":
		return n.Data == "foreignObject" || n.Data == "desc" || n.Data == "title"
	case "math":
		switch n.Data {
		case "mi", "mo", "mn", "ms", "mtext", "annotation-xml":
			return true
		}
	}
	return false
}

// impliedEnd lists elements whose end tag may be left out.
func impliedEnd(n *html.Node) bool {
	if n.Namespace != "" {
		return false
	}
	switch n.DataAtom {
	case atom.Dd, atom.Dt, atom.Li, atom.Optgroup, atom.Option, atom.P, atom.Rb, atom.Rp, atom.Rt, atom.Rtc:
		return true
	}
	return false
}

// closeImplied pops elements whose end tag may be left out, except except.
func (t *htmlTree) closeImplied(except atom.Atom) {
	for len(t.oe) > 2 && impliedEnd(t.cur()) && t.cur().DataAtom != except {
		t.oe = t.oe[:len(t.oe)-1]
	}
}

// closeP closes an open paragraph, as block-level start tags do.
func (t *htmlTree) closeP() {
	if t.inScope(atom.P, scopeButton) {
		t.closeImplied(atom.P)
		t.popAtom(atom.P)
	}
}

// closeListItem closes an open li (or dd/dt) before a new one, unless a block
// other than div, address or p lies in between.
func (t *htmlTree) closeListItem(kinds ...atom.Atom) {
	for i := len(t.oe) - 1; i >= 2; i-- {
		n := t.oe[i]
		for _, k := range kinds {
			if isHTML(n, k) {
				t.closeImplied(k)
				t.popTo(i)
				return
			}
		}
		if isSpecial(n) && !isHTML(n, atom.Address) && !isHTML(n, atom.Div) && !isHTML(n, atom.P) {
			return
		}
	}
}

// closeFormatting ends an inline formatting element. A block opened inside it
// stays open (its text still belongs to it), which is what the adoption agency
// algorithm achieves without cloning elements.
func (t *htmlTree) closeFormatting(a atom.Atom) {
	for i := len(t.oe) - 1; i >= 2; i-- {
		n := t.oe[i]
		if isHTML(n, a) {
			for _, above := range t.oe[i+1:] {
				if isSpecial(above) {
					t.oe = append(t.oe[:i], t.oe[i+1:]...)
					return
				}
			}
			t.popTo(i)
			return
		}
		if scopeBoundary(n, scopeDefault) {
			return
		}
	}
}

// tableHost returns the innermost open table part (table, section, row, cell or
// caption) and its index, or 0 when no table is open.
func (t *htmlTree) tableHost() (atom.Atom, int) {
	for i := len(t.oe) - 1; i >= 0; i-- {
		n := t.oe[i]
		if n.Namespace != "" {
			continue
		}
		switch n.DataAtom {
		case atom.Table, atom.Tbody, atom.Thead, atom.Tfoot, atom.Tr, atom.Td, atom.Th, atom.Caption:
			return n.DataAtom, i
		case atom.Html, atom.Template:
			return 0, -1
		}
	}
	return 0, -1
}

// quirksDoctype reports whether a doctype puts the page in quirks mode, in which
// a table does not end an open paragraph. Only the common cases are told apart.
func quirksDoctype(doctype string) bool {
	d := strings.ToLower(strings.TrimSpace(doctype))
	name, rest, _ := strings.Cut(d, " ")
	if name != "html" {
		return true
	}
	_, public, ok := strings.Cut(rest, "public")
	if !ok {
		return false
	}
	public = strings.TrimLeft(public, " \t\r\n")
	if public == "" {
		return true
	}
	q := public[0]
	id, system, _ := strings.Cut(public[1:], string(q))
	hasSystem := strings.ContainsAny(system, `"'`)
	for _, p := range []string{"-//w3c//dtd html 3", "-//w3c//dtd html 2", "-//w3c//dtd html 4.0 transitional//",
		"-//w3c//dtd html 4.0 frameset//", "-//ietf//dtd html", "-//w3o//dtd w3 html", "-//netscape comm. corp.//",
		"-//microsoft//dtd internet explorer", "-//softquad", "-//webtechs//dtd mozilla html"} {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return !hasSystem && (strings.HasPrefix(id, "-//w3c//dtd html 4.01 transitional//") ||
		strings.HasPrefix(id, "-//w3c//dtd html 4.01 frameset//"))
}

// isSpecial reports the elements HTML treats as structure rather than phrasing.
func isSpecial(n *html.Node) bool {
	if n.Namespace != "" {
		return integrationPoint(n)
	}
	switch n.DataAtom {
	case atom.Address, atom.Applet, atom.Area, atom.Article, atom.Aside, atom.Base, atom.Basefont,
		atom.Bgsound, atom.Blockquote, atom.Body, atom.Br, atom.Button, atom.Caption, atom.Center,
		atom.Col, atom.Colgroup, atom.Dd, atom.Details, atom.Dir, atom.Div, atom.Dl, atom.Dt,
		atom.Embed, atom.Fieldset, atom.Figcaption, atom.Figure, atom.Footer, atom.Form, atom.Frame,
		atom.Frameset, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Head, atom.Header,
		atom.Hgroup, atom.Hr, atom.Html, atom.Iframe, atom.Img, atom.Input, atom.Keygen, atom.Li,
		atom.Link, atom.Listing, atom.Main, atom.Marquee, atom.Menu, atom.Meta, atom.Nav,
		atom.Noembed, atom.Noframes, atom.Noscript, atom.Object, atom.Ol, atom.P, atom.Param,
		atom.Plaintext, atom.Pre, atom.Script, atom.Search, atom.Section, atom.Select, atom.Source,
		atom.Style, atom.Summary, atom.Table, atom.Tbody, atom.Td, atom.Template, atom.Textarea,
		atom.Tfoot, atom.Th, atom.Thead, atom.Title, atom.Tr, atom.Track, atom.Ul, atom.Wbr, atom.Xmp:
		return true
	}
	return false
}
