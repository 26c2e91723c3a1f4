package parse

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strings"
)

// csvDelimiters are the separators we sniff, in order of preference on ties.
const csvDelimiters = ",\t;|"

// csvMaxErrors is how many malformed records we skip before giving up.
const csvMaxErrors = 100

// parseCSV reads delimiter-separated values (comma, semicolon, tab or pipe,
// sniffed from the content) as one table with a header row, split into several
// table blocks when it is large.
func parseCSV(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	data, err := readAll(r, size)
	if err != nil {
		return nil, err
	}
	text := decodeText(data)
	s := newSink(b)
	rows, err := readCSV(s, text, sniffDelimiter(text))
	if err != nil {
		return nil, err
	}
	doc := &Document{}
	if len(rows) == 0 {
		return doc, nil
	}
	// Spreadsheet exports often start with a title row (one filled cell above a
	// full header row); keep it as a heading instead of a bogus header.
	if len(rows) > 2 && filledCells(rows[0]) == 1 && strings.TrimSpace(rows[0][0]) != "" &&
		filledCells(rows[1]) >= 2 && filledCells(rows[1]) == len(trimRow(rows[1])) {
		doc.Title = strings.TrimSpace(rows[0][0])
		if err := s.add(Block{Kind: KindHeading, Level: 1, Text: doc.Title}); err != nil {
			return nil, err
		}
		rows = rows[1:]
	}
	if err := addTable(s, rows, 0); err != nil {
		return nil, err
	}
	doc.Blocks = s.blocks
	return doc, nil
}

// readCSV parses text with the delimiter, tolerating ragged rows and stray quotes,
// and drops rows without any non-blank cell. The rows only slice the input, which
// is in memory already; the budget is charged when they are rendered.
func readCSV(s *sink, text string, delim rune) ([][]string, error) {
	cr := csv.NewReader(strings.NewReader(text))
	cr.Comma = delim
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	var rows [][]string
	failures := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && failures < csvMaxErrors {
				failures++
				continue
			}
			return nil, Errorf(CodeCorrupt, "the file is not valid delimited text")
		}
		if err := s.tick(); err != nil {
			return nil, err
		}
		rec = trimRow(rec)
		if len(rec) == 0 {
			continue
		}
		for i, c := range rec {
			rec[i] = strings.TrimSpace(c)
		}
		rows = append(rows, rec)
	}
	return rows, nil
}

// trimRow drops trailing blank cells, which exports add to pad ragged rows.
func trimRow(rec []string) []string {
	end := len(rec)
	for end > 0 && strings.TrimSpace(rec[end-1]) == "" {
		end--
	}
	return rec[:end]
}

// filledCells counts the non-blank cells of a row.
func filledCells(rec []string) int {
	n := 0
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			n++
		}
	}
	return n
}

// sniffDelimiter picks the separator that splits the first lines most
// consistently: the one whose (non-zero) field count is the same on the most
// lines, then the one giving more fields. Delimiters inside quotes do not count.
func sniffDelimiter(text string) rune {
	var lines []string
	for line := range strings.Lines(text) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		lines = append(lines, line)
		if len(lines) == 20 {
			break
		}
	}
	best, bestScore, bestCount := ',', -1, 0
	for _, d := range csvDelimiters {
		counts := make(map[int]int)
		for _, line := range lines {
			if c := countOutsideQuotes(line, d); c > 0 {
				counts[c]++
			}
		}
		mode, modeLines := 0, 0
		for c, n := range counts {
			if n > modeLines || (n == modeLines && c > mode) {
				mode, modeLines = c, n
			}
		}
		if modeLines == 0 {
			continue
		}
		if modeLines > bestScore || (modeLines == bestScore && mode > bestCount) {
			best, bestScore, bestCount = d, modeLines, mode
		}
	}
	return best
}

// countOutsideQuotes counts d in line outside double-quoted sections.
func countOutsideQuotes(line string, d rune) int {
	n, quoted := 0, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
		case r == d && !quoted:
			n++
		}
	}
	return n
}
