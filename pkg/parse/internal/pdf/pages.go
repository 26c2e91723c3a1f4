package pdf

import (
	"math"
	"sort"
	"unicode/utf16"
)

// leafPage is a leaf of the page tree with its inherited resources.
type leafPage struct {
	dict dict
	res  dict
	// box is the visible part of the page in user space (the crop box, else
	// the media box, inherited like resources); ok is false when neither is
	// usable and the page is unbounded.
	box pageBox
	// rotate is how far the page is turned clockwise when shown: 0, 90, 180 or 270.
	rotate int
}

// pageBox is a rectangle in default user space.
type pageBox struct {
	x0, y0, x1, y1 float64
	ok             bool
}

// boxOf reads a rectangle [llx lly urx ury], in either corner order.
func (d *doc) boxOf(v any) pageBox {
	a, _ := d.resolve(v).(array)
	if len(a) != 4 {
		return pageBox{}
	}
	var n [4]float64
	for i := range n {
		f, ok := toFloat(d.resolve(a[i]))
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return pageBox{}
		}
		n[i] = f
	}
	b := pageBox{x0: math.Min(n[0], n[2]), y0: math.Min(n[1], n[3]), x1: math.Max(n[0], n[2]), y1: math.Max(n[1], n[3]), ok: true}
	if b.x1-b.x0 < 1 || b.y1-b.y0 < 1 {
		return pageBox{}
	}
	return b
}

// intersect is the part of b inside c; an unusable box gives way to the other.
func (b pageBox) intersect(c pageBox) pageBox {
	if !b.ok {
		return c
	}
	if !c.ok {
		return b
	}
	out := pageBox{x0: math.Max(b.x0, c.x0), y0: math.Max(b.y0, c.y0), x1: math.Min(b.x1, c.x1), y1: math.Min(b.y1, c.y1), ok: true}
	if out.x1-out.x0 < 1 || out.y1-out.y0 < 1 {
		// A crop box outside the media box is broken: readers show the media box.
		return b
	}
	return out
}

// visible reports whether a glyph spanning x0..x1, y0..y1 touches the box.
func (b pageBox) visible(x0, y0, x1, y1 float64) bool {
	if !b.ok {
		return true
	}
	return x1 >= b.x0 && x0 <= b.x1 && y1 >= b.y0 && y0 <= b.y1
}

// visibleBox is the part of a page a viewer shows: the crop box within the
// media box.
func (d *doc) visibleBox(media, crop any) pageBox {
	return d.boxOf(media).intersect(d.boxOf(crop))
}

// pages walks the page tree, passing inherited resources down. A repaired file
// whose tree is unusable falls back to every object of type Page.
func (d *doc) pages() []leafPage {
	maxPages := d.limits.MaxPages
	if maxPages <= 0 {
		maxPages = 1 << 20
	}
	var out []leafPage
	seen := map[ref]bool{}
	// The boxes and the rotation are inherited as they are, and combined at the leaf.
	var walk func(v any, res dict, media, crop, rotate any, depth int)
	walk = func(v any, res dict, media, crop, rotate any, depth int) {
		if depth > 64 || len(out) > maxPages {
			return
		}
		if ref, ok := v.(ref); ok {
			if seen[ref] {
				return
			}
			seen[ref] = true
		}
		node, _ := d.resolve(v).(dict)
		if node == nil {
			return
		}
		if r, ok := d.resolve(node["Resources"]).(dict); ok {
			res = r
		}
		if v, ok := node["MediaBox"]; ok {
			media = v
		}
		if v, ok := node["CropBox"]; ok {
			crop = v
		}
		if v, ok := node["Rotate"]; ok {
			rotate = v
		}
		kids, hasKids := d.resolve(node["Kids"]).(array)
		if node["Type"] == name("Page") || !hasKids {
			if node["Type"] == name("Pages") {
				return
			}
			out = append(out, leafPage{dict: node, res: res, box: d.visibleBox(media, crop), rotate: d.rotation(rotate)})
			return
		}
		for _, k := range kids {
			walk(k, res, media, crop, rotate, depth+1)
		}
	}
	if cat, ok := d.resolve(d.trailer["Root"]).(dict); ok {
		walk(cat["Pages"], nil, nil, nil, nil, 0)
	}
	if len(out) > 0 {
		return out
	}
	if !d.scanned {
		d.scan()
	}
	nums := make([]int, 0, len(d.xref))
	for n := range d.xref {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for _, n := range nums {
		if p, ok := d.resolve(ref{num: n}).(dict); ok && p["Type"] == name("Page") {
			res, _ := d.resolve(p["Resources"]).(dict)
			out = append(out, leafPage{dict: p, res: res, box: d.visibleBox(p["MediaBox"], p["CropBox"]), rotate: d.rotation(p["Rotate"])})
			if len(out) > maxPages {
				break
			}
		}
	}
	return out
}

// rotation reads /Rotate as a quarter turn clockwise: 0, 90, 180 or 270. A value
// that is not a multiple of 90 is ignored, as viewers do.
func (d *doc) rotation(v any) int {
	r, ok := toInt(d.resolve(v))
	if !ok || r%90 != 0 {
		return 0
	}
	return ((r % 360) + 360) % 360
}

// pageContent decodes and concatenates a page's content streams. Streams that do
// not decode are skipped, since the rest of the page may still hold text; only
// exhausting the budget stops the document. held is what the content is charged.
func (d *doc) pageContent(page dict) ([]byte, int64, error) {
	var parts []any
	switch c := d.resolve(page["Contents"]).(type) {
	case *stream:
		parts = []any{c}
	case array:
		parts = c
	}
	buf := &chargedBuffer{d: d}
	for _, p := range parts {
		s, ok := d.resolve(p).(*stream)
		if !ok {
			continue
		}
		data, held, err := d.decodeStream(s)
		if err != nil {
			if stopsDocument(err) {
				buf.free()
				return nil, 0, err
			}
			continue
		}
		_, err = buf.Write(data)
		d.release(held)
		if err == nil {
			_, err = buf.Write([]byte{'\n'})
		}
		if err != nil {
			buf.free()
			return nil, 0, err
		}
	}
	return buf.buf, buf.held, nil
}

// title reads /Title from the document information dictionary; the caller
// cleans up its spacing.
func (d *doc) title() string {
	info, _ := d.resolve(d.trailer["Info"]).(dict)
	s, _ := d.resolve(info["Title"]).(str)
	return decodeTextString(s)
}

// decodeTextString decodes a PDF text string: UTF-16BE with a BOM, UTF-8 with a
// BOM (PDF 2.0), or PDFDocEncoding.
func decodeTextString(s []byte) string {
	switch {
	case len(s) >= 2 && s[0] == 0xFE && s[1] == 0xFF:
		u := utf16Units(s[2:])
		return string(utf16.Decode(u))
	case len(s) >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF:
		return string(s[3:])
	}
	out := make([]rune, 0, len(s))
	for _, c := range s {
		out = append(out, docEncodingRune(c))
	}
	return cleanGlyph(string(out))
}
