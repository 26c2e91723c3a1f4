package parse

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"sort"
	"unicode/utf16"
)

// pdfMaxFile bounds the PDF read into memory when no inflation limit is set.
const pdfMaxFile = 1 << 30

// pdfPage is a leaf of the page tree with its inherited resources.
type pdfPage struct {
	dict pdfDict
	res  pdfDict
}

func parsePDF(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	limit := int64(pdfMaxFile)
	if b.limits.MaxInflatedBytes > 0 {
		limit = min(limit, b.limits.MaxInflatedBytes)
	}
	if size > limit {
		return nil, Errorf(CodeTooLarge, "the PDF is larger than %d bytes", limit)
	}
	if size <= 0 {
		return nil, Errorf(CodeEmpty, "the file is empty")
	}
	// Objects are found by offset anywhere in the file: it is held whole.
	if err := b.retain(size, memFile); err != nil {
		return nil, err
	}
	data := make([]byte, size)
	if n, err := r.ReadAt(data, 0); int64(n) != size && err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{Code: CodeCorrupt, Message: "the PDF could not be read", Err: err}
	}
	if i := bytes.Index(data[:min(len(data), 1024)], []byte("%PDF")); i < 0 {
		return nil, Errorf(CodeCorrupt, "the file is not a PDF (no %%PDF header)")
	}
	d := newPDFDoc(data, b)
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
		return nil, Errorf(CodeCorrupt, "the PDF has no readable pages")
	}
	if lim := b.limits.MaxPages; lim > 0 && len(pages) > lim {
		return nil, Errorf(CodeTooLarge, "the PDF has more than %d pages", lim)
	}
	var paras []pdfParagraph
	parasHeld := int64(0)
	defer func() { b.release(parasHeld) }()
	in := &pdfInterp{d: d, fonts: map[any]*pdfFont{}, forms: map[pdfRef]bool{}, maxOps: 50_000_000}
	for i, p := range pages {
		if err := d.failed(); err != nil {
			return nil, err
		}
		in.dropRuns()
		content, held, err := d.pageContent(p.dict)
		if err != nil {
			return nil, err
		}
		gs := pdfGState{ctm: pdfIdentity(), th: 1}
		err = in.run(content, p.res, gs, 0)
		d.release(held)
		if err == nil {
			err = d.failed()
		}
		if err != nil {
			return nil, err
		}
		// Text is charged when blocks are added below; stop early on a text bomb.
		if lim := b.limits.MaxTextBytes; lim > 0 && int64(in.chars) > lim {
			return nil, Errorf(CodeTooLarge, "the document has more than %d bytes of text", lim)
		}
		for _, para := range pdfParagraphs(pdfPageLines(in.runs), i+1) {
			cost := stringCost(len(para.text)) + 48
			if err := b.retain(cost, memPDFText); err != nil {
				return nil, err
			}
			parasHeld += cost
			paras = append(paras, para)
		}
	}
	in.dropRuns()
	out := &blockSink{b: b}
	levels := pdfHeadingLevels(paras)
	for _, p := range paras {
		blk := Block{Kind: KindParagraph, Text: p.text, Page: p.page}
		if lvl := levels(p); lvl > 0 {
			blk.Kind, blk.Level = KindHeading, lvl
		} else if p.list {
			blk.Kind, blk.Level = KindListItem, 1
		}
		if err := out.add(blk); err != nil {
			return nil, err
		}
	}
	title := d.title()
	if err := d.failed(); err != nil {
		return nil, err
	}
	return &Document{Blocks: out.blocks, Pages: len(pages), Title: title}, nil
}

