package parse

import "strings"

// renderTable renders rows as a Markdown pipe table: the first row is the header,
// then a separator, then the body. Rows shorter than the widest row are padded so
// that the table stays rectangular for Markdown readers (and for the chunker,
// which keeps the header with every slice of a table). Pipes inside cells are
// escaped and line breaks become spaces, because a cell must stay on one line.
// It returns "" when rows hold no cells.
func renderTable(rows [][]string) string {
	width := 0
	for _, r := range rows {
		width = max(width, len(r))
	}
	if width == 0 {
		return ""
	}
	var sb strings.Builder
	writeRow := func(r []string) {
		sb.WriteByte('|')
		for i := range width {
			cell := ""
			if i < len(r) {
				cell = tableCell(r[i])
			}
			sb.WriteByte(' ')
			sb.WriteString(cell)
			sb.WriteString(" |")
		}
		sb.WriteByte('\n')
	}
	writeRow(rows[0])
	sb.WriteByte('|')
	for range width {
		sb.WriteString(" --- |")
	}
	sb.WriteByte('\n')
	for _, r := range rows[1:] {
		writeRow(r)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

// tableCell makes one cell safe inside a pipe table row.
func tableCell(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "|\\\r\n\t") {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 4)
	space := false
	for _, r := range s {
		switch r {
		case '\r', '\n', '\t':
			if !space {
				sb.WriteByte(' ')
			}
			space = true
			continue
		case '|':
			sb.WriteString(`\|`)
		case '\\':
			// Escape backslashes too, so a cell ending in "\" cannot swallow the pipe.
			sb.WriteString(`\\`)
		default:
			sb.WriteRune(r)
		}
		space = false
	}
	return sb.String()
}

// tableBlock builds a table block from rows, with Text rendered from Rows.
func tableBlock(rows [][]string, page int) Block {
	return Block{Kind: KindTable, Text: renderTable(rows), Rows: rows, Page: page}
}

// Table blocks are bounded so that a large table (a big CSV, a long sheet)
// becomes several blocks, each starting with the header row: every chunk of the
// table then stays readable on its own.
const (
	tableBlockBytes = 16 << 10
	tableBlockRows  = 500
)

// addTable adds rows (header first) as one or more table blocks. The rendered
// size of each block is charged to the budget before it is rendered: padding
// ragged rows to the table's width can make the Markdown much larger than the
// cells, and a hostile file must not get that for free.
func addTable(s *sink, rows [][]string, page int) error {
	if len(rows) == 0 {
		return nil
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r))
	}
	if width == 0 {
		return nil
	}
	// rowSize is an upper bound of a rendered row: "|" + " cell |" per column + "\n".
	rowSize := func(r []string) int {
		n := 2 + 3*width
		for _, c := range r {
			n += len(c) + strings.Count(c, "|") + strings.Count(c, `\`)
		}
		return n
	}
	header, body := rows[0], rows[1:]
	headSize := rowSize(header) + 2 + 6*width
	for first := true; first || len(body) > 0; first = false {
		if err := s.tick(); err != nil {
			return err
		}
		used, n := headSize, 0
		for n < len(body) && n < tableBlockRows {
			size := rowSize(body[n])
			if n > 0 && used+size > tableBlockBytes {
				break
			}
			used += size
			n++
		}
		if err := s.b.addText(used); err != nil {
			return err
		}
		part := make([][]string, 0, n+1)
		part = append(part, header)
		part = append(part, body[:n]...)
		if err := s.push(tableBlock(part, page)); err != nil {
			return err
		}
		body = body[n:]
	}
	return nil
}

// tableStream adds a table whose rows arrive one at a time (a CSV file read as a
// stream) in the blocks addTable makes, holding only the rows of the block being
// filled. Without the rows to come, a block's size is judged by the width of its
// own rows rather than the whole table's; a table of one block comes out exactly
// as addTable makes it.
type tableStream struct {
	s      *sink
	page   int
	header []string
	body   [][]string
	// width is the widest row of the block; cells the bytes of its body's cells.
	width, cells int
	// held is what the block's rows are charged.
	held int64
	// added is set once a block was added.
	added bool
}

// cellBytes is what a row's cells add to rowSize in addTable.
func cellBytes(r []string) int {
	n := 0
	for _, c := range r {
		n += len(c) + strings.Count(c, "|") + strings.Count(c, `\`)
	}
	return n
}

// add takes the next row; the first one is the header of every block.
func (t *tableStream) add(row []string) error {
	if err := t.s.b.retain(rowCost(row), memTable); err != nil {
		return err
	}
	t.held += rowCost(row)
	if t.header == nil {
		t.header, t.width = row, len(row)
		return nil
	}
	width := max(t.width, len(row))
	n := len(t.body)
	if n >= tableBlockRows || (n > 0 && t.size(width, n+1, t.cells+cellBytes(row)) > tableBlockBytes) {
		if err := t.flush(); err != nil {
			return err
		}
		width = max(t.width, len(row))
	}
	t.body = append(t.body, row)
	t.width, t.cells = width, t.cells+cellBytes(row)
	return nil
}

// size is the rendered size addTable charges for a block of the header and rows
// body rows of the given width holding cells bytes.
func (t *tableStream) size(width, rows, cells int) int {
	head := 2 + 3*width + cellBytes(t.header) + 2 + 6*width
	return head + rows*(2+3*width) + cells
}

// flush adds the filled block; the header stays for the next one.
func (t *tableStream) flush() error {
	if t.header == nil || (len(t.body) == 0 && t.width == 0) {
		return nil
	}
	if err := t.s.tick(); err != nil {
		return err
	}
	if t.width > 0 {
		if err := t.s.b.addText(t.size(t.width, len(t.body), t.cells)); err != nil {
			return err
		}
		part := make([][]string, 0, len(t.body)+1)
		part = append(part, t.header)
		part = append(part, t.body...)
		if err := t.s.push(tableBlock(part, t.page)); err != nil {
			return err
		}
	}
	t.added = true
	// The block now holds the rows; what the stream held for them is let go,
	// except for the header, which the next block repeats.
	t.s.b.release(t.held - rowCost(t.header))
	t.held = rowCost(t.header)
	t.body, t.width, t.cells = nil, len(t.header), 0
	return nil
}

// close adds the last block; a table of only a header is a table too.
func (t *tableStream) close() error {
	if t.header == nil {
		return nil
	}
	if len(t.body) > 0 || !t.added {
		if err := t.flush(); err != nil {
			return err
		}
	}
	t.s.b.release(t.held)
	t.held = 0
	return nil
}
