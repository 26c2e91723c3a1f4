package pdf

import (
	"bytes"
	"strconv"
)

// scan rebuilds the cross-reference data from the `n g obj` headers in the file:
// the last definition of a number wins, as an incremental update would have it.
func (d *doc) scan() {
	if d.scanned {
		return
	}
	d.scanned = true
	found := map[int]xrefEntry{}
	held := int64(0)
	defer func() { d.release(held) }()
	data := d.data
	for i := 0; d.over == nil; {
		j := bytes.Index(data[i:], []byte("obj"))
		if j < 0 {
			break
		}
		at := i + j
		i = at + 3
		if at+3 < len(data) && !isSpace(data[at+3]) && !isDelim(data[at+3]) {
			continue
		}
		num, start, ok := headerBefore(data, at)
		if ok {
			if _, has := found[num]; !has {
				if !d.retain(costXref, UseObjects) {
					return
				}
				held += costXref
			}
			found[num] = xrefEntry{kind: 1, off: start}
		}
	}
	// Keep objects found in object streams where no direct definition exists.
	for num, x := range found {
		d.setXref(num, x)
	}
	for num := range found {
		obj := d.resolve(ref{num: num})
		s, ok := obj.(*stream)
		if !ok || s.dict["Type"] != name("ObjStm") {
			continue
		}
		stm := d.objStm(num)
		if stm == nil {
			continue
		}
		for inner, off := range stm.offs {
			if x, has := d.xref[inner]; !has || x.kind != 1 {
				d.setXref(inner, xrefEntry{kind: 2, stm: num, idx: off})
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
		lx := d.newLexer(data, j+len("trailer"))
		o, err := lx.object(0)
		d.noteErr(err)
		if err == nil {
			if t, ok := o.(dict); ok && t["Root"] != nil {
				for k, v := range t {
					if _, has := d.trailer[k]; !has || k == "Root" {
						d.trailer[k] = v
					}
				}
				break
			}
		}
	}
	if root, ok := d.trailer["Root"].(ref); ok {
		if cat, ok := d.resolve(root).(dict); ok && cat["Pages"] != nil {
			return
		}
	}
	for num := range d.xref {
		if dict, ok := d.resolve(ref{num: num}).(dict); ok && dict["Type"] == name("Catalog") {
			d.trailer["Root"] = ref{num: num}
			return
		}
	}
}

// headerBefore checks that "obj" at position at is preceded by "num gen ".
func headerBefore(data []byte, at int) (num, start int, ok bool) {
	p := at - 1
	digits := func() (int, int, bool) {
		for p >= 0 && isSpace(data[p]) {
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
	if !ok || (s > 0 && !isSpace(data[s-1]) && !isDelim(data[s-1])) {
		return 0, 0, false
	}
	return n, s, true
}
