package pdf

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"errors"
	"io"
)

// maxStream bounds one decoded stream; the document total is bounded by the
// budget's inflation limit.
const maxStream = 256 << 20

// errImageFilter marks streams encoded for images, which hold no text.
var errImageFilter = errors.New("image filter")

// decodeStream decrypts and decodes a stream's data, charging the decoded bytes to
// the inflation budget so a flate bomb inside a PDF stops like one inside a ZIP.
// What the result holds is charged to the memory budget as held; the caller
// releases it when done with the data (a stream without filters is a view of
// the file and holds nothing of its own).
func (d *doc) decodeStream(s *stream) (data []byte, held int64, err error) {
	data, held, _, _, err = d.decodeFilters(s, false)
	return data, held, err
}

// decodeImageStream decodes an image XObject's data up to its image filter
// (DCTDecode, CCITTFaxDecode, ...), which it returns with its parameters for
// the image reader to apply; filter is empty when the data are samples.
func (d *doc) decodeImageStream(s *stream) (data []byte, held int64, filter name, parms dict, err error) {
	return d.decodeFilters(s, true)
}

// decodeFilters is decodeStream, stopping at a final image filter when image is set.
func (d *doc) decodeFilters(s *stream, image bool) (data []byte, held int64, imageFilter name, imageParms dict, err error) {
	data = s.raw
	keep := func(out []byte) error {
		n := int64(cap(out))
		if err := d.charge(n, UseStreams); err != nil {
			return err
		}
		d.release(held)
		data, held = out, n
		return nil
	}
	fail := func(err error) ([]byte, int64, name, dict, error) {
		d.release(held)
		return nil, 0, "", nil, err
	}
	if d.crypt != nil && s.dict["Type"] != name("XRef") {
		if err := keep(d.crypt.decryptStream(data, s.ref, s.dict)); err != nil {
			return fail(err)
		}
	}
	filters, parms := filtersOf(d.resolve(s.dict["Filter"]), d.resolve(s.dict["DecodeParms"]))
	for i, f := range filters {
		var p dict
		if i < len(parms) {
			p, _ = d.resolve(parms[i]).(dict)
		}
		if image && i == len(filters)-1 && imageFilters[f] {
			return data, held, f, p, nil
		}
		out, outHeld, err := d.applyFilter(f, data, p)
		if err != nil {
			return fail(err)
		}
		d.release(held)
		data, held = out, outHeld
	}
	return data, held, "", nil, nil
}

// imageFilters are the filters whose output is an image, not bytes to read on.
var imageFilters = map[name]bool{"DCTDecode": true, "DCT": true, "JPXDecode": true,
	"CCITTFaxDecode": true, "CCF": true, "JBIG2Decode": true}

func filtersOf(f, p any) ([]name, []any) {
	var names []name
	var parms []any
	switch v := f.(type) {
	case name:
		names = []name{v}
		parms = []any{p}
	case array:
		for _, x := range v {
			if n, ok := x.(name); ok {
				names = append(names, n)
			}
		}
		if pa, ok := p.(array); ok {
			parms = pa
		}
	}
	return names, parms
}

