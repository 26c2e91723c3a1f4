package parse

import (
	"strings"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// mdWalker turns goldmark's syntax tree of one section into blocks: headings,
// paragraphs, list items, code and tables. Quotes and lists contribute their
// contents; inline markup is reduced to its text (a link to its text, an image
// to its description); raw HTML keeps the text between its tags.
type mdWalker struct {
	s   *sink
	src []byte
	// listDepth is the nesting of the lists being read, 1 inside a top list.
	listDepth int
}

// blocks adds the blocks of n's children.
func (w *mdWalker) blocks(n ast.Node) error {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if err := w.block(c); err != nil {
			return err
		}
	}
	return nil
}

func (w *mdWalker) block(n ast.Node) error {
	if err := w.s.tick(); err != nil {
		return err
	}
	switch n := n.(type) {
	case *ast.Heading:
		return w.s.add(Block{Kind: KindHeading, Level: n.Level, Text: w.inlineText(n)})
	case *ast.Paragraph, *ast.TextBlock:
		return w.s.paragraph(w.inlineText(n))
	case *ast.CodeBlock, *ast.FencedCodeBlock:
		return w.s.add(Block{Kind: KindCode, Text: w.lines(n.Lines())})
	case *ast.HTMLBlock:
		raw := w.lines(n.Lines())
		if n.HasClosure() {
			raw += "\n" + string(n.ClosureLine.Value(w.src))
		}
		return w.s.paragraph(stripMarkup(raw))
	case *ast.List:
		w.listDepth++
		defer func() { w.listDepth-- }()
		return w.blocks(n)
	case *ast.ListItem:
		return w.listItem(n)
	case *east.Table:
		return w.table(n)
	case *ast.ThematicBreak:
		return nil
	}
	// The document, quotes and blocks of extensions: their contents.
	return w.blocks(n)
}

// listItem adds an item's own text (its leading paragraphs, joined on one
// line) as a list item, then whatever else it holds, nested lists included.
func (w *mdWalker) listItem(n *ast.ListItem) error {
	var parts []string
	c := n.FirstChild()
	for ; c != nil; c = c.NextSibling() {
		if c.Kind() != ast.KindParagraph && c.Kind() != ast.KindTextBlock {
			break
		}
		parts = append(parts, strings.ReplaceAll(w.inlineText(c), "\n", " "))
	}
	level := min(w.listDepth, maxListDepth)
	if err := w.s.add(Block{Kind: KindListItem, Level: level, Text: strings.Join(parts, " ")}); err != nil {
		return err
	}
	for ; c != nil; c = c.NextSibling() {
		if err := w.block(c); err != nil {
			return err
		}
	}
	return nil
}

// table adds a GitHub table; short rows are padded to the header's width and
// long ones cut to it, as GitHub shows them.
func (w *mdWalker) table(n *east.Table) error {
	var rows [][]string
	var held int64
	defer func() { w.s.b.release(held) }()
	for r := n.FirstChild(); r != nil; r = r.NextSibling() {
		var row []string
		for c := r.FirstChild(); c != nil; c = c.NextSibling() {
			row = append(row, w.inlineText(c))
		}
		if len(rows) > 0 {
			width := len(rows[0])
			row = append(row, make([]string, max(width-len(row), 0))...)[:width]
		}
		if err := w.s.b.retain(rowCost(row), memTable); err != nil {
			return err
		}
		held += rowCost(row)
		rows = append(rows, row)
	}
	return addTable(w.s, rows, 0)
}

// lines joins the source lines of a code or HTML block, without their final
// line break.
func (w *mdWalker) lines(segs *text.Segments) string {
	var b strings.Builder
	for i := 0; i < segs.Len(); i++ {
		seg := segs.At(i)
		b.Write(seg.Value(w.src))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// inlineText is the text of n's inline content: soft and hard line breaks
// become "\n", escapes and entities are resolved, markup is dropped.
func (w *mdWalker) inlineText(n ast.Node) string {
	var b strings.Builder
	w.inline(n, &b)
	return b.String()
}

func (w *mdWalker) inline(n ast.Node, b *strings.Builder) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			v := c.Value(w.src)
			if !c.IsRaw() {
				v = util.ResolveEntityNames(util.ResolveNumericReferences(util.UnescapePunctuations(v)))
			}
			b.Write(v)
			if c.SoftLineBreak() || c.HardLineBreak() {
				b.WriteByte('\n')
			}
		case *ast.String:
			b.Write(c.Value)
		case *ast.CodeSpan:
			// Code is literal; its line breaks are spaces, as CommonMark renders them.
			var code strings.Builder
			for t := c.FirstChild(); t != nil; t = t.NextSibling() {
				if t, ok := t.(*ast.Text); ok {
					code.Write(t.Value(w.src))
				}
			}
			b.WriteString(strings.ReplaceAll(code.String(), "\n", " "))
		case *ast.AutoLink:
			b.Write(c.Label(w.src))
		case *ast.RawHTML:
			// Inline tags carry no text.
		default:
			// Emphasis, links, images (their description), strikethrough.
			w.inline(c, b)
		}
	}
}

// stripMarkup is the text of a raw HTML block: tags and comments dropped,
// entities resolved, each line trimmed. Scripts and styles are rare in Markdown
// and their code is kept as text, which does no harm to search.
func stripMarkup(raw string) string {
	var b strings.Builder
	for len(raw) > 0 {
		open := strings.IndexByte(raw, '<')
		if open < 0 {
			b.WriteString(raw)
			break
		}
		b.WriteString(raw[:open])
		end := ">"
		if strings.HasPrefix(raw[open:], "<!--") {
			end = "-->"
		}
		closeAt := strings.Index(raw[open:], end)
		if closeAt < 0 {
			break // an unclosed tag runs to the end of the block
		}
		raw = raw[open+closeAt+len(end):]
		b.WriteByte(' ')
	}
	var lines []string
	for _, line := range strings.Split(b.String(), "\n") {
		if line = strings.Join(strings.Fields(line), " "); line != "" {
			lines = append(lines, line)
		}
	}
	return string(util.ResolveEntityNames(util.ResolveNumericReferences([]byte(strings.Join(lines, "\n")))))
}
