package parse

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// start handles a start tag; see the HTML5 rules for the "in body", "in table"
// and "in select" insertion modes, of which these are the parts that decide
// where text lands.
func (t *htmlTree) start(name string, attrs []html.Attribute, selfClosing bool) error {
	a := atom.Lookup([]byte(name))
	if ns := t.foreignNS(); ns != "" {
		if !breaksOut(a, attrs) {
			if ns == "svg" && name == "foreignobject" {
				name = "foreignObject"
			}
			n, err := t.element(a, name, ns, attrs)
			if err != nil {
				return err
			}
			t.cur().AppendChild(n)
			if selfClosing {
				return nil
			}
			return t.push(n)
		}
		// HTML inside SVG or MathML ends them.
		for len(t.oe) > 2 && t.foreignNS() != "" {
			t.oe = t.oe[:len(t.oe)-1]
		}
	}
	if t.frameset || !t.started {
		switch a {
		case atom.Noframes:
			// Before the body, noframes is head content (hidden); in a frameset
			// page it holds the page's only text.
			n, err := t.element(a, name, "", attrs)
			if err != nil {
				return err
			}
			if t.frameset {
				t.cur().AppendChild(n)
			} else {
				t.head.AppendChild(n)
			}
			return t.push(n)
		case atom.Frameset:
			t.frameset = true
			return nil
		case atom.Html, atom.Head, atom.Title, atom.Meta, atom.Link, atom.Style, atom.Script,
			atom.Noscript, atom.Base, atom.Basefont, atom.Bgsound, atom.Template:
		default:
			if t.frameset {
				return nil
			}
			t.started = true
		}
	}
	switch a {
	case atom.Html:
		return t.mergeAttrs(t.oe[0], attrs)
	case atom.Body:
		return t.mergeAttrs(t.body, attrs)
	case atom.Head, atom.Frameset, atom.Frame:
		return nil
	case atom.Svg, atom.Math:
		n, err := t.element(a, name, a.String(), attrs)
		if err != nil {
			return err
		}
		t.insert(n)
		if selfClosing {
			return nil
		}
		return t.push(n)
	}
	if t.indexOf(atom.Select) >= 2 {
		if handled, err := t.startInSelect(name, a, attrs); handled || err != nil {
			return err
		}
	}
	switch a {
	case atom.Caption, atom.Colgroup, atom.Col, atom.Tbody, atom.Thead, atom.Tfoot, atom.Tr, atom.Td, atom.Th:
		return t.tablePart(name, a, attrs)
	case atom.Table:
		switch host, i := t.tableHost(); host {
		case atom.Table, atom.Tbody, atom.Thead, atom.Tfoot, atom.Tr:
			// A table cannot start among rows: it ends the open table.
			for ; i >= 2 && !isHTML(t.oe[i], atom.Table); i-- {
			}
			t.popTo(i)
			return t.start(name, attrs, selfClosing)
		}
		if !t.quirks {
			t.closeP()
		}
		return t.open(a, name, "", attrs)
	}
	if t.fosterTarget() {
		// What a table holds directly besides rows.
		switch a {
		case atom.Style, atom.Script, atom.Template:
			return t.openIn(a, name, attrs)
		case atom.Input:
			if strings.EqualFold(attrValue(attrs, "type"), "hidden") {
				return t.appendVoid(a, name, attrs)
			}
		case atom.Form:
			if t.form != nil {
				return nil
			}
			n, err := t.element(a, name, "", attrs)
			if err != nil {
				return err
			}
			t.cur().AppendChild(n)
			t.form = n
			return nil
		}
	}
	switch a {
	case atom.Area, atom.Base, atom.Basefont, atom.Bgsound, atom.Br, atom.Embed, atom.Img, atom.Input,
		atom.Keygen, atom.Link, atom.Meta, atom.Param, atom.Source, atom.Track, atom.Wbr:
		return t.void(a, name, attrs)
	case atom.Image:
		return t.void(atom.Img, "img", attrs)
	case atom.Hr:
		t.closeP()
		return t.void(a, name, attrs)
	case atom.Address, atom.Article, atom.Aside, atom.Blockquote, atom.Center, atom.Details, atom.Dialog,
		atom.Dir, atom.Div, atom.Dl, atom.Fieldset, atom.Figcaption, atom.Figure, atom.Footer, atom.Header,
		atom.Hgroup, atom.Main, atom.Menu, atom.Nav, atom.Ol, atom.P, atom.Search, atom.Section, atom.Summary,
		atom.Ul, atom.Pre, atom.Listing, atom.Plaintext, atom.Xmp:
		t.closeP()
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		t.closeP()
		if c := t.cur(); c.Namespace == "" && isHeading(c.DataAtom) {
			t.oe = t.oe[:len(t.oe)-1]
		}
	case atom.Form:
		if t.form != nil {
			return nil
		}
		t.closeP()
		if err := t.open(a, name, "", attrs); err != nil {
			return err
		}
		t.form = t.cur()
		return nil
	case atom.Li:
		t.closeListItem(atom.Li)
		t.closeP()
	case atom.Dd, atom.Dt:
		t.closeListItem(atom.Dd, atom.Dt)
		t.closeP()
	case atom.Button:
		if t.inScope(atom.Button, scopeDefault) {
			t.closeImplied(0)
			t.popAtom(atom.Button)
		}
	case atom.A, atom.Nobr:
		t.closeFormatting(a)
	case atom.Option, atom.Optgroup:
		if isHTML(t.cur(), atom.Option) {
			t.oe = t.oe[:len(t.oe)-1]
		}
	case atom.Rb, atom.Rtc:
		if t.inScope(atom.Ruby, scopeDefault) {
			t.closeImplied(0)
		}
	case atom.Rp, atom.Rt:
		if t.inScope(atom.Ruby, scopeDefault) {
			t.closeImplied(atom.Rtc)
		}
	}
	return t.open(a, name, "", attrs)
}

