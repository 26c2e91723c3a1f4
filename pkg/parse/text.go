package parse

import (
	"bytes"
	"context"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxBlockBytes bounds one paragraph or code block. Text files without blank lines
// (logs, exports) would otherwise become one block of megabytes; slicing them at
// line boundaries keeps blocks meaningful for the chunker.
const maxBlockBytes = 16 << 10

// checkEvery is how many loop iterations pass between budget checks, so that
// cancellation is noticed quickly without checking the context on every line.
const checkEvery = 256

// sink collects blocks in reading order and charges their text to the budget.
type sink struct {
	b      *budget
	blocks []Block
	steps  int
}

func newSink(b *budget) *sink { return &sink{b: b} }

// tick counts one unit of work and checks for cancellation now and then; loops
// that may run long without emitting blocks call it.
func (s *sink) tick() error {
	s.steps++
	if s.steps%checkEvery == 0 {
		return s.b.check()
	}
	return nil
}

// add appends blk unless it holds no text. Code blocks keep their indentation;
// other blocks are trimmed. Long paragraphs and code are split at line boundaries.
func (s *sink) add(blk Block) error {
	if blk.Kind == KindCode {
		blk.Text = strings.Trim(blk.Text, "\n")
		if strings.TrimSpace(blk.Text) == "" {
			return nil
		}
	} else {
		blk.Text = strings.TrimSpace(blk.Text)
		if blk.Text == "" {
			return nil
		}
	}
	if err := s.tick(); err != nil {
		return err
	}
	if err := s.b.addText(len(blk.Text)); err != nil {
		return err
	}
	if blk.Kind != KindTable && len(blk.Text) > maxBlockBytes {
		for _, part := range splitLong(blk.Text, maxBlockBytes) {
			piece := blk
			piece.Text = part
			if err := s.push(piece); err != nil {
				return err
			}
		}
		return nil
	}
	return s.push(blk)
}

// push appends a finished block, charging what the result now holds.
func (s *sink) push(blk Block) error {
	if err := s.b.retain(blockCost(blk), memDocument); err != nil {
		return err
	}
	s.blocks = append(s.blocks, blk)
	return nil
}

// paragraph adds text as a paragraph block.
func (s *sink) paragraph(text string) error {
	return s.add(Block{Kind: KindParagraph, Text: text})
}

// splitLong cuts text into pieces of at most limit bytes, preferring line breaks,
// then spaces, and never splitting a UTF-8 sequence.
func splitLong(text string, limit int) []string {
	var out []string
	for len(text) > limit {
		cut := splitPoint(text, limit)
		if piece := strings.TrimSpace(text[:cut]); piece != "" {
			out = append(out, piece)
		}
		text = text[cut:]
	}
	if piece := strings.TrimSpace(text); piece != "" {
		out = append(out, piece)
	}
	return out
}

// splitPoint is where splitLong cuts text, which is longer than limit: the last
// line break in the second half of the first limit bytes, else the last space
// there, else the last rune boundary.
func splitPoint[T string | []byte](text T, limit int) int {
	last := func(c byte) int {
		for i := limit - 1; i >= 0; i-- {
			if text[i] == c {
				return i
			}
		}
		return -1
	}
	cut := last('\n')
	if cut < limit/2 {
		cut = last(' ')
	}
	if cut < limit/2 {
		cut = limit
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
	}
	if cut == 0 {
		cut = limit
	}
	return cut
}

// textLineMax bounds the piece of a line a text parser holds at once; longer
// lines are read in pieces.
const textLineMax = 64 << 10

// parseText reads plain text in any common encoding; paragraphs are separated by
// blank lines.
func parseText(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	s := newSink(b)
	if err := readParagraphs(s, r, size, ""); err != nil {
		return nil, err
	}
	return &Document{Blocks: s.blocks}, nil
}

// readParagraphs adds the paragraphs of the text in r, decoded as openText
// decodes it with charset. The text is streamed: memory does not grow with it.
func readParagraphs(s *sink, r io.ReaderAt, size int64, charset string) error {
	txt, err := openText(r, size, charset, s.b)
	if err != nil {
		return err
	}
	lines := newLineReader(txt, textLineMax, size)
	ps := &paraStream{s: s}
	for {
		line, more, ok, err := lines.next()
		if err != nil {
			return err
		}
		if !ok {
			return ps.flush(true)
		}
		if err := s.tick(); err != nil {
			return err
		}
		if err := ps.line(line, more); err != nil {
			return err
		}
	}
}

// paraStream splits lines into paragraphs at blank lines, with trailing spaces
// trimmed from every line, as sink.add would see them. A paragraph of ordinary
// size is added whole; a huge one (a log without blank lines) is cut into the
// very pieces splitLong would cut, as soon as they can no longer change, so that
// it is never held whole.
type paraStream struct {
	s   *sink
	buf []byte
	// early is set once pieces of the current paragraph were added.
	early bool
	// lead is set once the paragraph's leading white space was trimmed.
	lead bool
	// open is set while a line is read in pieces; lineAt is where it starts in buf
	// (with its separator), text whether it has anything but white space.
	open   bool
	lineAt int
	text   bool
}

// paraEarly is the size past which a paragraph is cut while it is read.
const paraEarly = 4 * maxBlockBytes

// line adds a line, or a piece of one when more follows.
func (ps *paraStream) line(piece string, more bool) error {
	if !ps.open {
		ps.open, ps.text, ps.lineAt = true, false, len(ps.buf)
		if len(ps.buf) > 0 || ps.early {
			ps.buf = append(ps.buf, '\n')
		}
	}
	switch {
	case ps.text:
		ps.buf = append(ps.buf, piece...)
	case strings.IndexFunc(piece, isNotSpace) >= 0:
		ps.text = true
		ps.buf = append(ps.buf, piece...)
	case len(ps.buf)-ps.lineAt < maxBlockBytes:
		// Leading white space of a line that may yet turn out blank; past a
		// block's worth it is dropped rather than held.
		ps.buf = append(ps.buf, piece...)
	}
	if ps.text && !ps.lead {
		ps.buf = bytes.TrimLeftFunc(ps.buf, unicode.IsSpace)
		ps.lineAt, ps.lead = 0, true
	}
	if more {
		return ps.flush(false)
	}
	ps.open = false
	if !ps.text {
		// A blank line ends the paragraph.
		ps.buf = ps.buf[:ps.lineAt]
		return ps.flush(true)
	}
	ps.buf = bytes.TrimRight(ps.buf, " \t")
	return ps.flush(false)
}

func isNotSpace(r rune) bool { return !unicode.IsSpace(r) }

// flush adds what is settled of the paragraph; final ends the paragraph.
func (ps *paraStream) flush(final bool) error {
	if final && !ps.early {
		text := string(ps.buf)
		ps.reset()
		return ps.s.paragraph(text)
	}
	end := len(ps.buf)
	if final {
		end = len(bytes.TrimRightFunc(ps.buf, unicode.IsSpace))
	} else {
		if end <= paraEarly {
			return nil
		}
		if ps.open && !ps.text {
			end = ps.lineAt
		}
		// White space at the end may yet be trimmed away with the paragraph's end;
		// a run longer than a block is taken as it is.
		if trimmed := len(bytes.TrimRightFunc(ps.buf[:end], unicode.IsSpace)); end-trimmed <= maxBlockBytes {
			end = trimmed
		} else {
			end -= maxBlockBytes
		}
	}
	done := 0
	for end-done > maxBlockBytes {
		cut := splitPoint(ps.buf[done:end], maxBlockBytes)
		if err := ps.piece(ps.buf[done : done+cut]); err != nil {
			return err
		}
		done += cut
	}
	if final {
		err := ps.piece(ps.buf[done:end])
		ps.reset()
		return err
	}
	ps.buf = ps.buf[:copy(ps.buf, ps.buf[done:])]
	ps.lineAt = max(ps.lineAt-done, 0)
	return nil
}

// piece adds one cut of a long paragraph.
func (ps *paraStream) piece(b []byte) error {
	ps.early = true
	text := strings.TrimSpace(string(b))
	if text == "" {
		return nil
	}
	if err := ps.s.tick(); err != nil {
		return err
	}
	if err := ps.s.b.addText(len(text)); err != nil {
		return err
	}
	return ps.s.push(Block{Kind: KindParagraph, Text: text})
}

func (ps *paraStream) reset() {
	ps.buf, ps.early, ps.lead, ps.open, ps.text, ps.lineAt = ps.buf[:0], false, false, false, false, 0
}
