package parse

import (
	"context"
	"io"
	"strings"
)

// maxListDepth caps list nesting; deeper items are reported at this level.
const maxListDepth = 16

// parseMarkdown reads Markdown (CommonMark with GitHub pipe tables) into headings,
// paragraphs, list items, code blocks and tables. Inline markup is kept as written:
// it is readable as text and the chunker does not need it removed. The file is
// streamed line by line; the lines of the block being read are charged to the
// memory budget until the block is added.
func parseMarkdown(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	text, err := openText(r, size, "", b)
	if err != nil {
		return nil, err
	}
	m := &mdParser{s: newSink(b), src: &mdSource{lines: newLineReader(text, textLineMax, size), b: b}}
	defer m.release()
	if err := m.run(); err != nil {
		return nil, err
	}
	title := m.frontTitle
	for _, blk := range m.s.blocks {
		if blk.Kind == KindHeading && (title == "" || blk.Level == 1) {
			title = blk.Text
			if blk.Level == 1 {
				break
			}
		}
	}
	return &Document{Title: title, Blocks: m.s.blocks}, nil
}

// mdSource hands out the lines of a stream with a little lookahead: the next
// line decides tables, the first lines front matter.
type mdSource struct {
	lines *lineReader
	b     *budget
	// win holds the lines read ahead, the current one first.
	win  []string
	held int64
	done bool
	err  error
}

// has reports whether line k (0 = current) exists, reading ahead as needed.
func (m *mdSource) has(k int) bool {
	for len(m.win) <= k && !m.done && m.err == nil {
		var line heldText
		for {
			piece, more, ok, err := m.lines.next()
			if err != nil {
				m.err = err
				return false
			}
			if !ok {
				m.done = true
				break
			}
			if !more && line.Len() == 0 {
				// The common case: a whole line in one piece.
				if err := m.b.retain(stringCost(len(piece)), memLines); err != nil {
					m.err = err
					return false
				}
				m.held += stringCost(len(piece))
				m.win = append(m.win, piece)
				break
			}
			// A long line comes in pieces, gathered with its growth charged.
			if err := line.write(m.b, piece, memLines); err != nil {
				m.err = err
				return false
			}
			if !more {
				text, held := line.detach()
				// Re-charged as the whole line advance credits.
				m.b.release(held)
				if err := m.b.retain(stringCost(len(text)), memLines); err != nil {
					m.err = err
					return false
				}
				m.held += stringCost(len(text))
				m.win = append(m.win, text)
				break
			}
		}
	}
	return len(m.win) > k
}

// at returns line k; has(k) must be true.
func (m *mdSource) at(k int) string { return m.win[k] }

// advance drops the current line.
func (m *mdSource) advance() {
	if len(m.win) > 0 {
		cost := stringCost(len(m.win[0]))
		m.b.release(cost)
		m.held -= cost
		m.win[0] = ""
		m.win = m.win[1:]
	}
}

// mdParser is a line-oriented Markdown block parser. It recognises the block
// structures that matter for retrieval and treats everything else as paragraphs.
type mdParser struct {
	s   *sink
	src *mdSource
	// para holds the lines of the pending paragraph.
	para []string
	// item holds the pending list item's text; itemLevel its depth (1 = top).
	item      []string
	itemLevel int
	// listIndents is the indentation of each open list level.
	listIndents []int
	frontTitle  string
	// held is what para, item and a code block being read are charged.
	held int64
}

// keep charges a line the parser holds until its block is added.
func (m *mdParser) keep(line string) error {
	m.held += stringCost(len(line))
	return m.s.b.retain(stringCost(len(line)), memParagraph)
}

// release credits everything charged for lines, at the end.
func (m *mdParser) release() {
	m.s.b.release(m.held + m.src.held)
	m.held, m.src.held = 0, 0
}

func (m *mdParser) run() error {
	m.skipFrontMatter()
	for m.src.has(0) {
		if err := m.s.tick(); err != nil {
			return err
		}
		if err := m.line(); err != nil {
			return err
		}
	}
	if m.src.err != nil {
		return m.src.err
	}
	return m.flush()
}