// foreignNS returns the namespace of the current node when it is SVG or MathML
// content read by foreign rules, else "".
func (t *htmlTree) foreignNS() string {
	c := t.cur()
	if c.Namespace == "" || integrationPoint(c) {
		return ""
	}
	return c.Namespace
}

// breaksOut reports the HTML start tags that end SVG or MathML content.
func breaksOut(a atom.Atom, attrs []html.Attribute) bool {
	switch a {
	case atom.B, atom.Big, atom.Blockquote, atom.Body, atom.Br, atom.Center, atom.Code, atom.Dd, atom.Div,
		atom.Dl, atom.Dt, atom.Em, atom.Embed, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
		atom.Head, atom.Hr, atom.I, atom.Img, atom.Li, atom.Listing, atom.Menu, atom.Meta, atom.Nobr,
		atom.Ol, atom.P, atom.Pre, atom.Ruby, atom.S, atom.Small, atom.Span, atom.Strong, atom.Strike,
		atom.Sub, atom.Sup, atom.Table, atom.Tt, atom.U, atom.Ul, atom.Var:
		return true
	case atom.Font:
		for _, at := range attrs {
			switch strings.ToLower(at.Key) {
			case "color", "face", "size":
				return true
			}
		}
	}
	return false
}

func isHeading(a atom.Atom) bool {
	switch a {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		return true
	}
	return false
}

func attrValue(attrs []html.Attribute, key string) string {
	for _, at := range attrs {
		if strings.EqualFold(at.Key, key) {
			return at.Val
		}
	}
	return ""
}

// openIn appends an element to the current node, bypassing foster parenting,
// and pushes it: table parts go into the table itself.
func (t *htmlTree) openIn(a atom.Atom, name string, attrs []html.Attribute) error {
	n, err := t.element(a, name, "", attrs)
	if err != nil {
		return err
	}
	t.cur().AppendChild(n)
	return t.push(n)
}

func (t *htmlTree) appendVoid(a atom.Atom, name string, attrs []html.Attribute) error {
	n, err := t.element(a, name, "", attrs)
	if err != nil {
		return err
	}
	t.cur().AppendChild(n)
	return nil
}

