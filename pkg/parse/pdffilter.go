package parse

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"errors"
	"io"
)

// pdfMaxStream bounds one decoded stream; the document total is bounded by the
// budget's inflation limit.
const pdfMaxStream = 256 << 20

// errPDFImageFilter marks streams encoded for images, which hold no text.
var errPDFImageFilter = errors.New("image filter")

// decodeStream decrypts and decodes a stream's data, charging the decoded bytes to
// the inflation budget so a flate bomb inside a PDF stops like one inside a ZIP.
// What the result holds is charged to the memory budget as held; the caller
// releases it when done with the data (a stream without filters is a view of
// the file and holds nothing of its own).
func (d *pdfDoc) decodeStream(s *pdfStream) (data []byte, held int64, err error) {
	data = s.raw
	keep := func(out []byte) error {
		n := int64(cap(out))
		if err := d.b.retain(n, memPDFStreams); err != nil {
			return err
		}
		d.release(held)
		data, held = out, n
		return nil
	}
	fail := func(err error) ([]byte, int64, error) {
		d.release(held)
		return nil, 0, err
	}
	if d.crypt != nil && s.dict["Type"] != pdfName("XRef") {
		if err := keep(d.crypt.decryptStream(data, s.ref, s.dict)); err != nil {
			return fail(err)
		}
	}
	filters, parms := pdfFilters(d.resolve(s.dict["Filter"]), d.resolve(s.dict["DecodeParms"]))
	for i, f := range filters {
		var p pdfDict
		if i < len(parms) {
			p, _ = d.resolve(parms[i]).(pdfDict)
		}
		out, outHeld, err := d.applyFilter(f, data, p)
		if err != nil {
			return fail(err)
		}
		d.release(held)
		data, held = out, outHeld
	}
	return data, held, nil
}

func pdfFilters(f, p any) ([]pdfName, []any) {
	var names []pdfName
	var parms []any
	switch v := f.(type) {
	case pdfName:
		names = []pdfName{v}
		parms = []any{p}
	case pdfArray:
		for _, x := range v {
			if n, ok := x.(pdfName); ok {
				names = append(names, n)
			}
		}
		if pa, ok := p.(pdfArray); ok {
			parms = pa
		}
	}
	return names, parms
}

// applyFilter decodes data with one filter; held is what the output is charged.
func (d *pdfDoc) applyFilter(name pdfName, data []byte, parms pdfDict) (out []byte, held int64, err error) {
	switch name {
	case "FlateDecode", "Fl":
		out, held, err = d.inflate(data)
	case "LZWDecode", "LZW":
		early := 1
		if v, ok := pdfInt(parms["EarlyChange"]); ok {
			early = v
		}
		out, err = pdfLZW(data, early == 1, d.remaining())
	case "ASCIIHexDecode", "AHx":
		l := &pdfLexer{data: append(append([]byte{}, data...), '>')}
		out = l.hexString()
	case "ASCII85Decode", "A85":
		out = pdfASCII85(data)
	case "RunLengthDecode", "RL":
		out = pdfRunLength(data, d.remaining())
	case "Crypt":
		out = data
	case "DCTDecode", "DCT", "JPXDecode", "CCITTFaxDecode", "CCF", "JBIG2Decode":
		return nil, 0, errPDFImageFilter
	default:
		return nil, 0, errors.New("unknown filter " + string(name))
	}
	if err != nil {
		return nil, 0, err
	}
	if held == 0 && name != "Crypt" {
		// Filters that build their output in one go are charged once it is built;
		// their output is bounded by remaining().
		held = int64(cap(out))
		if err := d.b.retain(held, memPDFStreams); err != nil {
			return nil, 0, err
		}
	}
	if err := d.b.addInflated(len(out)); err != nil {
		d.release(held)
		return nil, 0, err
	}
	if parms != nil && (name == "FlateDecode" || name == "Fl" || name == "LZWDecode" || name == "LZW") {
		pred, err := pdfPredict(out, parms)
		if err != nil {
			d.release(held)
			return nil, 0, err
		}
		if sameArray(pred, out) {
			return pred, held, nil
		}
		d.release(held)
		held = int64(cap(pred))
		if err := d.b.retain(held, memPDFStreams); err != nil {
			return nil, 0, err
		}
		return pred, held, nil
	}
	return out, held, nil
}

