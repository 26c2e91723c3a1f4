package article

import (
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Render renders the text under n: blocks separated by blank lines, headings
// as "## Heading", list items as "- item" or "1. item" indented by nesting,
// tables as "| a | b |" rows (a "| --- |" line after a header row), and
// preformatted text fenced by ``` lines.
func Render(n *html.Node) string {
	r := &renderer{}
	r.walk(n)
	r.block()
	return strings.TrimSpace(r.out.String())
}

type list struct {
	ordered bool
	next    int
}

type renderer struct {
	out    strings.Builder
	line   strings.Builder // inline text of the current line
	prefix string          // put before the next line written (a list marker)
	lists  []list
	depth  int
}

// skipped elements carry no readable text.
var skipped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true, atom.Head: true,
	atom.Svg: true, atom.Math: true, atom.Iframe: true, atom.Object: true, atom.Button: true,
	atom.Select: true, atom.Input: true, atom.Textarea: true, atom.Form: true, atom.Nav: true,
}

var blocks = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Section: true, atom.Article: true, atom.Main: true, atom.Header: true,
	atom.Footer: true, atom.Aside: true, atom.Blockquote: true, atom.Figure: true, atom.Figcaption: true,
	atom.Address: true, atom.Details: true, atom.Summary: true, atom.Dl: true, atom.Hr: true, atom.Caption: true,
	atom.Center: true, atom.Fieldset: true,
}

func (r *renderer) walk(n *html.Node) {
	const maxDepth = 500
	if r.depth > maxDepth {
		return
	}
	r.depth++
	defer func() { r.depth-- }()
	switch n.Type {
	case html.TextNode:
		r.text(n.Data)
		return
	case html.ElementNode:
	default:
		r.children(n)
		return
	}
	if skipped[n.DataAtom] {
		return
	}
	switch a := n.DataAtom; {
	case a == atom.Br:
		r.flush()
	case a == atom.H1 || a == atom.H2 || a == atom.H3 || a == atom.H4 || a == atom.H5 || a == atom.H6:
		r.block()
		level, _ := strconv.Atoi(n.Data[1:])
		r.prefix = strings.Repeat("#", level) + " "
		r.children(n)
		r.block()
	case a == atom.Ul || a == atom.Ol || a == atom.Menu:
		r.block()
		l := list{ordered: a == atom.Ol, next: 1}
		if s := attr(n, "start"); s != "" {
			if v, err := strconv.Atoi(s); err == nil {
				l.next = v
			}
		}
		r.lists = append(r.lists, l)
		r.children(n)
		r.lists = r.lists[:len(r.lists)-1]
		r.block()
	case a == atom.Li:
		r.flush()
		r.prefix = r.marker()
		r.children(n)
		r.flush()
	case a == atom.Dt:
		r.flush()
		r.children(n)
		r.flush()
	case a == atom.Dd:
		r.flush()
		r.prefix = "  "
		r.children(n)
		r.flush()
	case a == atom.Table:
		r.block()
		r.table(n)
		r.block()
	case a == atom.Pre:
		r.block()
		code := strings.Trim(textOf(n), "\n")
		r.out.WriteString("```\n" + code + "\n```\n\n")
	case a == atom.Img:
		if alt := collapse(attr(n, "alt")); alt != "" {
			r.text(" " + alt + " ")
		}
	case blocks[a]:
		r.block()
		r.children(n)
		r.block()
	default:
		r.children(n)
	}
}

func (r *renderer) children(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		r.walk(c)
	}
}

func (r *renderer) text(s string) {
	s = collapse2(s)
	if s == "" {
		return
	}
	if s == " " {
		if r.line.Len() > 0 && !strings.HasSuffix(r.line.String(), " ") {
			r.line.WriteByte(' ')
		}
		return
	}
	if strings.HasPrefix(s, " ") && (r.line.Len() == 0 || strings.HasSuffix(r.line.String(), " ")) {
		s = s[1:]
	}
	r.line.WriteString(s)
}

