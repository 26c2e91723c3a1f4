package parse

import (
	"bytes"
	"strconv"
)

// pdfXref locates one object: kind 1 at a byte offset, kind 2 inside an object stream.
type pdfXref struct {
	kind byte
	off  int
	stm  int
	idx  int
}

// pdfObjStm is a decoded object stream: object numbers → offsets into data.
type pdfObjStm struct {
	data []byte
	offs map[int]int
}

// pdfDoc reads objects out of a whole PDF file held in memory.
type pdfDoc struct {
	data      []byte
	b         *budget
	xref      map[int]pdfXref
	trailer   pdfDict
	cache     map[int]any
	objStms   map[int]*pdfObjStm
	crypt     *pdfCrypt
	resolving map[int]bool
	// scanned is set once the cross-reference data was rebuilt by scanning the file.
	scanned bool
	// loads counts object loads, so a file built to make us loop stops.
	loads int
	// cacheHeld and stmHeld are what the object and object stream caches are
	// charged (see pdfmem.go).
	cacheHeld, stmHeld int64
}

// pdfMaxLoads bounds object loads per document (cached loads are free).
const pdfMaxLoads = 2_000_000

func newPDFDoc(data []byte, b *budget) *pdfDoc {
	return &pdfDoc{data: data, b: b, xref: map[int]pdfXref{}, trailer: pdfDict{},
		cache: map[int]any{}, objStms: map[int]*pdfObjStm{}, resolving: map[int]bool{}}
}

// load reads the cross-reference data, falling back to a scan of the whole file
// for `n g obj` headers when it is missing or broken.
func (d *pdfDoc) load() {
	if !d.readXrefChain() || d.trailer["Root"] == nil {
		d.scan()
	}
}

// readXrefChain follows startxref and the /Prev chain. Newer sections come first,
// so an entry already present is never overwritten by an older one.
func (d *pdfDoc) readXrefChain() bool {
	tail := d.data[max(0, len(d.data)-2048):]
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return false
	}
	lx := d.lexer(tail, i+len("startxref"))
	o, _ := lx.object(0)
	off, ok := pdfInt(o)
	seen := map[int]bool{}
	for ok && off > 0 && off < len(d.data) && !seen[off] && len(seen) < 256 {
		seen[off] = true
		trailer, good := d.readXrefAt(off)
		if !good {
			return false
		}
		for k, v := range trailer {
			if _, has := d.trailer[k]; !has {
				d.trailer[k] = v
			}
		}
		// Hybrid files keep the compressed objects in a stream named by /XRefStm.
		if xs, has := pdfInt(trailer["XRefStm"]); has && xs > 0 && xs < len(d.data) && !seen[xs] {
			seen[xs] = true
			d.readXrefAt(xs)
		}
		off, ok = pdfInt(trailer["Prev"])
	}
	return len(d.xref) > 0
}

// readXrefAt reads a classic xref table or an xref stream at off.
func (d *pdfDoc) readXrefAt(off int) (pdfDict, bool) {
	lx := d.lexer(d.data, off)
	lx.skipSpace()
	if bytes.HasPrefix(d.data[lx.pos:], []byte("xref")) {
		lx.pos += 4
		return d.readXrefTable(lx)
	}
	obj, _, err := d.parseIndirect(lx.pos, -1)
	if err != nil {
		return nil, false
	}
	s, ok := obj.(*pdfStream)
	if !ok || s.dict["Type"] != pdfName("XRef") {
		return nil, false
	}
	return s.dict, d.readXrefStream(s)
}

func (d *pdfDoc) readXrefTable(lx *pdfLexer) (pdfDict, bool) {
	for {
		lx.skipSpace()
		if bytes.HasPrefix(d.data[lx.pos:], []byte("trailer")) {
			lx.pos += len("trailer")
			o, err := lx.object(0)
			d.noteErr(err)
			dict, ok := o.(pdfDict)
			return dict, err == nil && ok
		}
		o1, err1 := lx.object(0)
		o2, err2 := lx.object(0)
		start, ok1 := pdfInt(o1)
		count, ok2 := pdfInt(o2)
		if err1 != nil || err2 != nil || !ok1 || !ok2 || start < 0 || count < 0 || count > 1<<24 {
			return nil, false
		}
		for i := range count {
			if d.b.over != nil {
				return nil, false
			}
			a, _ := lx.object(0)
			_, _ = lx.object(0)
			kind, _ := lx.object(0)
			offset, ok := pdfInt(a)
			if !ok {
				return nil, false
			}
			num := start + i
			// Some writers start a subsection at 1 with the free entry 0 in it.
			if i == 0 && start == 1 && offset == 0 && kind == pdfKeyword("f") {
				start--
				continue
			}
			if _, has := d.xref[num]; has || kind != pdfKeyword("n") {
				if _, has := d.xref[num]; !has {
					d.setXref(num, pdfXref{kind: 0})
				}
				continue
			}
			d.setXref(num, pdfXref{kind: 1, off: offset})
		}
	}
}