// line consumes one or more lines starting at the current one.
func (m *mdParser) line() error {
	raw := strings.TrimRight(m.src.at(0), " \t")
	indent, body := splitIndent(raw)
	inList := len(m.listIndents) > 0
	switch {
	case body == "":
		m.src.advance()
		return m.flush()
	case (indent <= 3 || inList) && fenceOf(body) != "":
		if err := m.flush(); err != nil {
			return err
		}
		return m.fence(indent, fenceOf(body))
	case indent <= 3 && atxLevel(body) > 0:
		if err := m.flushAll(); err != nil {
			return err
		}
		m.src.advance()
		return m.s.add(Block{Kind: KindHeading, Level: atxLevel(body), Text: atxText(body)})
	case indent <= 3 && len(m.para) > 0 && len(m.item) == 0 && setextLevel(body) > 0:
		text := strings.Join(m.para, " ")
		m.para = nil
		m.src.advance()
		return m.s.add(Block{Kind: KindHeading, Level: setextLevel(body), Text: text})
	case indent <= 3 && isThematicBreak(body):
		m.src.advance()
		return m.flushAll()
	case strings.Contains(body, "|") && m.src.has(1) && isTableStart(body, m.src.at(1)):
		if err := m.flushAll(); err != nil {
			return err
		}
		return m.table()
	case strings.HasPrefix(body, ">"):
		// Quotes hold ordinary blocks: strip all markers at once (a line of many
		// ">" must stay linear) and read the line again.
		m.src.win[0] = strings.TrimLeft(body, "> \t")
		return nil
	}
	if text, ok := listItemText(body); ok {
		if err := m.flush(); err != nil {
			return err
		}
		m.itemLevel = m.listLevel(indent)
		m.item = []string{text}
		m.src.advance()
		return m.keep(text)
	}
	m.src.advance()
	if len(m.item) > 0 {
		m.item = append(m.item, body)
		return m.keep(body)
	}
	if len(m.para) == 0 && indent <= 3 {
		// A paragraph that is not indented ends any list.
		m.listIndents = m.listIndents[:0]
	}
	m.para = append(m.para, body)
	return m.keep(body)
}

// listLevel returns the depth of an item indented by indent, keeping the stack of
// open list indentations in step.
func (m *mdParser) listLevel(indent int) int {
	for len(m.listIndents) > 0 && m.listIndents[len(m.listIndents)-1] > indent {
		m.listIndents = m.listIndents[:len(m.listIndents)-1]
	}
	if len(m.listIndents) == 0 || m.listIndents[len(m.listIndents)-1] < indent {
		m.listIndents = append(m.listIndents, indent)
	}
	return min(len(m.listIndents), maxListDepth)
}

// flush emits the pending paragraph and list item.
func (m *mdParser) flush() error {
	defer m.unkeep()
	if len(m.para) > 0 {
		if err := m.s.paragraph(strings.Join(m.para, "\n")); err != nil {
			return err
		}
		m.para = nil
	}
	if len(m.item) > 0 {
		if err := m.s.add(Block{Kind: KindListItem, Level: m.itemLevel, Text: strings.Join(m.item, " ")}); err != nil {
			return err
		}
		m.item = nil
	}
	return nil
}

// unkeep credits the lines of the pending blocks once they are added.
func (m *mdParser) unkeep() {
	if len(m.para) == 0 && len(m.item) == 0 {
		m.s.b.release(m.held)
		m.held = 0
	}
}

// flushAll emits pending text and closes any open list.
func (m *mdParser) flushAll() error {
	m.listIndents = m.listIndents[:0]
	return m.flush()
}

// fence reads a fenced code block opened at the current line; an unclosed
// fence runs to the end.
func (m *mdParser) fence(indent int, marker string) error {
	m.src.advance()
	var code []string
	for ; m.src.has(0); m.src.advance() {
		if err := m.s.tick(); err != nil {
			return err
		}
		line := m.src.at(0)
		_, body := splitIndent(strings.TrimRight(line, " \t"))
		if strings.HasPrefix(body, marker) && strings.Trim(body, marker[:1]) == "" {
			m.src.advance()
			break
		}
		// Drop the fence's own indentation from content lines, as CommonMark does.
		for n := 0; n < indent && strings.HasPrefix(line, " "); n++ {
			line = line[1:]
		}
		code = append(code, line)
		if err := m.keep(line); err != nil {
			return err
		}
	}
	if m.src.err != nil {
		return m.src.err
	}
	defer m.unkeep()
	return m.s.add(Block{Kind: KindCode, Text: strings.Join(code, "\n")})
}

// table reads a pipe table whose header is the current line and delimiter row
// the next. Its rows are held, and charged, until the table ends.
func (m *mdParser) table() error {
	header := splitPipeRow(m.src.at(0))
	rows := [][]string{header}
	held := rowCost(header)
	defer func() { m.s.b.release(held) }()
	if err := m.s.b.retain(held, memTable); err != nil {
		return err
	}
	m.src.advance()
	m.src.advance()
	for ; m.src.has(0); m.src.advance() {
		if err := m.s.tick(); err != nil {
			return err
		}
		line := strings.TrimSpace(m.src.at(0))
		if line == "" || !strings.Contains(line, "|") {
			break
		}
		cells := splitPipeRow(line)
		row := make([]string, len(header))
		copy(row, cells)
		rows = append(rows, row)
		held += rowCost(row)
		if err := m.s.b.retain(rowCost(row), memTable); err != nil {
			return err
		}
	}
	if m.src.err != nil {
		return m.src.err
	}
	return addTable(m.s, rows, 0)
}

