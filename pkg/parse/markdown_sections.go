package parse

import (
	"strings"
	"unicode/utf8"
)

// mdSectionTarget is the size past which mdSections looks for a place to end a
// section. Most documents are one section; a larger one is cut where nothing
// that came before can go on.
const mdSectionTarget = 64 << 10

// mdMaxBrackets bounds the link brackets of one run of lines without a blank
// line (a paragraph, a table): goldmark's link matching grows faster than the
// square of their number ("[a](" repeated over 64 KiB takes seconds). Past the
// bound, brackets are escaped and read as text.
const mdMaxBrackets = 256

// mdMaxRun bounds a run of lines without a blank line (a paragraph) handed to
// goldmark, whose inline parsing grows faster than linearly on hostile input
// (runs of escapes or brackets). A longer run is cut by a blank line, except in
// code fences and tables (whose cells are parsed one by one); a line longer
// than that is cut likewise, into pieces of its own.
const mdMaxRun = 16 << 10

// mdMaxQuoteDepth bounds the quote markers at the start of a line: goldmark
// nests a block per marker and takes minutes over a line of thousands.
const mdMaxQuoteDepth = 16

// mdFrontMatterLines bounds how far a front matter block is looked for.
const mdFrontMatterLines = 200

// mdPiece is a line, or a piece of a long one (more is set on all but its last).
type mdPiece struct {
	text string
	more bool
}

// mdSections cuts a Markdown stream into sections that parse alone as they
// would in the whole document. A section ends, once it has reached
// mdSectionTarget, before a line that follows a blank line, starts in the first
// column and is outside a fenced code block: such a line cannot continue a
// paragraph, list item, quote or indented code block. Past the target, runs of
// blank lines are kept to one, so a file of blank lines costs nothing. Only
// hostile shapes are changed on the way (see mdMaxRun, mdMaxQuoteDepth and
// mdMaxBrackets). A leading YAML front matter block is dropped and its title
// kept.
type mdSections struct {
	lines *lineReader
	b     *budget
	// queue holds pieces read ahead, handed out before the stream's next ones.
	queue []mdPiece
	// buf is the section being gathered, charged by its capacity.
	buf        []byte
	held       int64
	frontTitle string
	started    bool
	lineStart  bool
	prevBlank  bool
	// fence is the open code fence ("```", "~~~~", ...), or "".
	fence string
	// brackets counts the "[" of the current run of lines; see mdMaxBrackets.
	brackets int
	// run is the size of the current run of lines; see mdMaxRun.
	run int
}

func newMDSections(lines *lineReader, b *budget) *mdSections {
	return &mdSections{lines: lines, b: b, lineStart: true}
}

// release credits what the sections were charged, at the end.
func (m *mdSections) release() {
	m.b.release(m.held)
	m.held = 0
	m.buf = nil
}

// read returns the next piece, read ahead or from the stream.
func (m *mdSections) read() (mdPiece, bool, error) {
	if len(m.queue) > 0 {
		p := m.queue[0]
		m.queue = m.queue[1:]
		return p, true, nil
	}
	text, more, ok, err := m.lines.next()
	return mdPiece{text: text, more: more}, ok, err
}

// next returns the next section, which stays valid until the next call; ok is
// false at the end.
func (m *mdSections) next() (section []byte, ok bool, err error) {
	if !m.started {
		m.started = true
		if err := m.frontMatter(); err != nil {
			return nil, false, err
		}
	}
	m.buf = m.buf[:0]
	for {
		p, ok, err := m.read()
		if err != nil {
			return nil, false, err
		}
		if !ok {
			break
		}
		if m.fence == "" && len(p.text) > mdMaxRun {
			cut := mdMaxRun
			for cut > 1 && !utf8.RuneStart(p.text[cut]) {
				cut--
			}
			m.queue = append([]mdPiece{{text: p.text[cut:], more: p.more}}, m.queue...)
			p = mdPiece{text: p.text[:cut], more: true}
		}
		if m.lineStart {
			blank := !p.more && strings.Trim(p.text, " \t") == ""
			if len(m.buf) >= mdSectionTarget && m.fence == "" {
				if blank && m.prevBlank {
					continue
				}
				if !blank && m.prevBlank && p.text[0] != ' ' && p.text[0] != '\t' {
					m.queue = append([]mdPiece{p}, m.queue...)
					return m.buf, true, nil
				}
			}
			m.trackFence(p.text)
			m.prevBlank = blank
			if blank {
				m.brackets, m.run = 0, 0
			}
			if m.fence == "" && !blank {
				p.text = limitQuoteDepth(p.text)
				if m.run >= mdMaxRun && !strings.Contains(p.text, "|") {
					if err := m.append(mdPiece{}); err != nil {
						return nil, false, err
					}
					m.brackets, m.run = 0, 0
				}
			}
		}
		if m.fence == "" {
			p.text = m.tameBrackets(p.text)
		}
		m.run += len(p.text)
		if p.more && m.fence == "" {
			// A piece of a very long line outside code: a paragraph of its own.
			p.more = false
			if err := m.append(p); err != nil {
				return nil, false, err
			}
			p = mdPiece{}
			m.brackets, m.run = 0, 0
			m.prevBlank = true
		}
		if err := m.append(p); err != nil {
			return nil, false, err
		}
		m.lineStart = !p.more
	}
	return m.buf, len(m.buf) > 0, nil
}

