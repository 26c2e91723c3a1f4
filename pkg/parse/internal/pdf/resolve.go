package pdf

import (
	"bytes"
	"context"
)

// objectStream is a decoded object stream: object numbers → offsets into data.
type objectStream struct {
	data []byte
	offs map[int]int
}

// doc reads objects out of a whole PDF file held in memory.
type doc struct {
	ctx    context.Context
	data   []byte
	budget Budget
	limits Limits
	// over is the first failure of the budget (see memory.go).
	over error
	// inflated counts the bytes decoded out of the file's streams.
	inflated  int64
	xref      map[int]xrefEntry
	trailer   dict
	cache     map[int]any
	objStms   map[int]*objectStream
	crypt     *decrypter
	resolving map[int]bool
	// scanned is set once the cross-reference data was rebuilt by scanning the file.
	scanned bool
	// loads counts object loads, so a file built to make us loop stops.
	loads int
	// cacheHeld and stmHeld are what the object and object stream caches are
	// charged (see memory.go).
	cacheHeld, stmHeld int64
}

// maxLoads bounds object loads per document (cached loads are free).
const maxLoads = 2_000_000

func newDoc(ctx context.Context, data []byte, budget Budget, limits Limits) *doc {
	return &doc{ctx: ctx, data: data, budget: budget, limits: limits, xref: map[int]xrefEntry{}, trailer: dict{},
		cache: map[int]any{}, objStms: map[int]*objectStream{}, resolving: map[int]bool{}}
}

// resolve follows indirect references to the object they name (nil if missing).
func (d *doc) resolve(v any) any {
	for range 16 {
		ref, ok := v.(ref)
		if !ok {
			return v
		}
		v = d.object(ref.num)
	}
	return nil
}

// object loads object num, repairing the xref by scanning when an entry is wrong.
func (d *doc) object(num int) any {
	if v, ok := d.cache[num]; ok {
		return v
	}
	if d.resolving[num] || d.loads > maxLoads || d.over != nil {
		return nil
	}
	d.loads++
	d.resolving[num] = true
	defer delete(d.resolving, num)
	v, ok := d.loadObject(num)
	if !ok && !d.scanned && d.over == nil {
		d.scan()
		v, _ = d.loadObject(num)
	}
	cost := costEntry + sizeOf(v)
	if !d.retain(cost, UseObjects) {
		return nil
	}
	d.cacheHeld += cost
	d.cache[num] = v
	return v
}

func (d *doc) loadObject(num int) (any, bool) {
	x, ok := d.xref[num]
	if !ok {
		return nil, false
	}
	switch x.kind {
	case 1:
		if x.off <= 0 || x.off >= len(d.data) {
			return nil, false
		}
		v, got, err := d.parseIndirect(x.off, num)
		if err != nil || got != num {
			return nil, false
		}
		return v, true
	case 2:
		stm := d.objStm(x.stm)
		if stm == nil {
			return nil, false
		}
		off, ok := stm.offs[num]
		if !ok {
			return nil, false
		}
		lx := d.newLexer(stm.data, off)
		v, err := lx.object(0)
		if err != nil {
			d.noteErr(err)
			return nil, false
		}
		return v, true
	}
	return nil, true
}

// objStm decodes (once) the object stream num.
func (d *doc) objStm(num int) *objectStream {
	if s, ok := d.objStms[num]; ok {
		return s
	}
	d.objStms[num] = nil
	s, ok := d.resolve(ref{num: num}).(*stream)
	if !ok {
		return nil
	}
	data, held, err := d.decodeStream(s)
	if err != nil {
		return nil
	}
	n, _ := toInt(s.dict["N"])
	first, _ := toInt(s.dict["First"])
	if n <= 0 || n > 1<<20 || first < 0 || first > len(data) || !d.retain(int64(n)*costEntry, UseObjects) {
		d.release(held)
		return nil
	}
	// The decoded stream stays with the cache, which is charged for it.
	d.stmHeld += held + int64(n)*costEntry
	out := &objectStream{data: data, offs: make(map[int]int, n)}
	lx := d.newLexer(data[:first], 0)
	for range n {
		a, err1 := lx.object(0)
		b, err2 := lx.object(0)
		on, ok1 := toInt(a)
		oo, ok2 := toInt(b)
		if err1 != nil || err2 != nil || !ok1 || !ok2 {
			break
		}
		if first+oo >= 0 && first+oo < len(data) {
			out.offs[on] = first + oo
		}
	}
	d.objStms[num] = out
	return out
}

// parseIndirect parses "num gen obj ... endobj" at off, with its stream data if any.
// want < 0 accepts any object number.
func (d *doc) parseIndirect(off, want int) (any, int, error) {
	lx := d.newLexer(d.data, off)
	a, _ := lx.object(0)
	g, _ := lx.object(0)
	kw, _ := lx.object(0)
	num, ok1 := toInt(a)
	gen, ok2 := toInt(g)
	if !ok1 || !ok2 || kw != keyword("obj") || (want >= 0 && num != want) {
		return nil, 0, errSyntax
	}
	v, err := lx.object(0)
	if err != nil {
		d.noteErr(err)
		return nil, 0, err
	}
	if kw, ok := v.(keyword); ok && kw == "endobj" {
		return nil, num, nil
	}
	id := ref{num: num, gen: gen}
	header, isDict := v.(dict)
	if !isDict {
		return d.decryptObj(v, id), num, nil
	}
	save := lx.pos
	next, _ := lx.object(0)
	if next != keyword("stream") {
		lx.pos = save
		return d.decryptObj(header, id), num, nil
	}
	// The data starts after the end of line following "stream".
	p := lx.pos
	if p < len(d.data) && d.data[p] == '\r' {
		p++
	}
	if p < len(d.data) && d.data[p] == '\n' {
		p++
	}
	length := -1
	if lv := header["Length"]; lv != nil {
		if lr, isRef := lv.(ref); isRef && lr.num != num {
			lv = d.resolve(lr)
		}
		if n, ok := toInt(lv); ok {
			length = n
		}
	}
	end := -1
	if length >= 0 && p+length <= len(d.data) {
		// Trust /Length only when "endstream" follows it.
		tail := d.data[p+length : min(len(d.data), p+length+32)]
		if bytes.Contains(tail, []byte("endstream")) {
			end = p + length
		}
	}
	if end < 0 {
		i := bytes.Index(d.data[p:], []byte("endstream"))
		if i < 0 {
			end = len(d.data)
		} else {
			end = p + i
			for end > p && (d.data[end-1] == '\n' || d.data[end-1] == '\r') {
				end--
			}
		}
	}
	s := &stream{dict: header, raw: d.data[p:end], ref: id}
	if d.crypt != nil {
		s.dict = d.decryptObj(header, id).(dict)
	}
	return s, num, nil
}
