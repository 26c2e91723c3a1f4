package parse

import (
	"context"
	"io"
	"strings"
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
			s.blocks = append(s.blocks, piece)
		}
		return nil
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
		cut := strings.LastIndexByte(text[:limit], '\n')
		if cut < limit/2 {
			cut = strings.LastIndexByte(text[:limit], ' ')
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

// parseText reads plain text in any common encoding; paragraphs are separated by
// blank lines.
func parseText(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	data, err := readAll(r, size)
	if err != nil {
		return nil, err
	}
	s := newSink(b)
	if err := addParagraphs(s, decodeText(data)); err != nil {
		return nil, err
	}
	return &Document{Blocks: s.blocks}, nil
}

// addParagraphs splits text on blank lines and adds each run of lines as a
// paragraph, with trailing spaces trimmed from every line.
func addParagraphs(s *sink, text string) error {
	var para strings.Builder
	flush := func() error {
		err := s.paragraph(para.String())
		para.Reset()
		return err
	}
	for line := range strings.Lines(text) {
		if err := s.tick(); err != nil {
			return err
		}
		line = strings.TrimRight(line, " \t\n")
		if strings.TrimSpace(line) == "" {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		if para.Len() > 0 {
			para.WriteByte('\n')
		}
		para.WriteString(line)
	}
	return flush()
}
