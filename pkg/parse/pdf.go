package parse

import (
	"context"
	"errors"
	"io"

	"github.com/youworker/youworker/pkg/parse/internal/pdf"
)

// parsePDF reads a PDF with the reader in internal/pdf, which charges what it
// holds to this parse's budget, and turns its paragraphs into blocks.
func parsePDF(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	text, err := pdf.Extract(ctx, r, size, pdfBudget{b}, pdf.Limits{
		MaxInflatedBytes: b.limits.MaxInflatedBytes,
		MaxPages:         b.limits.MaxPages,
		MaxTextBytes:     b.limits.MaxTextBytes,
	})
	if err != nil {
		return nil, pdfError(err)
	}
	// The paragraphs stay charged until their blocks are.
	defer b.release(text.Held)
	out := &blockSink{b: b}
	for _, p := range text.Paragraphs {
		blk := Block{Kind: KindParagraph, Text: p.Text, Page: p.Page}
		if p.Heading > 0 {
			blk.Kind, blk.Level = KindHeading, p.Heading
		} else if p.ListItem {
			blk.Kind, blk.Level = KindListItem, 1
		}
		if err := out.add(blk); err != nil {
			return nil, err
		}
	}
	// The pictures stay charged to the PDF reader's share until the parse ends.
	scans := make([]Scan, len(text.Scans))
	for i, s := range text.Scans {
		scans[i] = Scan{Page: s.Page, Images: make([]Image, len(s.Images))}
		for j, img := range s.Images {
			scans[i].Images[j] = Image{MIME: img.MIME, Data: img.Data, Width: img.Width, Height: img.Height}
		}
	}
	return &Document{Blocks: out.blocks, Pages: text.Pages, Title: squashSpace(text.Title), Scans: scans}, nil
}

// pdfError translates a failure of the PDF reader into this package's codes.
// The budget's own failures and cancellation come back as they are.
func pdfError(err error) error {
	var pe *pdf.Error
	if !errors.As(err, &pe) {
		return err
	}
	code := CodeCorrupt
	switch pe.Kind {
	case pdf.KindEmpty:
		code = CodeEmpty
	case pdf.KindEncrypted:
		code = CodeEncrypted
	case pdf.KindTooLarge:
		code = CodeTooLarge
	}
	return &Error{Code: code, Message: pe.Message, Err: pe.Err}
}

// pdfBudget lets the PDF reader charge this parse's budget.
type pdfBudget struct{ b *budget }

func (p pdfBudget) Retain(n int64, what pdf.Use) error { return p.b.retain(n, pdfUse(what)) }
func (p pdfBudget) Release(n int64)                    { p.b.release(n) }
func (p pdfBudget) Left() int64                        { return p.b.memLeft() }
func (p pdfBudget) Exceeded(what pdf.Use) error        { return p.b.overError(pdfUse(what)) }

// pdfUse names what the PDF reader holds in the words of a budget failure.
func pdfUse(what pdf.Use) memUse {
	switch what {
	case pdf.UseFile:
		return memFile
	case pdf.UseStreams:
		return memPDFStreams
	case pdf.UseFonts:
		return memPDFFonts
	case pdf.UseText:
		return memPDFText
	case pdf.UseImages:
		return memImages
	}
	return memPDFObjects
}
