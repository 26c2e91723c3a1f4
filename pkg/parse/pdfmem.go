package parse

import (
	"errors"
)

// The PDF reader holds the whole file (objects are found by offset) and caches
// what it reads: objects, object streams, fonts, the cross-reference table. All
// of it is charged to the memory budget. Most of the reader treats a broken
// object as missing, so the parse checks the budget's first failure (b.over) as
// it goes: running out of budget must never pass for damage.

// costXref is the heap of one cross-reference entry.
const costXref = 64

// retain charges n bytes the reader keeps; false once over the budget.
func (d *pdfDoc) retain(n int64, what memUse) bool {
	return d.b.over == nil && d.b.retain(n, what) == nil
}

func (d *pdfDoc) release(n int64) { d.b.release(n) }

// lexer returns a lexer for objects in data, bounded by what the budget has left.
func (d *pdfDoc) lexer(data []byte, pos int) *pdfLexer {
	return &pdfLexer{data: data, pos: pos, limit: max(d.b.memLeft(), 1)}
}

// noteErr records a lexer's over-the-budget failure as the parse's.
func (d *pdfDoc) noteErr(err error) {
	if errors.Is(err, errPDFTooBig) {
		d.b.overError(memPDFObjects)
	}
}

// setXref records a cross-reference entry, charging new ones.
func (d *pdfDoc) setXref(num int, x pdfXref) {
	if _, has := d.xref[num]; !has && !d.retain(costXref, memPDFObjects) {
		return
	}
	d.xref[num] = x
}

// resetCache drops the object cache (after the file was repaired) and credits
// its charge; with streams, the object stream cache goes too (once the
// decryption key is known, what was read before must be read again).
func (d *pdfDoc) resetCache(streams bool) {
	d.cache = map[int]any{}
	d.release(d.cacheHeld)
	d.cacheHeld = 0
	if streams {
		d.objStms = map[int]*pdfObjStm{}
		d.release(d.stmHeld)
		d.stmHeld = 0
	}
}

// pdfBuf collects decoded bytes, charging its capacity as it grows: the old
// and the new array are both charged while one is copied into the other.
type pdfBuf struct {
	d    *pdfDoc
	buf  []byte
	held int64
}

func (w *pdfBuf) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > cap(w.buf) {
		size := max(2*cap(w.buf), len(w.buf)+len(p), 4096)
		if err := w.d.b.retain(int64(size), memPDFStreams); err != nil {
			return 0, err
		}
		grown := make([]byte, len(w.buf), size)
		copy(grown, w.buf)
		w.d.release(w.held)
		w.buf, w.held = grown, int64(size)
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// free credits the buffer.
func (w *pdfBuf) free() {
	w.d.release(w.held)
	w.buf, w.held = nil, 0
}
