// Package pdf extracts the text of a PDF in reading order, as paragraphs.
//
// The reader is built for untrusted files: it holds the file whole and
// charges everything it keeps to a memory Budget, bounds what streams decode
// to, and reads past damage where it can. A broken cross-reference table is
// rebuilt by scanning the file for objects, a broken stream or object is taken
// as missing, and only what stops the whole document (a limit reached, a file
// that is not a PDF or cannot be opened) is reported as an *Error.
//
// The reading works in layers, one file each: the lexer and object model
// (object.go, lexer.go), cross-reference data and its repair (xref.go,
// repair.go), object loading (resolve.go), stream filters (filter.go and the
// decoders beside it), decryption (crypt.go), fonts and character maps
// (font.go, cmap.go, glyphs.go), the page tree (pages.go), the content-stream
// interpreter (content.go, operators.go, show.go) and layout into lines and
// paragraphs (layout.go, paragraph.go).
package pdf

import (
	"bytes"
	"context"
	"errors"
	"io"
)

// Text is what Extract reads out of a PDF.
type Text struct {
	// Title is the document information's title, decoded but not cleaned up.
	Title string
	// Pages is the number of pages read.
	Pages int
	// Paragraphs are the text of every page in reading order.
	Paragraphs []Paragraph
	// Scans are the pages without text that show pictures: scanned pages,
	// whose text only OCR can read.
	Scans []Scan
	// Held is what the paragraphs and the scans' pictures are charged to the
	// Budget; the caller releases it once it lets go of them.
	Held int64
}

// Paragraph is a block of text on one page.
type Paragraph struct {
	// Text is the paragraph's lines joined, with hyphenated line ends undone.
	Text string
	// Page is the 1-based page it is on.
	Page int
	// Heading is the heading level (1 is the largest type), 0 for body text.
	Heading int
	// ListItem marks text that starts like a list item: a bullet or a number.
	ListItem bool
}

// maxFile bounds the PDF read into memory when no inflation limit is set.
const maxFile = 1 << 30

// maxOps bounds the content-stream operators run for one document.
const maxOps = 50_000_000

// Extract reads the PDF r of the given size. It fails with an *Error when the
// document cannot be read or is over a limit, with the Budget's own error
// when the memory budget is spent, and with ctx's error once ctx is done.
func Extract(ctx context.Context, r io.ReaderAt, size int64, budget Budget, limits Limits) (*Text, error) {
	text, err := extract(ctx, r, size, budget, limits)
	return text, exposed(err)
}

func extract(ctx context.Context, r io.ReaderAt, size int64, budget Budget, limits Limits) (*Text, error) {
	limit := int64(maxFile)
	if limits.MaxInflatedBytes > 0 {
		limit = min(limit, limits.MaxInflatedBytes)
	}
	if size > limit {
		return nil, errorf(KindTooLarge, "the PDF is larger than %d bytes", limit)
	}
	if size <= 0 {
		return nil, errorf(KindEmpty, "the file is empty")
	}
	// Objects are found by offset anywhere in the file: it is held whole.
	if err := budget.Retain(size, UseFile); err != nil {
		return nil, err
	}
	data := make([]byte, size)
	if n, err := r.ReadAt(data, 0); int64(n) != size && err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{Kind: KindCorrupt, Message: "the PDF could not be read", Err: err}
	}
	if i := bytes.Index(data[:min(len(data), 1024)], []byte("%PDF")); i < 0 {
		return nil, errorf(KindCorrupt, "the file is not a PDF (no %%PDF header)")
	}
	d := newDoc(ctx, data, budget, limits)
	d.load()
	if err := d.failed(); err != nil {
		return nil, err
	}
	if d.trailer["Encrypt"] != nil {
		if err := d.setupCrypt(); err != nil {
			return nil, err
		}
		// Objects read before the key was known are still encrypted: read them again.
		d.resetCache(true)
	}
	pages := d.pages()
	if err := d.failed(); err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		return nil, errorf(KindCorrupt, "the PDF has no readable pages")
	}
	if lim := limits.MaxPages; lim > 0 && len(pages) > lim {
		return nil, errorf(KindTooLarge, "the PDF has more than %d pages", lim)
	}
	paras, scans, held, err := d.readPages(pages)
	if err != nil {
		return nil, err
	}
	title := d.title()
	if err := d.failed(); err != nil {
		d.release(held)
		return nil, err
	}
	out := &Text{Title: title, Pages: len(pages), Paragraphs: make([]Paragraph, 0, len(paras)), Scans: scans, Held: held}
	levels := headingLevels(paras)
	for _, p := range paras {
		out.Paragraphs = append(out.Paragraphs, Paragraph{Text: p.text, Page: p.page, Heading: levels(p), ListItem: p.list})
	}
	return out, nil
}

// readPages runs every page's content and lays its text out in paragraphs; a
// page without text, or with a few characters under a picture that covers it,
// is a scan and its pictures are read. held is what the paragraphs and the
// pictures are charged.
func (d *doc) readPages(pages []leafPage) (paras []paragraph, scans []Scan, held int64, err error) {
	defer func() {
		if err != nil {
			d.release(held)
		}
	}()
	in := newInterpreter(d)
	defer in.dropRuns()
	for i, p := range pages {
		if err := d.failed(); err != nil {
			return nil, nil, held, err
		}
		in.dropRuns()
		in.box = p.box
		content, contentHeld, err := d.pageContent(p.dict)
		if err != nil {
			return nil, nil, held, err
		}
		gs := graphicsState{ctm: identity(), th: 1}
		err = in.run(content, p.res, gs, 0)
		d.release(contentHeld)
		if err == nil {
			err = in.annotations(p.dict, p.res)
		}
		if err == nil {
			err = d.failed()
		}
		if err != nil {
			return nil, nil, held, err
		}
		// The caller charges the text again as it keeps it; stop early on a text bomb.
		if lim := d.limits.MaxTextBytes; lim > 0 && int64(in.chars) > lim {
			return nil, nil, held, errorf(KindTooLarge, "the document has more than %d bytes of text", lim)
		}
		text := 0
		for _, para := range paragraphsOf(pageLines(in.runs), i+1) {
			cost := costString + int64(len(para.text)) + 48
			if err := d.charge(cost, UseText); err != nil {
				return nil, nil, held, err
			}
			held += cost
			text += len(para.text)
			paras = append(paras, para)
		}
		if len(in.images) > 0 && (text == 0 || text < minScanTextBytes && coversPage(in.images, p.box)) {
			imgs, imgHeld, err := d.pageScan(in.images, p.rotate)
			held += imgHeld
			if err != nil {
				return nil, nil, held, err
			}
			if len(imgs) > 0 {
				scans = append(scans, Scan{Page: i + 1, Images: imgs})
			}
		}
	}
	return paras, scans, held, nil
}

// failed returns why the document must stop: cancellation, or the memory
// budget exhausted somewhere a failure would otherwise pass for a broken object.
func (d *doc) failed() error {
	if err := d.ctx.Err(); err != nil {
		return err
	}
	return d.over
}
