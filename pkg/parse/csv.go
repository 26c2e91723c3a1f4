package parse

import (
	"bufio"
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

const (
	// csvMaxRowBytes bounds one record (a row, with the line breaks of its quoted
	// fields): encoding/csv needs a row whole, so a bigger one fails the document
	// with CodeTooLarge rather than being held. An eighth of the memory budget is
	// the bound when that is smaller.
	csvMaxRowBytes = 1 << 20
	// csvSniffBytes is how much of the head is sampled to choose the delimiter.
	csvSniffBytes = 1 << 20
)

// parseCSV reads delimiter-separated values (comma, semicolon, tab or pipe,
// sniffed from the content) as one table with a header row, split into several
// table blocks when it is large. The file is streamed: rows are read one at a
// time and added to the table blocks as they fill, so memory grows with what the
// document yields, never with its size.
func parseCSV(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	txt, err := openText(r, size, "", b)
	if err != nil {
		return nil, err
	}
	// The sample needs the buffer; a small file needs a small one (decoding may
	// triple its size).
	br := bufio.NewReaderSize(txt, int(min(b.workingLimit(csvSniffBytes), 3*max(size, 0)+64)))
	head, err := br.Peek(br.Size())
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	sample := string(head)
	if len(head) == br.Size() {
		// The sample cuts a line: judge complete lines only.
		if i := strings.LastIndexByte(sample, '\n'); i > 0 {
			sample = sample[:i+1]
		}
	}
	s := newSink(b)
	doc := &Document{}
	c := &csvTable{s: s, doc: doc, table: &tableStream{s: s}}
	if err := readCSV(s, br, sniffDelimiter(sample), c.row); err != nil {
		return nil, err
	}
	if err := c.close(); err != nil {
		return nil, err
	}
	doc.Blocks = s.blocks
	return doc, nil
}

// csvTable turns rows into the document: a title row when there is one, then the
// table. The first rows wait until the title can be told from the header.
type csvTable struct {
	s     *sink
	doc   *Document
	table *tableStream
	first [][]string
	ready bool
}

// row takes the next row with a non-blank cell.
func (c *csvTable) row(rec []string) error {
	if c.ready {
		return c.table.add(rec)
	}
	c.first = append(c.first, rec)
	if len(c.first) < 3 {
		return nil
	}
	return c.start()
}

// start decides about the title and sends the first rows on. Spreadsheet exports
// often start with a title row (one filled cell above a full header row); it is
// kept as a heading instead of a bogus header.
func (c *csvTable) start() error {
	c.ready = true
	rows := c.first
	c.first = nil
	if len(rows) > 2 && filledCells(rows[0]) == 1 && strings.TrimSpace(rows[0][0]) != "" &&
		filledCells(rows[1]) >= 2 && filledCells(rows[1]) == len(trimRow(rows[1])) {
		c.doc.Title = strings.TrimSpace(rows[0][0])
		if err := c.s.add(Block{Kind: KindHeading, Level: 1, Text: c.doc.Title}); err != nil {
			return err
		}
		rows = rows[1:]
	}
	for _, r := range rows {
		if err := c.table.add(r); err != nil {
			return err
		}
	}
	return nil
}

func (c *csvTable) close() error {
	if !c.ready && len(c.first) > 0 {
		if err := c.start(); err != nil {
			return err
		}
	}
	return c.table.close()
}

// readCSV parses the stream with the delimiter, tolerating ragged rows and stray
// quotes, and passes on every row with a non-blank cell, trimmed, in memory of
// its own. A row larger than the working limit fails with CodeTooLarge.
func readCSV(s *sink, r io.Reader, delim rune, row func([]string) error) error {
	g := &csvGuard{r: r, b: s.b, max: s.b.workingLimit(csvMaxRowBytes)}
	cr := csv.NewReader(g)
	cr.Comma = delim
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	g.offset = cr.InputOffset
	failures := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && failures < csvMaxErrors {
				failures++
				continue
			}
			var perr *Error
			if errors.As(err, &perr) {
				return perr
			}
			return Errorf(CodeCorrupt, "the file is not valid delimited text")
		}
		if err := s.tick(); err != nil {
			return err
		}
		rec = trimRow(rec)
		if len(rec) == 0 {
			continue
		}
		if err := row(cloneRow(rec)); err != nil {
			return err
		}
	}
}

// cloneRow trims the cells of rec into one new allocation: encoding/csv's cells
// share one string per record, which a kept cell would otherwise keep alive.
func cloneRow(rec []string) []string {
	n := 0
	for i, c := range rec {
		rec[i] = strings.TrimSpace(c)
		n += len(rec[i])
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, c := range rec {
		sb.WriteString(c)
	}
	all := sb.String()
	out := make([]string, len(rec))
	for i, c := range rec {
		out[i], all = all[:len(c)], all[len(c):]
	}
	return out
}

// csvGuard feeds encoding/csv and bounds the row it is reading: the bytes handed
// over past the end of the last row read are the row in progress.
type csvGuard struct {
	r      io.Reader
	b      *budget
	offset func() int64
	read   int64
	max    int64
	// held is the charge for encoding/csv's buffers, which keep the size of the
	// biggest row: about three copies of it (line, fields, row string).
	held int64
}

func (g *csvGuard) Read(p []byte) (int, error) {
	pending := g.read - g.offset()
	if pending > g.max {
		return 0, Errorf(CodeTooLarge, "the CSV file has a row larger than %s", byteSize(g.max))
	}
	if need := 3 * (pending + int64(len(p))); need > g.held {
		if err := g.b.retain(need-g.held, memCSVRows); err != nil {
			return 0, err
		}
		g.held = need
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
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
