package chunk

import (
	"strings"
	"unicode"
)

// tableLines returns a table's Markdown header (header row and separator) and its row
// lines. Cells are rendered from rows when the parser gave them, so every piece of a
// split table is well-formed Markdown; otherwise the lines of text are used as they are.
func tableLines(rows [][]string, text string) (header, body []string) {
	if len(rows) > 0 {
		header = []string{renderRow(rows[0]), separatorRow(len(rows[0]))}
		for _, row := range rows[1:] {
			body = append(body, renderRow(row))
		}
		return header, body
	}
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return nil, nil
	}
	n := 1
	if len(lines) > 1 && isSeparatorRow(lines[1]) {
		n = 2
	}
	return lines[:n], lines[n:]
}

// renderTable renders rows as a Markdown table, for tables that come without text.
func renderTable(rows [][]string) string {
	header, body := tableLines(rows, "")
	return strings.Join(append(header, body...), "\n")
}

func renderRow(cells []string) string {
	var b strings.Builder
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" ")
		// A pipe would end the cell and a newline the row.
		c = strings.ReplaceAll(strings.TrimSpace(sanitize(c)), "|", `\|`)
		b.WriteString(strings.Join(strings.Fields(c), " "))
		b.WriteString(" |")
	}
	return b.String()
}

func separatorRow(n int) string {
	if n < 1 {
		n = 1
	}
	return "|" + strings.Repeat(" --- |", n)
}

// isSeparatorRow reports a Markdown header separator such as "|---|:--:|".
func isSeparatorRow(line string) bool {
	dash := false
	for _, r := range line {
		switch {
		case r == '-':
			dash = true
		case r == '|' || r == ':' || unicode.IsSpace(r):
		default:
			return false
		}
	}
	return dash
}

// splitTable cuts a table too large for one chunk between rows; every piece starts
// with the header so that each chunk can be read (and retrieved) on its own. A row
// too large for a chunk is cut at words, each fragment again under the header.
func (sp *splitter) splitTable(rows [][]string, text, sep string, page int) {
	header, body := tableLines(rows, text)
	hdr := strings.Join(header, "\n")
	hTok := CountTokens(hdr)
	if len(body) == 0 || hTok > sp.target/2 {
		// Repeating a header that fills half a chunk would cost more than it helps.
		splitText(text, true, sp.target, levelBlock, sep, sp.emitter(kindTable, page))
		return
	}
	limit := sp.target - hTok
	var piece []string
	tok, first := 0, true
	flush := func() {
		if len(piece) == 0 {
			return
		}
		a := atom{
			text:  hdr + "\n" + strings.Join(piece, "\n"),
			sep:   "\n",
			level: levelSentence,
			kind:  kindTable,
			page:  page,
		}
		if first {
			a.sep, a.level = sep, levelBlock
		} else {
			a.repeat = len(hdr) + 1
		}
		// Line breaks end any word or number in progress and cost nothing, so the
		// piece costs what its lines cost one by one.
		a.tokens = hTok + tok
		sp.atoms = append(sp.atoms, a)
		piece, tok, first = piece[:0], 0, false
	}
	for _, row := range body {
		rt := CountTokens(row)
		if rt > limit {
			flush()
			splitWords(row, false, limit, levelWord, "", func(frag, _ string, _ int8) {
				piece, tok = append(piece, frag), CountTokens(frag)
				flush()
			})
			continue
		}
		if tok+rt > limit {
			flush()
		}
		piece = append(piece, row)
		tok += rt
	}
	flush()
}