// applyFilter decodes data with one filter; held is what the output is charged.
func (d *doc) applyFilter(filter name, data []byte, parms dict) (out []byte, held int64, err error) {
	switch filter {
	case "FlateDecode", "Fl":
		out, held, err = d.inflate(data)
	case "LZWDecode", "LZW":
		early := 1
		if v, ok := toInt(parms["EarlyChange"]); ok {
			early = v
		}
		out, err = decodeLZW(data, early == 1, d.remaining())
	case "ASCIIHexDecode", "AHx":
		l := &lexer{data: append(append([]byte{}, data...), '>')}
		out = l.hexString()
	case "ASCII85Decode", "A85":
		out = decodeASCII85(data)
	case "RunLengthDecode", "RL":
		out = decodeRunLength(data, d.remaining())
	case "Crypt":
		out = data
	case "DCTDecode", "DCT", "JPXDecode", "CCITTFaxDecode", "CCF", "JBIG2Decode":
		return nil, 0, errImageFilter
	default:
		return nil, 0, errors.New("unknown filter " + string(filter))
	}
	if err != nil {
		return nil, 0, err
	}
	if held == 0 && filter != "Crypt" {
		// Filters that build their output in one go are charged once it is built;
		// their output is bounded by remaining().
		held = int64(cap(out))
		if err := d.charge(held, UseStreams); err != nil {
			return nil, 0, err
		}
	}
	if err := d.addInflated(len(out)); err != nil {
		d.release(held)
		return nil, 0, err
	}
	if parms != nil && (filter == "FlateDecode" || filter == "Fl" || filter == "LZWDecode" || filter == "LZW") {
		pred, err := unpredict(out, parms)
		if err != nil {
			d.release(held)
			return nil, 0, err
		}
		if sameArray(pred, out) {
			return pred, held, nil
		}
		d.release(held)
		held = int64(cap(pred))
		if err := d.charge(held, UseStreams); err != nil {
			return nil, 0, err
		}
		return pred, held, nil
	}
	return out, held, nil
}

// addInflated records n decoded bytes and fails once the document's total
// passes the inflation limit. The message is the one every format reports for
// a decompression bomb.
func (d *doc) addInflated(n int) error {
	d.inflated += int64(n)
	if lim := d.limits.MaxInflatedBytes; lim > 0 && d.inflated > lim {
		return errorf(KindTooLarge, "the archive inflates to more than %d bytes (decompression bomb)", lim)
	}
	return nil
}

// sameArray reports whether a and b share their backing array.
func sameArray(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:cap(a)][cap(a)-1] == &b[:cap(b)][cap(b)-1]
}

// remaining is how many more decoded bytes the budgets allow one stream: the
// inflation budget, and half the memory budget left, since a stream is built
// in memory whole.
func (d *doc) remaining() int64 {
	left := min(int64(maxStream), d.budget.Left()/2)
	if lim := d.limits.MaxInflatedBytes; lim > 0 {
		left = min(left, lim-d.inflated+1)
	}
	return max(left, 0)
}

// inflate decodes zlib data. Damaged streams are common: whatever decodes before
// the damage is kept, and a missing zlib header is tolerated. The output is
// charged as it grows.
func (d *doc) inflate(data []byte) ([]byte, int64, error) {
	limit := int64(maxStream)
	if lim := d.limits.MaxInflatedBytes; lim > 0 {
		limit = max(min(limit, lim-d.inflated+1), 0)
	}
	var r io.Reader
	if zr, err := zlib.NewReader(bytes.NewReader(data)); err == nil {
		r = zr
	} else if len(data) > 2 {
		r = flate.NewReader(bytes.NewReader(data[2:]))
	} else {
		return nil, 0, err
	}
	buf := &chargedBuffer{d: d}
	n, err := io.Copy(buf, io.LimitReader(r, limit+1))
	if stopsDocument(err) {
		buf.free()
		return nil, 0, err
	}
	if n > limit {
		buf.free()
		return nil, 0, errorf(KindTooLarge, "a PDF stream inflates past %d bytes (decompression bomb)", limit)
	}
	if err != nil && len(buf.buf) == 0 {
		// Some writers emit raw deflate without the zlib header.
		buf.free()
		fr := flate.NewReader(bytes.NewReader(data))
		n, err = io.Copy(buf, io.LimitReader(fr, limit+1))
		if stopsDocument(err) {
			buf.free()
			return nil, 0, err
		}
		if n > limit {
			buf.free()
			return nil, 0, errorf(KindTooLarge, "a PDF stream inflates past %d bytes (decompression bomb)", limit)
		}
	}
	if buf.buf == nil {
		return []byte{}, 0, nil
	}
	return buf.buf, buf.held, nil
}
