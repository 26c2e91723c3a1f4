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
		s.blocks = append(s.blocks, tableBlock(part, page))
		body = body[n:]
	}
	return nil
}
