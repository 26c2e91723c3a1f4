package parse

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxScanTextBytes bounds the text OCR adds for one page: a page of small print
// holds under 10 KB; more is a reader gone astray.
const maxScanTextBytes = 256 << 10

// blankLines separates the paragraphs of OCR text.
var blankLines = regexp.MustCompile(`\n[ \t\r\f\v]*\n`)

// PutScanText puts the text OCR read in place of the scans: texts[i] is the
// text of d.Scans[i]. Each page's text becomes paragraphs (lines starting with
// Markdown's # headings, as vision models write them), among the blocks of the
// other pages in page order, after any text the page had; the scans are let go.
func (d *Document) PutScanText(texts []string) {
	for i, s := range d.Scans {
		if i < len(texts) {
			d.Blocks = append(d.Blocks, scanBlocks(texts[i], s.Page)...)
		}
	}
	d.Scans = nil
	slices.SortStableFunc(d.Blocks, func(a, b Block) int { return a.Page - b.Page })
}

// scanBlocks splits the text of one page into blocks.
func scanBlocks(text string, page int) []Block {
	if len(text) > maxScanTextBytes {
		cut := maxScanTextBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	var out []Block
	for _, para := range blankLines.Split(strings.ReplaceAll(text, "\r\n", "\n"), -1) {
		var lines []string
		flush := func() {
			if t := squashSpace(joinLines(lines)); t != "" {
				out = append(out, Block{Kind: KindParagraph, Text: t, Page: page})
			}
			lines = nil
		}
		for line := range strings.Lines(para) {
			line = strings.TrimSpace(line)
			if level, heading := markdownHeading(line); level > 0 {
				flush()
				if t := squashSpace(heading); t != "" {
					out = append(out, Block{Kind: KindHeading, Level: level, Text: t, Page: page})
				}
				continue
			}
			lines = append(lines, line)
		}
		flush()
	}
	return out
}

// markdownHeading reads "## Title" as level 2; 0 for other lines.
func markdownHeading(line string) (int, string) {
	level := 0
	for level < len(line) && line[level] == '#' {
		level++
	}
	if level == 0 || level > 6 || level == len(line) || line[level] != ' ' {
		return 0, ""
	}
	return level, line[level+1:]
}

// joinLines joins the lines of a paragraph with spaces, undoing a word
// hyphenated across a line end ("exam-" "ple").
func joinLines(lines []string) string {
	var sb strings.Builder
	for i, l := range lines {
		if i > 0 {
			prev := lines[i-1]
			first, _ := utf8.DecodeRuneInString(l)
			if strings.HasSuffix(prev, "-") && len(prev) > 1 && unicode.IsLetter(rune(prev[len(prev)-2])) && unicode.IsLower(first) {
				s := sb.String()
				sb.Reset()
				sb.WriteString(s[:len(s)-1])
			} else {
				sb.WriteByte(' ')
			}
		}
		sb.WriteString(l)
	}
	return sb.String()
}