// sameArray reports whether a and b share their backing array.
func sameArray(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:cap(a)][cap(a)-1] == &b[:cap(b)][cap(b)-1]
}

// remaining is how many more decoded bytes the budgets allow one stream: the
// inflation budget, and half the memory budget left, since a stream is built
// in memory whole.
func (d *pdfDoc) remaining() int64 {
	left := min(int64(pdfMaxStream), d.b.memLeft()/2)
	if lim := d.b.limits.MaxInflatedBytes; lim > 0 {
		left = min(left, lim-d.b.inflated+1)
	}
	return max(left, 0)
}

// inflate decodes zlib data. Damaged streams are common: whatever decodes before
// the damage is kept, and a missing zlib header is tolerated. The output is
// charged as it grows.
func (d *pdfDoc) inflate(data []byte) ([]byte, int64, error) {
	limit := int64(pdfMaxStream)
	if lim := d.b.limits.MaxInflatedBytes; lim > 0 {
		limit = max(min(limit, lim-d.b.inflated+1), 0)
	}
	var r io.Reader
	if zr, err := zlib.NewReader(bytes.NewReader(data)); err == nil {
		r = zr
	} else if len(data) > 2 {
		r = flate.NewReader(bytes.NewReader(data[2:]))
	} else {
		return nil, 0, err
	}
	buf := &pdfBuf{d: d}
	n, err := io.Copy(buf, io.LimitReader(r, limit+1))
	var pe *Error
	if errors.As(err, &pe) {
		buf.free()
		return nil, 0, pe
	}
	if n > limit {
		buf.free()
		return nil, 0, Errorf(CodeTooLarge, "a PDF stream inflates past %d bytes (decompression bomb)", limit)
	}
	if err != nil && len(buf.buf) == 0 {
		// Some writers emit raw deflate without the zlib header.
		buf.free()
		fr := flate.NewReader(bytes.NewReader(data))
		n, err = io.Copy(buf, io.LimitReader(fr, limit+1))
		if errors.As(err, &pe) {
			buf.free()
			return nil, 0, pe
		}
		if n > limit {
			buf.free()
			return nil, 0, Errorf(CodeTooLarge, "a PDF stream inflates past %d bytes (decompression bomb)", limit)
		}
	}
	if buf.buf == nil {
		return []byte{}, 0, nil
	}
	return buf.buf, buf.held, nil
}

// pdfPredict undoes PNG (10-15) and TIFF (2) predictors, used by xref streams.
func pdfPredict(data []byte, p pdfDict) ([]byte, error) {
	pred, _ := pdfInt(p["Predictor"])
	if pred < 2 {
		return data, nil
	}
	colors, bpc, cols := 1, 8, 1
	if v, ok := pdfInt(p["Colors"]); ok && v > 0 && v < 64 {
		colors = v
	}
	if v, ok := pdfInt(p["BitsPerComponent"]); ok && v > 0 && v <= 16 {
		bpc = v
	}
	if v, ok := pdfInt(p["Columns"]); ok && v > 0 && v < 1<<20 {
		cols = v
	}
	bpp := max(1, (colors*bpc+7)/8)
	rowLen := (colors*bpc*cols + 7) / 8
	if pred == 2 {
		if bpc != 8 {
			return data, nil
		}
		out := append([]byte{}, data...)
		for r := 0; r+rowLen <= len(out); r += rowLen {
			for i := bpp; i < rowLen; i++ {
				out[r+i] += out[r+i-bpp]
			}
		}
		return out, nil
	}
	out := make([]byte, 0, len(data))
	prev := make([]byte, rowLen)
	for pos := 0; pos+1 <= len(data); pos += rowLen + 1 {
		ft := data[pos]
		row := make([]byte, rowLen)
		copy(row, data[pos+1:min(len(data), pos+1+rowLen)])
		for i := range rowLen {
			var left, up, ul byte
			if i >= bpp {
				left = row[i-bpp]
				ul = prev[i-bpp]
			}
			up = prev[i]
			switch ft {
			case 1:
				row[i] += left
			case 2:
				row[i] += up
			case 3:
				row[i] += byte((int(left) + int(up)) / 2)
			case 4:
				row[i] += pdfPaeth(left, up, ul)
			}
		}
		out = append(out, row...)
		prev = row
	}
	return out, nil
}

func pdfPaeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := pdfAbs(p-int(a)), pdfAbs(p-int(b)), pdfAbs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func pdfAbs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func pdfASCII85(data []byte) []byte {
	var out []byte
	var group [5]byte
	n := 0
	for _, c := range data {
		switch {
		case c == '~':
			goto done
		case c == 'z' && n == 0:
			out = append(out, 0, 0, 0, 0)
			continue
		case c < '!' || c > 'u':
			continue
		}
		group[n] = c - '!'
		n++
		if n == 5 {
			var v uint32
			for _, g := range group {
				v = v*85 + uint32(g)
			}
			out = append(out, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
			n = 0
		}
	}
done:
	if n > 1 {
		for i := n; i < 5; i++ {
			group[i] = 84
		}
		var v uint32
		for _, g := range group {
			v = v*85 + uint32(g)
		}
		b := []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
		out = append(out, b[:n-1]...)
	}
	return out
}

func pdfRunLength(data []byte, limit int64) []byte {
	var out []byte
	for i := 0; i < len(data) && int64(len(out)) <= limit; {
		n := int(data[i])
		i++
		switch {
		case n < 128:
			end := min(len(data), i+n+1)
			out = append(out, data[i:end]...)
			i = end
		case n > 128:
			if i < len(data) {
				out = append(out, bytes.Repeat(data[i:i+1], 257-n)...)
			}
			i++
		default:
			return out
		}
	}
	return out
}

// pdfLZW decodes LZW as PDF uses it (MSB first, optional early change), which
// compress/lzw does not support.
func pdfLZW(data []byte, early bool, limit int64) ([]byte, error) {
	var out []byte
	dict := make([][]byte, 258, 4096)
	reset := func() {
		dict = dict[:258]
		for i := range 256 {
			dict[i] = []byte{byte(i)}
		}
	}
	reset()
	width := 9
	var bitBuf uint32
	bits := 0
	var prev []byte
	for _, c := range data {
		bitBuf = bitBuf<<8 | uint32(c)
		bits += 8
		for bits >= width {
			code := int(bitBuf>>(bits-width)) & (1<<width - 1)
			bits -= width
			switch {
			case code == 256:
				reset()
				width, prev = 9, nil
				continue
			case code == 257:
				return out, nil
			}
			var entry []byte
			switch {
			case code < len(dict):
				entry = dict[code]
			case code == len(dict) && prev != nil:
				entry = append(append([]byte{}, prev...), prev[0])
			default:
				return out, nil
			}
			out = append(out, entry...)
			if int64(len(out)) > limit {
				return nil, Errorf(CodeTooLarge, "a PDF stream inflates past %d bytes (decompression bomb)", limit)
			}
			if prev != nil && len(dict) < 4096 {
				dict = append(dict, append(append([]byte{}, prev...), entry[0]))
			}
			prev = entry
			n := len(dict)
			if early {
				n++
			}
			switch {
			case n >= 2048:
				width = 12
			case n >= 1024:
				width = 11
			case n >= 512:
				width = 10
			}
		}
	}
	return out, nil
}
