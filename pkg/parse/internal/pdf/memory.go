package pdf

import (
	"errors"
)

// Most of the reader treats a broken object as missing, so it checks the
// budget's first failure (d.over) as it goes: running out of budget must never
// pass for damage.

// costXref is the heap of one cross-reference entry.
const costXref = 64

// charge charges n bytes to the budget. The first failure is kept as the
// document's, since callers that take it for a missing object go on.
func (d *doc) charge(n int64, what Use) error {
	if n <= 0 {
		return nil
	}
	if err := d.budget.Retain(n, what); err != nil {
		failure := overBudget{err}
		if d.over == nil {
			d.over = failure
		}
		return failure
	}
	return nil
}

// retain charges n bytes the reader keeps; false once over the budget.
func (d *doc) retain(n int64, what Use) bool {
	return d.over == nil && d.charge(n, what) == nil
}

func (d *doc) release(n int64) {
	if n > 0 {
		d.budget.Release(n)
	}
}

// newLexer returns a lexer for objects in data, bounded by what the budget has left.
func (d *doc) newLexer(data []byte, pos int) *lexer {
	return &lexer{data: data, pos: pos, limit: max(d.budget.Left(), 1)}
}

// noteErr records a lexer's over-the-budget failure as the document's.
func (d *doc) noteErr(err error) {
	if errors.Is(err, errTooBig) {
		failure := overBudget{d.budget.Exceeded(UseObjects)}
		if d.over == nil {
			d.over = failure
		}
	}
}

// setXref records a cross-reference entry, charging new ones.
func (d *doc) setXref(num int, x xrefEntry) {
	if _, has := d.xref[num]; !has && !d.retain(costXref, UseObjects) {
		return
	}
	d.xref[num] = x
}

// resetCache drops the object cache (after the file was repaired) and credits
// its charge; with streams, the object stream cache goes too (once the
// decryption key is known, what was read before must be read again).
func (d *doc) resetCache(streams bool) {
	d.cache = map[int]any{}
	d.release(d.cacheHeld)
	d.cacheHeld = 0
	if streams {
		d.objStms = map[int]*objectStream{}
		d.release(d.stmHeld)
		d.stmHeld = 0
	}
}

// chargedBuffer collects decoded bytes, charging its capacity as it grows: the
// old and the new array are both charged while one is copied into the other.
type chargedBuffer struct {
	d    *doc
	buf  []byte
	held int64
}

func (w *chargedBuffer) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > cap(w.buf) {
		size := max(2*cap(w.buf), len(w.buf)+len(p), 4096)
		if err := w.d.charge(int64(size), UseStreams); err != nil {
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
func (w *chargedBuffer) free() {
	w.d.release(w.held)
	w.buf, w.held = nil, 0
}
