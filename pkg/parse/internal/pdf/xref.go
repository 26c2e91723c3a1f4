package pdf

import (
	"bytes"
)

// xrefEntry locates one object: kind 1 at a byte offset, kind 2 inside an object stream.
type xrefEntry struct {
	kind byte
	off  int
	stm  int
	idx  int
}

// load reads the cross-reference data, falling back to a scan of the whole file
// for `n g obj` headers when it is missing or broken.
func (d *doc) load() {
	if !d.readXrefChain() || d.trailer["Root"] == nil {
		d.scan()
	}
}

// readXrefChain follows startxref and the /Prev chain. Newer sections come first,
// so an entry already present is never overwritten by an older one.
func (d *doc) readXrefChain() bool {
	tail := d.data[max(0, len(d.data)-2048):]
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return false
	}
	lx := d.newLexer(tail, i+len("startxref"))
	o, _ := lx.object(0)
	off, ok := toInt(o)
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
		if xs, has := toInt(trailer["XRefStm"]); has && xs > 0 && xs < len(d.data) && !seen[xs] {
			seen[xs] = true
			d.readXrefAt(xs)
		}
		off, ok = toInt(trailer["Prev"])
	}
	return len(d.xref) > 0
}

// readXrefAt reads a classic xref table or an xref stream at off.
func (d *doc) readXrefAt(off int) (dict, bool) {
	lx := d.newLexer(d.data, off)
	lx.skipSpace()
	if bytes.HasPrefix(d.data[lx.pos:], []byte("xref")) {
		lx.pos += 4
		return d.readXrefTable(lx)
	}
	obj, _, err := d.parseIndirect(lx.pos, -1)
	if err != nil {
		return nil, false
	}
	s, ok := obj.(*stream)
	if !ok || s.dict["Type"] != name("XRef") {
		return nil, false
	}
	return s.dict, d.readXrefStream(s)
}

func (d *doc) readXrefTable(lx *lexer) (dict, bool) {
	for {
		lx.skipSpace()
		if bytes.HasPrefix(d.data[lx.pos:], []byte("trailer")) {
			lx.pos += len("trailer")
			o, err := lx.object(0)
			d.noteErr(err)
			dict, ok := o.(dict)
			return dict, err == nil && ok
		}
		o1, err1 := lx.object(0)
		o2, err2 := lx.object(0)
		start, ok1 := toInt(o1)
		count, ok2 := toInt(o2)
		if err1 != nil || err2 != nil || !ok1 || !ok2 || start < 0 || count < 0 || count > 1<<24 {
			return nil, false
		}
		for i := range count {
			if d.over != nil {
				return nil, false
			}
			a, _ := lx.object(0)
			_, _ = lx.object(0)
			kind, _ := lx.object(0)
			offset, ok := toInt(a)
			if !ok {
				return nil, false
			}
			num := start + i
			// Some writers start a subsection at 1 with the free entry 0 in it.
			if i == 0 && start == 1 && offset == 0 && kind == keyword("f") {
				start--
				continue
			}
			if _, has := d.xref[num]; has || kind != keyword("n") {
				if _, has := d.xref[num]; !has {
					d.setXref(num, xrefEntry{kind: 0})
				}
				continue
			}
			d.setXref(num, xrefEntry{kind: 1, off: offset})
		}
	}
}

func (d *doc) readXrefStream(s *stream) bool {
	data, held, err := d.decodeStream(s)
	if err != nil {
		return false
	}
	defer d.release(held)
	w, _ := s.dict["W"].(array)
	if len(w) < 3 {
		return false
	}
	var widths [3]int
	total := 0
	for i := range 3 {
		widths[i], _ = toInt(w[i])
		if widths[i] < 0 || widths[i] > 8 {
			return false
		}
		total += widths[i]
	}
	if total == 0 {
		return false
	}
	size, _ := toInt(s.dict["Size"])
	index, _ := s.dict["Index"].(array)
	if len(index) == 0 {
		index = array{int64(0), int64(size)}
	}
	pos := 0
	for i := 0; i+1 < len(index); i += 2 {
		start, _ := toInt(index[i])
		count, _ := toInt(index[i+1])
		for j := 0; j < count && pos+total <= len(data) && d.over == nil; j++ {
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
				d.setXref(num, xrefEntry{kind: 1, off: f[1]})
			case 2:
				d.setXref(num, xrefEntry{kind: 2, stm: f[1], idx: f[2]})
			default:
				d.setXref(num, xrefEntry{kind: 0})
			}
		}
	}
	return true
}