// mergeAttrs adds the attributes of a repeated html or body tag that n lacks.
func (t *htmlTree) mergeAttrs(n *html.Node, attrs []html.Attribute) error {
	extra, err := t.element(n.DataAtom, n.Data, "", attrs)
	if err != nil {
		return err
	}
	for _, at := range extra.Attr {
		if attrValue(n.Attr, at.Key) == "" && !hasAttr(n, at.Key) {
			n.Attr = append(n.Attr, at)
		}
	}
	return nil
}

func hasAttr(n *html.Node, key string) bool {
	for _, at := range n.Attr {
		if at.Key == key {
			return true
		}
	}
	return false
}

// tablePart handles the start tags of table structure: outside a table they
// mean nothing; inside, they close what they cannot sit in and open what they
// need (a row for a stray cell).
func (t *htmlTree) tablePart(name string, a atom.Atom, attrs []html.Attribute) error {
	host, i := t.tableHost()
	if host == 0 {
		return nil
	}
	again := func() error {
		t.popTo(i)
		return t.start(name, attrs, false)
	}
	switch a {
	case atom.Td, atom.Th:
		switch host {
		case atom.Td, atom.Th, atom.Caption:
			return again()
		case atom.Tr:
			t.popTo(i + 1)
			return t.openIn(a, name, attrs)
		}
		t.popTo(i + 1)
		if err := t.openIn(atom.Tr, "tr", nil); err != nil {
			return err
		}
		return t.openIn(a, name, attrs)
	case atom.Tr:
		switch host {
		case atom.Td, atom.Th, atom.Caption, atom.Tr:
			return again()
		}
		t.popTo(i + 1)
		return t.openIn(a, name, attrs)
	}
	if host != atom.Table {
		return again()
	}
	t.popTo(i + 1)
	if a == atom.Col {
		return t.appendVoid(a, name, attrs)
	}
	return t.openIn(a, name, attrs)
}

// startInSelect handles a start tag while a select is open: options go in, a
// few tags end the select, everything else is ignored. handled is false when
// the tag must be handled anew after the select was closed.
func (t *htmlTree) startInSelect(name string, a atom.Atom, attrs []html.Attribute) (handled bool, err error) {
	switch a {
	case atom.Option:
		if isHTML(t.cur(), atom.Option) {
			t.oe = t.oe[:len(t.oe)-1]
		}
		return true, t.open(a, name, "", attrs)
	case atom.Optgroup:
		for isHTML(t.cur(), atom.Option) || isHTML(t.cur(), atom.Optgroup) {
			t.oe = t.oe[:len(t.oe)-1]
		}
		return true, t.open(a, name, "", attrs)
	case atom.Select:
		t.popAtom(atom.Select)
		return true, nil
	case atom.Input, atom.Keygen, atom.Textarea:
		t.popAtom(atom.Select)
		return false, nil
	case atom.Caption, atom.Table, atom.Tbody, atom.Tfoot, atom.Thead, atom.Tr, atom.Td, atom.Th:
		if t.indexOf(atom.Table) < t.indexOf(atom.Select) && t.indexOf(atom.Table) >= 2 {
			t.popAtom(atom.Select)
			return false, nil
		}
	case atom.Script, atom.Template:
		return true, t.open(a, name, "", attrs)
	}
	return true, nil
}

