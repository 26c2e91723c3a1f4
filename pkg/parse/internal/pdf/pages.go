package pdf

import (
	"sort"
	"unicode/utf16"
)

// leafPage is a leaf of the page tree with its inherited resources.
type leafPage struct {
	dict dict
	res  dict
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
	var walk func(v any, res dict, depth int)
	walk = func(v any, res dict, depth int) {
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
		kids, hasKids := d.resolve(node["Kids"]).(array)
		if node["Type"] == name("Page") || !hasKids {
			if node["Type"] == name("Pages") {
				return
			}
			out = append(out, leafPage{dict: node, res: res})
			return
		}
		for _, k := range kids {
			walk(k, res, depth+1)
		}
	}
	if cat, ok := d.resolve(d.trailer["Root"]).(dict); ok {
		walk(cat["Pages"], nil, 0)
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
			out = append(out, leafPage{dict: p, res: res})
			if len(out) > maxPages {
				break
			}
		}
	}
	return out
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