// marker is the next list item's marker, indented by the lists it is in.
func (r *renderer) marker() string {
	if len(r.lists) == 0 {
		return "- "
	}
	l := &r.lists[len(r.lists)-1]
	indent := strings.Repeat("  ", len(r.lists)-1)
	if l.ordered {
		m := indent + strconv.Itoa(l.next) + ". "
		l.next++
		return m
	}
	return indent + "- "
}

// flush ends the current line.
func (r *renderer) flush() {
	line := strings.TrimSpace(r.line.String())
	r.line.Reset()
	if line == "" {
		return
	}
	r.out.WriteString(r.prefix + line + "\n")
	r.prefix = ""
}

// block ends the current block: a blank line follows, except between the items
// of a list.
func (r *renderer) block() {
	r.flush()
	if len(r.lists) > 0 {
		return
	}
	s := r.out.String()
	if s != "" && !strings.HasSuffix(s, "\n\n") {
		r.out.WriteString("\n")
	}
}

// table renders rows of cells; a first row of header cells is underlined.
func (r *renderer) table(t *html.Node) {
	var rows [][]string
	header := false
	var visit func(n *html.Node, depth int)
	visit = func(n *html.Node, depth int) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			switch c.DataAtom {
			case atom.Tr:
				var cells []string
				allHeads := true
				for cell := c.FirstChild; cell != nil; cell = cell.NextSibling {
					if cell.Type != html.ElementNode || (cell.DataAtom != atom.Td && cell.DataAtom != atom.Th) {
						continue
					}
					allHeads = allHeads && cell.DataAtom == atom.Th
					text := strings.ReplaceAll(collapse(textOf(cell)), "|", `\|`)
					cells = append(cells, text)
					if span, err := strconv.Atoi(attr(cell, "colspan")); err == nil && span > 1 {
						for range min(span, 32) - 1 {
							cells = append(cells, "")
						}
					}
				}
				if len(cells) > 0 {
					if len(rows) == 0 && allHeads {
						header = true
					}
					rows = append(rows, cells)
				}
			case atom.Thead, atom.Tbody, atom.Tfoot:
				if depth < 2 {
					visit(c, depth+1)
				}
			case atom.Caption:
				if text := collapse(textOf(c)); text != "" {
					r.out.WriteString(text + "\n\n")
				}
			}
		}
	}
	visit(t, 0)
	width := 0
	for _, row := range rows {
		width = max(width, len(row))
	}
	for i, row := range rows {
		for len(row) < width {
			row = append(row, "")
		}
		r.out.WriteString("| " + strings.Join(row, " | ") + " |\n")
		if i == 0 && header {
			r.out.WriteString("|" + strings.Repeat(" --- |", width) + "\n")
		}
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// textOf is all the text under n, as it is.
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node, int)
	walk = func(n *html.Node, depth int) {
		if depth > 500 {
			return
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			return
		}
		if n.Type == html.ElementNode && (n.DataAtom == atom.Script || n.DataAtom == atom.Style) {
			return
		}
		if n.Type == html.ElementNode && n.DataAtom == atom.Br {
			b.WriteString("\n")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}

func find(n *html.Node, tag string) *html.Node {
	if n.Type == html.ElementNode && n.Data == tag {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, tag); f != nil {
			return f
		}
	}
	return nil
}

// collapse joins runs of white space into one space and trims the ends.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// collapse2 joins runs of white space into one space, keeping one at either end
// when there was some: inline text next to other inline text.
func collapse2(s string) string {
	if s == "" {
		return ""
	}
	inner := strings.Join(strings.Fields(s), " ")
	lead := strings.TrimLeft(s, " \t\n\r\f") != s
	trail := strings.TrimRight(s, " \t\n\r\f") != s
	if inner == "" {
		return " "
	}
	if lead {
		inner = " " + inner
	}
	if trail {
		inner += " "
	}
	return inner
}