// end handles an end tag.
func (t *htmlTree) end(name string) error {
	a := atom.Lookup([]byte(name))
	if t.cur().Namespace != "" {
		for i := len(t.oe) - 1; i >= 2 && t.oe[i].Namespace != ""; i-- {
			if strings.EqualFold(t.oe[i].Data, name) {
				t.popTo(i)
				return nil
			}
		}
	}
	if t.indexOf(atom.Select) >= 2 && t.endInSelect(a) {
		return nil
	}
	switch a {
	case atom.Html, atom.Body, atom.Head:
	case atom.P:
		if !t.inScope(atom.P, scopeButton) {
			// A stray </p> still breaks the text, as an empty paragraph.
			return t.void(atom.P, "p", nil)
		}
		t.closeImplied(atom.P)
		t.popAtom(atom.P)
	case atom.Li:
		if t.inScope(atom.Li, scopeListItem) {
			t.closeImplied(atom.Li)
			t.popAtom(atom.Li)
		}
	case atom.Dd, atom.Dt:
		if t.inScope(a, scopeDefault) {
			t.closeImplied(a)
			t.popAtom(a)
		}
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		for _, h := range []atom.Atom{atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6} {
			if t.inScope(h, scopeDefault) {
				t.closeImplied(0)
				for i := len(t.oe) - 1; i >= 2; i-- {
					if t.oe[i].Namespace == "" && isHeading(t.oe[i].DataAtom) {
						t.popTo(i)
						break
					}
				}
				break
			}
		}
	case atom.Address, atom.Article, atom.Aside, atom.Blockquote, atom.Button, atom.Center, atom.Details,
		atom.Dialog, atom.Dir, atom.Div, atom.Dl, atom.Fieldset, atom.Figcaption, atom.Figure, atom.Footer,
		atom.Header, atom.Hgroup, atom.Listing, atom.Main, atom.Menu, atom.Nav, atom.Ol, atom.Pre,
		atom.Search, atom.Section, atom.Summary, atom.Ul, atom.Applet, atom.Marquee, atom.Object:
		if t.inScope(a, scopeDefault) {
			t.closeImplied(0)
			t.popAtom(a)
		}
	case atom.Form:
		n := t.form
		t.form = nil
		for i := len(t.oe) - 1; i >= 2 && n != nil; i-- {
			if t.oe[i] == n {
				// The form ends, what was opened inside it does not.
				t.closeImplied(0)
				t.oe = append(t.oe[:i], t.oe[i+1:]...)
				break
			}
			if scopeBoundary(t.oe[i], scopeDefault) {
				break
			}
		}
	case atom.A, atom.B, atom.Big, atom.Code, atom.Em, atom.Font, atom.I, atom.Nobr, atom.S, atom.Small,
		atom.Strike, atom.Strong, atom.Tt, atom.U:
		t.closeFormatting(a)
	case atom.Br:
		return t.void(atom.Br, "br", nil)
	case atom.Table, atom.Tbody, atom.Thead, atom.Tfoot, atom.Tr, atom.Caption:
		if t.inScope(a, scopeTable) {
			t.popAtom(a)
		}
	case atom.Td, atom.Th:
		if t.inScope(a, scopeTable) {
			t.closeImplied(0)
			t.popAtom(a)
		}
	case atom.Colgroup:
		if isHTML(t.cur(), atom.Colgroup) {
			t.oe = t.oe[:len(t.oe)-1]
		}
	case atom.Template:
		t.popAtom(atom.Template)
	default:
		// Any other end tag closes the nearest open element of its name, unless a
		// structural element lies in between.
		for i := len(t.oe) - 1; i >= 2; i-- {
			n := t.oe[i]
			if n.Namespace == "" && n.Data == name {
				t.closeImplied(n.DataAtom)
				t.popTo(i)
				return nil
			}
			if isSpecial(n) {
				return nil
			}
		}
	}
	return nil
}

// endInSelect handles an end tag while a select is open; false means the tag
// must be handled anew after the select was closed.
func (t *htmlTree) endInSelect(a atom.Atom) bool {
	switch a {
	case atom.Option:
		if isHTML(t.cur(), atom.Option) {
			t.oe = t.oe[:len(t.oe)-1]
		}
	case atom.Optgroup:
		if n := len(t.oe); isHTML(t.cur(), atom.Option) && n > 3 && isHTML(t.oe[n-2], atom.Optgroup) {
			t.oe = t.oe[:n-1]
		}
		if isHTML(t.cur(), atom.Optgroup) {
			t.oe = t.oe[:len(t.oe)-1]
		}
	case atom.Select:
		t.popAtom(atom.Select)
	case atom.Caption, atom.Table, atom.Tbody, atom.Tfoot, atom.Thead, atom.Tr, atom.Td, atom.Th:
		if t.indexOf(atom.Table) < t.indexOf(atom.Select) && t.inScope(a, scopeTable) {
			t.popAtom(atom.Select)
			return false
		}
	}
	return true
}