// append adds a piece to the section, charging the buffer's growth before it
// happens.
func (m *mdSections) append(p mdPiece) error {
	need := len(m.buf) + len(p.text) + 1
	if need > cap(m.buf) {
		grown := max(2*cap(m.buf), need, 4096)
		if err := m.b.retain(int64(grown), memLines); err != nil {
			return err
		}
		buf := make([]byte, len(m.buf), grown)
		copy(buf, m.buf)
		m.b.release(int64(cap(m.buf)))
		m.held += int64(grown - cap(m.buf))
		m.buf = buf
	}
	m.buf = append(m.buf, p.text...)
	if !p.more {
		m.buf = append(m.buf, '\n')
	}
	return nil
}

// tameBrackets escapes the brackets of text past the run's mdMaxBrackets.
func (m *mdSections) tameBrackets(text string) string {
	n := strings.Count(text, "[")
	if m.brackets+n <= mdMaxBrackets {
		m.brackets += n
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		if text[i] == '[' {
			if m.brackets >= mdMaxBrackets {
				b.WriteByte('\\')
			}
			m.brackets++
		}
		b.WriteByte(text[i])
	}
	return b.String()
}

// limitQuoteDepth drops the quote markers of a line past mdMaxQuoteDepth.
func limitQuoteDepth(line string) string {
	depth, i := 0, 0
	for ; i < len(line) && (line[i] == '>' || line[i] == ' ' || line[i] == '\t'); i++ {
		if line[i] == '>' {
			depth++
		}
	}
	if depth <= mdMaxQuoteDepth {
		return line
	}
	return strings.Repeat("> ", mdMaxQuoteDepth) + line[i:]
}

// trackFence follows code fences, opened and closed at any indentation (items
// of lists indent them): a blank line inside one must not end a section.
func (m *mdSections) trackFence(line string) {
	body := strings.TrimLeft(line, " \t")
	if m.fence != "" {
		if strings.HasPrefix(body, m.fence) && strings.Trim(body, m.fence[:1]+" \t") == "" {
			m.fence = ""
		}
		return
	}
	m.fence = fenceOf(body)
}

// frontMatter drops a leading YAML front matter block, keeping its title; the
// lines read ahead to find its end are handed out again when it is not one.
func (m *mdSections) frontMatter() error {
	var ahead []mdPiece
	var held int64
	defer func() {
		m.b.release(held)
		m.queue = append(ahead, m.queue...)
	}()
	for len(ahead) <= mdFrontMatterLines {
		p, ok, err := m.read()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if err := m.b.retain(stringCost(len(p.text)), memLines); err != nil {
			return err
		}
		held += stringCost(len(p.text))
		ahead = append(ahead, p)
		line := strings.TrimSpace(p.text)
		switch {
		case p.more:
			return nil // a line too long for YAML
		case len(ahead) == 1:
			if line != "---" {
				return nil
			}
		case line == "---" || line == "...":
			for _, fm := range ahead[1 : len(ahead)-1] {
				if k, v, ok := strings.Cut(fm.text, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "title") {
					m.frontTitle = strings.Trim(strings.TrimSpace(v), `"'`)
				}
			}
			ahead = nil
			return nil
		case line != "" && !strings.Contains(line, ":") && !strings.HasPrefix(line, "-") && !strings.HasPrefix(line, "#"):
			return nil // not YAML: the first line was a thematic break
		}
	}
	return nil
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
