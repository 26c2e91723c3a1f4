package parse

import (
	"context"
	"fmt"
)

// budget tracks what one parse has spent against its Limits. It is not safe for
// concurrent use: one parse, one goroutine.
type budget struct {
	ctx    context.Context
	limits Limits
	text   int64
	// inflated counts bytes actually read out of containers, whatever they declare.
	inflated int64
	// held is what the parser retains right now, by the estimates of blockCost
	// and friends; peak is its high-water mark.
	held, peak int64
	// over is the first memory budget failure. Parsers that read past damage (a
	// PDF object that fails to load is treated as missing) check it, so that
	// running out of budget is never taken for damage.
	over *Error
}

func newBudget(ctx context.Context, l Limits) *budget {
	return &budget{ctx: ctx, limits: l}
}

// addText records n bytes of extracted text and fails once the limit is passed.
func (b *budget) addText(n int) error {
	b.text += int64(n)
	if b.limits.MaxTextBytes > 0 && b.text > b.limits.MaxTextBytes {
		return Errorf(CodeTooLarge, "the document has more than %d bytes of text", b.limits.MaxTextBytes)
	}
	return nil
}

// check returns the context's error once the parse is cancelled or timed out.
func (b *budget) check() error { return b.ctx.Err() }

// addInflated records n bytes read out of a container and fails once the
// document's total passes MaxInflatedBytes, which is how decompression bombs stop.
func (b *budget) addInflated(n int) error {
	b.inflated += int64(n)
	if b.limits.MaxInflatedBytes > 0 && b.inflated > b.limits.MaxInflatedBytes {
		return Errorf(CodeTooLarge, "the archive inflates to more than %d bytes (decompression bomb)", b.limits.MaxInflatedBytes)
	}
	return nil
}

// memUse names what a parser holds in memory. Each value is the subject of the
// sentence a user reads when it is too much, verb included, so that the message
// says what was too large: "the spreadsheet's shared strings exceed the parser's
// memory budget of 256 MiB".
type memUse string

// What parsers retain, by the message they fail with.
const (
	memDocument      memUse = "the document's extracted text and tables exceed"
	memFile          memUse = "the file exceeds"
	memParagraph     memUse = "a paragraph of the document exceeds"
	memTable         memUse = "a table of the document exceeds"
	memLines         memUse = "the lines held to read the document's structure exceed"
	memCSVRows       memUse = "the CSV rows being read exceed"
	memHTMLTree      memUse = "the page's HTML elements exceed"
	memSharedStrings memUse = "the spreadsheet's shared strings exceed"
	memRow           memUse = "a row of the spreadsheet exceeds"
	memParts         memUse = "the document's parts, relationships and styles exceed"
	memSlide         memUse = "a slide of the presentation exceeds"
	memMessageParts  memUse = "the message's parts exceed"
	memPDFObjects    memUse = "the PDF's objects exceed"
	memPDFStreams    memUse = "the PDF's decoded streams exceed"
	memPDFFonts      memUse = "the PDF's fonts exceed"
	memPDFText       memUse = "the PDF's positioned text exceeds"
	memImages        memUse = "the pictures of the document exceed"
)

// retain records n more bytes held by the parser and fails with CodeTooLarge,
// naming what, once the total passes MaxRetainedBytes. Parsers charge what they
// keep (rows, nodes, tables, decoded streams, the blocks of the result), not the
// garbage of each step: that is what can grow with the input.
func (b *budget) retain(n int64, what memUse) error {
	if n <= 0 {
		return nil
	}
	b.held += n
	b.peak = max(b.peak, b.held)
	if lim := b.limits.MaxRetainedBytes; lim > 0 && b.held > lim {
		return b.overError(what)
	}
	return nil
}

// overError records and returns the failure of what exceeding the memory budget.
func (b *budget) overError(what memUse) *Error {
	err := Errorf(CodeTooLarge, "%s the parser's memory budget of %s", what, byteSize(b.limits.MaxRetainedBytes))
	if b.over == nil {
		b.over = err
	}
	return err
}

// release records that n bytes charged with retain were let go.
func (b *budget) release(n int64) {
	b.held = max(b.held-n, 0)
}

// memLeft is how much more the parser may retain; a large number without a limit.
// Parsers size bounded working buffers with it.
func (b *budget) memLeft() int64 {
	lim := b.limits.MaxRetainedBytes
	if lim <= 0 {
		return 1 << 40
	}
	return max(lim-b.held, 0)
}

// workingLimit bounds one working buffer (a CSV row, an XML or HTML token) that
// the parser needs whole: at most ceiling, and at most an eighth of the memory
// budget, since such a buffer exists a few times over while it is decoded.
func (b *budget) workingLimit(ceiling int64) int64 {
	if lim := b.limits.MaxRetainedBytes; lim > 0 {
		return min(ceiling, lim/8)
	}
	return ceiling
}

// byteSize renders n bytes for people: "256 MiB", "1.5 GiB", "900 bytes".
func byteSize(n int64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), units[u])
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}

// Heap cost estimates of what parsers retain, on the high side: a string is
// its bytes, header and allocation rounding; a slice header likewise; a block
// its struct in the result's growing slice, then its text and rows. Measured on
// real documents they come out at one to two times the heap actually kept.
const (
	costString = 16 + 8
	costSlice  = 24 + 8
	costBlock  = 64 + 32
	costEntry  = 48 // one map entry: key, value and bucket overhead
)

// stringCost is the heap held by a string of n bytes.
func stringCost(n int) int64 { return int64(n) + costString }

// rowCost is the heap held by one table row.
func rowCost(row []string) int64 {
	n := int64(costSlice)
	for _, c := range row {
		n += stringCost(len(c))
	}
	return n
}

// rowsCost is the heap held by table rows.
func rowsCost(rows [][]string) int64 {
	n := int64(costSlice)
	for _, r := range rows {
		n += rowCost(r)
	}
	return n
}

// blockCost is the heap a block of the result holds.
func blockCost(blk Block) int64 {
	n := int64(costBlock) + int64(len(blk.Text))
	if blk.Rows != nil {
		n += rowsCost(blk.Rows)
	}
	return n
}
