package parse

import (
	"bytes"
	"context"
	"io"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// maxListDepth caps list nesting; deeper items are reported at this level.
const maxListDepth = 16

// mdASTFactor estimates the heap goldmark's syntax tree takes per byte of the
// section's content (its lines that are not blank) it parses, on the high side: measured, plain lines make about 13
// bytes of nodes per byte, dense inline markup about 100, a table of
// one-character cells about 160. A section is therefore at most a budget's
// 160th: about 1.6 MiB of Markdown without a blank line, under the default
// budget.
const mdASTFactor = 160

// maxMarkdownRefs bounds the link reference definitions carried from one
// section to the next.
const maxMarkdownRefs = 10000

// markdownParser is CommonMark with GitHub tables and strikethrough. It is safe
// for concurrent use: each Parse call has its own state.
var markdownParser = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough)).Parser()

// parseMarkdown reads Markdown (CommonMark with GitHub pipe tables) into headings,
// paragraphs, list items, code blocks and tables, with inline markup reduced to
// its text. The file is streamed: it is cut into sections at blank lines
// between top-level blocks (see mdSections), each parsed by goldmark and turned
// into blocks before the next is read, so memory follows the largest section,
// not the file. Link reference definitions carry over to later sections.
func parseMarkdown(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	stream, err := openText(r, size, "", b)
	if err != nil {
		return nil, err
	}
	s := newSink(b)
	sections := newMDSections(newLineReader(stream, textLineMax, size), b)
	defer sections.release()
	var refs []parser.Reference
	var refsHeld int64
	defer func() { b.release(refsHeld) }()
	for {
		src, ok, err := sections.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if refs, refsHeld, err = parseMarkdownSection(s, src, refs, refsHeld); err != nil {
			return nil, err
		}
	}
	title := sections.frontTitle
	for _, blk := range s.blocks {
		if blk.Kind == KindHeading && (title == "" || blk.Level == 1) {
			title = blk.Text
			if blk.Level == 1 {
				break
			}
		}
	}
	return &Document{Title: title, Blocks: s.blocks}, nil
}

// parseMarkdownSection parses one section with the references seen so far and
// adds its blocks; it returns the references known after it and what they are
// charged.
func parseMarkdownSection(s *sink, src []byte, refs []parser.Reference, refsHeld int64) ([]parser.Reference, int64, error) {
	astCost := mdContentBytes(src) * mdASTFactor
	if err := s.b.retain(astCost, memLines); err != nil {
		return nil, refsHeld, err
	}
	defer s.b.release(astCost)
	pc := parser.NewContext()
	for _, ref := range refs {
		pc.AddReference(ref)
	}
	root := markdownParser.Parse(text.NewReader(src), parser.WithContext(pc))
	if err := (&mdWalker{s: s, src: src}).blocks(root); err != nil {
		return nil, refsHeld, err
	}
	all := pc.References()
	if len(all) > maxMarkdownRefs {
		all = all[:maxMarkdownRefs]
	}
	// Copied, so that the references do not keep this section's source alive.
	kept := make([]parser.Reference, len(all))
	var held int64
	for i, ref := range all {
		kept[i] = parser.NewReference(bytes.Clone(ref.Label()), bytes.Clone(ref.Destination()), bytes.Clone(ref.Title()))
		held += stringCost(len(ref.Label())) + stringCost(len(ref.Destination())) + stringCost(len(ref.Title()))
	}
	if err := s.b.retain(held, memLines); err != nil {
		return nil, refsHeld, err
	}
	s.b.release(refsHeld)
	return kept, held, nil
}

// mdContentBytes counts the bytes of src's lines that are not blank: blank
// lines make no nodes.
func mdContentBytes(src []byte) int64 {
	var n int64
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i+1], src[i+1:]
		} else {
			src = nil
		}
		if len(bytes.Trim(line, " \t\n")) > 0 {
			n += int64(len(line))
		}
	}
	return n
}