func (d *pdfDoc) readXrefStream(s *pdfStream) bool {
	data, held, err := d.decodeStream(s)
	if err != nil {
		return false
	}
	defer d.release(held)
	w, _ := s.dict["W"].(pdfArray)
	if len(w) < 3 {
		return false
	}
	var widths [3]int
	total := 0
	for i := range 3 {
		widths[i], _ = pdfInt(w[i])
		if widths[i] < 0 || widths[i] > 8 {
			return false
		}
		total += widths[i]
	}
	if total == 0 {
		return false
	}
	size, _ := pdfInt(s.dict["Size"])
	index, _ := s.dict["Index"].(pdfArray)
	if len(index) == 0 {
		index = pdfArray{int64(0), int64(size)}
	}
	pos := 0
	for i := 0; i+1 < len(index); i += 2 {
		start, _ := pdfInt(index[i])
		count, _ := pdfInt(index[i+1])
		for j := 0; j < count && pos+total <= len(data) && d.b.over == nil; j++ {
			var f [3]int
			for k := range 3 {
				for range widths[k] {
					f[k] = f[k]<<8 | int(data[pos])
					pos++
				}
			}
			if widths[0] == 0 {
				f[0] = 1
			}
			num := start + j
			if _, has := d.xref[num]; has {
				continue
			}
			switch f[0] {
			case 1:
				d.setXref(num, pdfXref{kind: 1, off: f[1]})
			case 2:
				d.setXref(num, pdfXref{kind: 2, stm: f[1], idx: f[2]})
			default:
				d.setXref(num, pdfXref{kind: 0})
			}
		}
	}
	return true
}

// scan rebuilds the cross-reference data from the `n g obj` headers in the file:
// the last definition of a number wins, as an incremental update would have it.
func (d *pdfDoc) scan() {
	if d.scanned {
		return
	}
	d.scanned = true
	found := map[int]pdfXref{}
	held := int64(0)
	defer func() { d.release(held) }()
	data := d.data
	for i := 0; d.b.over == nil; {
		j := bytes.Index(data[i:], []byte("obj"))
		if j < 0 {
			break
		}
		at := i + j
		i = at + 3
		if at+3 < len(data) && !pdfIsSpace(data[at+3]) && !pdfIsDelim(data[at+3]) {
			continue
		}
		num, start, ok := pdfHeaderBefore(data, at)
		if ok {
			if _, has := found[num]; !has {
				if !d.retain(costXref, memPDFObjects) {
					return
				}
				held += costXref
			}
			found[num] = pdfXref{kind: 1, off: start}
		}
	}
	// Keep objects found in object streams where no direct definition exists.
	for num, x := range found {
		d.setXref(num, x)
	}
	for num := range found {
		obj := d.resolve(pdfRef{num: num})
		s, ok := obj.(*pdfStream)
		if !ok || s.dict["Type"] != pdfName("ObjStm") {
			continue
		}
		stm := d.objStm(num)
		if stm == nil {
			continue
		}
		for inner, off := range stm.offs {
			if x, has := d.xref[inner]; !has || x.kind != 1 {
				d.setXref(inner, pdfXref{kind: 2, stm: num, idx: off})
			}
		}
	}
	d.resetCache(false)
	// The trailer: the last one naming a root, else the catalog object itself.
	for i := len(data); ; {
		j := bytes.LastIndex(data[:i], []byte("trailer"))
		if j < 0 {
			break
		}
		i = j
		lx := d.lexer(data, j+len("trailer"))
		o, err := lx.object(0)
		d.noteErr(err)
		if err == nil {
			if t, ok := o.(pdfDict); ok && t["Root"] != nil {
				for k, v := range t {
					if _, has := d.trailer[k]; !has || k == "Root" {
						d.trailer[k] = v
					}
				}
				break
			}
		}
	}
	if root, ok := d.trailer["Root"].(pdfRef); ok {
		if cat, ok := d.resolve(root).(pdfDict); ok && cat["Pages"] != nil {
			return
		}
	}
	for num := range d.xref {
		if dict, ok := d.resolve(pdfRef{num: num}).(pdfDict); ok && dict["Type"] == pdfName("Catalog") {
			d.trailer["Root"] = pdfRef{num: num}
			return
		}
	}
}