// skipFrontMatter drops a leading YAML front matter block, keeping its title.
func (m *mdParser) skipFrontMatter() {
	if !m.src.has(0) || strings.TrimSpace(m.src.at(0)) != "---" {
		return
	}
	for j := 1; m.src.has(j) && j < 200; j++ {
		line := strings.TrimSpace(m.src.at(j))
		if line == "---" || line == "..." {
			for _, fm := range m.src.win[1:j] {
				if k, v, ok := strings.Cut(fm, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "title") {
					m.frontTitle = strings.Trim(strings.TrimSpace(v), `"'`)
				}
			}
			for range j + 1 {
				m.src.advance()
			}
			return
		}
		if line != "" && !strings.Contains(line, ":") && !strings.HasPrefix(line, "-") && !strings.HasPrefix(line, "#") {
			return // not YAML: the first line was a thematic break
		}
	}
}

// splitIndent returns the indentation width (tabs count as four) and the rest.
func splitIndent(line string) (int, string) {
	n := 0
	for i, c := range line {
		switch c {
		case ' ':
			n++
		case '\t':
			n += 4 - n%4
		default:
			return n, line[i:]
		}
	}
	return n, ""
}

// fenceOf returns the opening fence (``` or ~~~, three or more) of a line, or "".
func fenceOf(body string) string {
	if len(body) < 3 || (body[0] != '`' && body[0] != '~') {
		return ""
	}
	n := 0
	for n < len(body) && body[n] == body[0] {
		n++
	}
	if n < 3 || (body[0] == '`' && strings.Contains(body[n:], "`")) {
		return ""
	}
	return body[:n]
}

// atxLevel returns the level of an ATX heading ("## Title"), or 0.
func atxLevel(body string) int {
	n := 0
	for n < len(body) && body[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || (n < len(body) && body[n] != ' ' && body[n] != '\t') {
		return 0
	}
	return n
}

// atxText returns an ATX heading's text without the opening and closing hashes.
func atxText(body string) string {
	text := strings.TrimSpace(strings.TrimLeft(body, "#"))
	closed := strings.TrimRight(text, "#")
	if closed == "" || strings.HasSuffix(closed, " ") || strings.HasSuffix(closed, "\t") {
		text = strings.TrimSpace(closed)
	}
	return text
}

// setextLevel returns 1 for a "===" underline, 2 for "---", else 0.
func setextLevel(body string) int {
	switch {
	case strings.Trim(body, "=") == "":
		return 1
	case strings.Trim(body, "-") == "":
		return 2
	}
	return 0
}

// isThematicBreak reports a line of three or more -, * or _ (spaces allowed).
func isThematicBreak(body string) bool {
	c := body[0]
	if c != '-' && c != '*' && c != '_' {
		return false
	}
	n := 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case c:
			n++
		case ' ', '\t':
		default:
			return false
		}
	}
	return n >= 3
}

// listItemText recognises a bullet (-, *, +) or ordered (1. or 1)) list marker
// and returns the item's text.
func listItemText(body string) (string, bool) {
	if len(body) >= 2 && (body[0] == '-' || body[0] == '*' || body[0] == '+') && (body[1] == ' ' || body[1] == '\t') {
		return strings.TrimSpace(body[2:]), true
	}
	if len(body) == 1 && (body[0] == '-' || body[0] == '*' || body[0] == '+') {
		return "", true
	}
	n := 0
	for n < len(body) && n < 9 && body[n] >= '0' && body[n] <= '9' {
		n++
	}
	if n == 0 || n+1 > len(body) || (body[n] != '.' && body[n] != ')') {
		return "", false
	}
	if n+1 < len(body) && body[n+1] != ' ' && body[n+1] != '\t' {
		return "", false
	}
	return strings.TrimSpace(body[n+1:]), true
}

// isTableStart reports whether header and the next line open a pipe table: the
// next line is a delimiter row with as many cells as the header.
func isTableStart(header, next string) bool {
	next = strings.TrimSpace(next)
	if !strings.Contains(next, "-") {
		return false
	}
	cells := splitPipeRow(next)
	if len(cells) == 0 || len(cells) != len(splitPipeRow(header)) {
		return false
	}
	if len(cells) == 1 && !strings.Contains(next, "|") {
		return false
	}
	for _, c := range cells {
		c = strings.TrimSuffix(strings.TrimPrefix(c, ":"), ":")
		if c == "" || strings.Trim(c, "-") != "" {
			return false
		}
	}
	return true
}

// splitPipeRow splits a table row on unescaped pipes, without the optional outer
// pipes, and unescapes \| inside cells.
func splitPipeRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	if strings.HasSuffix(line, "|") && !strings.HasSuffix(line, `\|`) {
		line = line[:len(line)-1]
	}
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cell.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}