// pdfHeadingLevels returns a classifier that calls a short paragraph set in a
// clearly larger font than the body text a heading, ranked by size.
func pdfHeadingLevels(paras []pdfParagraph) func(pdfParagraph) int {
	weight := map[float64]int{}
	for _, p := range paras {
		weight[math.Round(p.size*2)/2] += len(p.text)
	}
	body, best := 0.0, -1
	for s, w := range weight {
		if w > best || (w == best && s < body) {
			body, best = s, w
		}
	}
	isHeading := func(p pdfParagraph) bool {
		return body > 0 && p.size >= 1.15*body && len(p.text) <= 200 && !p.list
	}
	var sizes []float64
	seen := map[float64]bool{}
	for _, p := range paras {
		s := math.Round(p.size*2) / 2
		if isHeading(p) && !seen[s] {
			seen[s] = true
			sizes = append(sizes, s)
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(sizes)))
	return func(p pdfParagraph) int {
		if !isHeading(p) {
			return 0
		}
		s := math.Round(p.size*2) / 2
		for i, v := range sizes {
			if v == s {
				return min(i+1, 3)
			}
		}
		return 3
	}
}

// pages walks the page tree, passing inherited resources down. A repaired file
// whose tree is unusable falls back to every object of type Page.
func (d *pdfDoc) pages() []pdfPage {
	maxPages := d.b.limits.MaxPages
	if maxPages <= 0 {
		maxPages = 1 << 20
	}
	var out []pdfPage
	seen := map[pdfRef]bool{}
	var walk func(v any, res pdfDict, depth int)
	walk = func(v any, res pdfDict, depth int) {
		if depth > 64 || len(out) > maxPages {
			return
		}
		if ref, ok := v.(pdfRef); ok {
			if seen[ref] {
				return
			}
			seen[ref] = true
		}
		node, _ := d.resolve(v).(pdfDict)
		if node == nil {
			return
		}
		if r, ok := d.resolve(node["Resources"]).(pdfDict); ok {
			res = r
		}
		kids, hasKids := d.resolve(node["Kids"]).(pdfArray)
		if node["Type"] == pdfName("Page") || !hasKids {
			if node["Type"] == pdfName("Pages") {
				return
			}
			out = append(out, pdfPage{dict: node, res: res})
			return
		}
		for _, k := range kids {
			walk(k, res, depth+1)
		}
	}
	if cat, ok := d.resolve(d.trailer["Root"]).(pdfDict); ok {
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
		if p, ok := d.resolve(pdfRef{num: n}).(pdfDict); ok && p["Type"] == pdfName("Page") {
			res, _ := d.resolve(p["Resources"]).(pdfDict)
			out = append(out, pdfPage{dict: p, res: res})
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
func (d *pdfDoc) pageContent(page pdfDict) ([]byte, int64, error) {
	var parts []any
	switch c := d.resolve(page["Contents"]).(type) {
	case *pdfStream:
		parts = []any{c}
	case pdfArray:
		parts = c
	}
	buf := &pdfBuf{d: d}
	for _, p := range parts {
		s, ok := d.resolve(p).(*pdfStream)
		if !ok {
			continue
		}
		data, held, err := d.decodeStream(s)
		if err != nil {
			if CodeOf(err) == CodeTooLarge {
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

// failed returns why the parse must stop: cancellation, or the memory budget
// exhausted somewhere a failure would otherwise pass for a broken object.
func (d *pdfDoc) failed() error {
	if err := d.b.check(); err != nil {
		return err
	}
	if d.b.over != nil {
		return d.b.over
	}
	return nil
}

// title reads /Title from the document information dictionary.
func (d *pdfDoc) title() string {
	info, _ := d.resolve(d.trailer["Info"]).(pdfDict)
	s, _ := d.resolve(info["Title"]).(pdfString)
	return squashSpace(pdfTextString(s))
}

// pdfTextString decodes a PDF text string: UTF-16BE with a BOM, UTF-8 with a
// BOM (PDF 2.0), or PDFDocEncoding.
func pdfTextString(s []byte) string {
	switch {
	case len(s) >= 2 && s[0] == 0xFE && s[1] == 0xFF:
		u := pdfUTF16(s[2:])
		return string(utf16.Decode(u))
	case len(s) >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF:
		return string(s[3:])
	}
	out := make([]rune, 0, len(s))
	for _, c := range s {
		out = append(out, pdfDocRune(c))
	}
	return pdfCleanGlyph(string(out))
}