// pdfHeaderBefore checks that "obj" at position at is preceded by "num gen ".
func pdfHeaderBefore(data []byte, at int) (num, start int, ok bool) {
	p := at - 1
	digits := func() (int, int, bool) {
		for p >= 0 && pdfIsSpace(data[p]) {
			p--
		}
		end := p + 1
		for p >= 0 && data[p] >= '0' && data[p] <= '9' {
			p--
		}
		if p+1 == end || end-(p+1) > 10 {
			return 0, 0, false
		}
		n, err := strconv.Atoi(string(data[p+1 : end]))
		return n, p + 1, err == nil
	}
	if _, _, ok := digits(); !ok {
		return 0, 0, false
	}
	n, s, ok := digits()
	if !ok || (s > 0 && !pdfIsSpace(data[s-1]) && !pdfIsDelim(data[s-1])) {
		return 0, 0, false
	}
	return n, s, true
}

// resolve follows indirect references to the object they name (nil if missing).
func (d *pdfDoc) resolve(v any) any {
	for range 16 {
		ref, ok := v.(pdfRef)
		if !ok {
			return v
		}
		v = d.object(ref.num)
	}
	return nil
}

// object loads object num, repairing the xref by scanning when an entry is wrong.
func (d *pdfDoc) object(num int) any {
	if v, ok := d.cache[num]; ok {
		return v
	}
	if d.resolving[num] || d.loads > pdfMaxLoads || d.b.over != nil {
		return nil
	}
	d.loads++
	d.resolving[num] = true
	defer delete(d.resolving, num)
	v, ok := d.loadObject(num)
	if !ok && !d.scanned && d.b.over == nil {
		d.scan()
		v, _ = d.loadObject(num)
	}
	cost := costEntry + pdfSizeOf(v)
	if !d.retain(cost, memPDFObjects) {
		return nil
	}
	d.cacheHeld += cost
	d.cache[num] = v
	return v
}

func (d *pdfDoc) loadObject(num int) (any, bool) {
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
		lx := d.lexer(stm.data, off)
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
func (d *pdfDoc) objStm(num int) *pdfObjStm {
	if s, ok := d.objStms[num]; ok {
		return s
	}
	d.objStms[num] = nil
	s, ok := d.resolve(pdfRef{num: num}).(*pdfStream)
	if !ok {
		return nil
	}
	data, held, err := d.decodeStream(s)
	if err != nil {
		return nil
	}
	n, _ := pdfInt(s.dict["N"])
	first, _ := pdfInt(s.dict["First"])
	if n <= 0 || n > 1<<20 || first < 0 || first > len(data) || !d.retain(int64(n)*costEntry, memPDFObjects) {
		d.release(held)
		return nil
	}
	// The decoded stream stays with the cache, which is charged for it.
	d.stmHeld += held + int64(n)*costEntry
	out := &pdfObjStm{data: data, offs: make(map[int]int, n)}
	lx := d.lexer(data[:first], 0)
	for range n {
		a, err1 := lx.object(0)
		b, err2 := lx.object(0)
		on, ok1 := pdfInt(a)
		oo, ok2 := pdfInt(b)
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
func (d *pdfDoc) parseIndirect(off, want int) (any, int, error) {
	lx := d.lexer(d.data, off)
	a, _ := lx.object(0)
	g, _ := lx.object(0)
	kw, _ := lx.object(0)
	num, ok1 := pdfInt(a)
	gen, ok2 := pdfInt(g)
	if !ok1 || !ok2 || kw != pdfKeyword("obj") || (want >= 0 && num != want) {
		return nil, 0, errPDFSyntax
	}
	v, err := lx.object(0)
	if err != nil {
		d.noteErr(err)
		return nil, 0, err
	}
	if kw, ok := v.(pdfKeyword); ok && kw == "endobj" {
		return nil, num, nil
	}
	ref := pdfRef{num: num, gen: gen}
	dict, isDict := v.(pdfDict)
	if !isDict {
		return d.decryptObj(v, ref), num, nil
	}
	save := lx.pos
	next, _ := lx.object(0)
	if next != pdfKeyword("stream") {
		lx.pos = save
		return d.decryptObj(dict, ref), num, nil
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
	if lv := dict["Length"]; lv != nil {
		if lr, isRef := lv.(pdfRef); isRef && lr.num != num {
			lv = d.resolve(lr)
		}
		if n, ok := pdfInt(lv); ok {
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
	s := &pdfStream{dict: dict, raw: d.data[p:end], ref: ref}
	if d.crypt != nil {
		dict = d.decryptObj(dict, ref).(pdfDict)
		s.dict = dict
	}
	return s, num, nil
}
