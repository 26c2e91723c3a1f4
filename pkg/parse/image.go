package parse

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/youworker/youworker/pkg/parse/internal/picture"
)

// Bounds on an uploaded picture: a 600 dpi scan of an A3 page is 7016 × 9921
// pixels, a phone's photograph 12 to 50 million.
const (
	maxImageSide   = 32768
	maxImagePixels = 100 << 20
)

// readWhole reads a file the image readers hold whole, charged to the budget.
func readWhole(r io.ReaderAt, size int64, b *budget) ([]byte, error) {
	if err := b.retain(size, memFile); err != nil {
		return nil, err
	}
	data := make([]byte, size)
	if n, err := r.ReadAt(data, 0); int64(n) != size && err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read the picture: %w", err)
	}
	return data, nil
}

// parseImage reads a PNG, JPEG or WebP picture: one page, for OCR to read. The
// picture is decoded whole, so a broken one fails here rather than at the OCR;
// PNG and upright JPEG go on as they are, others as PNG (a turned photograph
// as JPEG).
func parseImage(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	data, err := readWhole(r, size, b)
	if err != nil {
		return nil, err
	}
	type codec struct {
		name   string
		config func(io.Reader) (image.Config, error)
		decode func(io.Reader) (image.Image, error)
	}
	var c codec
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG")):
		c = codec{"PNG", png.DecodeConfig, png.Decode}
	case bytes.HasPrefix(data, []byte("\xFF\xD8\xFF")):
		c = codec{"JPEG", jpeg.DecodeConfig, jpeg.Decode}
	default:
		c = codec{"WebP", webp.DecodeConfig, webp.Decode}
	}
	cfg, err := c.config(bytes.NewReader(data))
	if err != nil {
		return nil, Errorf(CodeCorrupt, "the file could not be read as a %s picture", c.name)
	}
	if err := b.imageFits(cfg); err != nil {
		return nil, err
	}
	img, err := c.decode(bytes.NewReader(data))
	if err != nil {
		return nil, Errorf(CodeCorrupt, "the file could not be read as a %s picture", c.name)
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	o := picture.Upright
	if c.name == "JPEG" {
		o = picture.FromTag(exifOrientation(data))
	}
	var out Image
	_, cmyk := img.(*image.CMYK)
	switch {
	case c.name == "PNG" || c.name == "JPEG" && o == picture.Upright && !cmyk:
		out = Image{MIME: "image/" + map[string]string{"PNG": "png", "JPEG": "jpeg"}[c.name], Data: data, Width: cfg.Width, Height: cfg.Height}
	default:
		out, err = b.encodePicture(img, o, c.name == "JPEG")
		if err != nil {
			return nil, err
		}
	}
	return &Document{Pages: 1, Scans: []Scan{{Page: 1, Images: []Image{out}}}}, nil
}

// imageFits fails a picture over the size bounds or the memory budget, charging
// what decoding it holds: up to eight bytes a pixel.
func (b *budget) imageFits(cfg image.Config) error {
	if cfg.Width < 1 || cfg.Height < 1 {
		return Errorf(CodeCorrupt, "the picture has no pixels")
	}
	if cfg.Width > maxImageSide || cfg.Height > maxImageSide || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return Errorf(CodeTooLarge, "the picture is %d × %d pixels, more than the %d million pixels (and %d on a side) read",
			cfg.Width, cfg.Height, maxImagePixels>>20, maxImageSide)
	}
	return b.retain(int64(cfg.Width)*int64(cfg.Height)*pixelBytes(cfg.ColorModel), memImages)
}

// pixelBytes is what a decoder holds per pixel of a picture in model m.
func pixelBytes(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4
}

// encodePicture turns img upright and encodes it: as JPEG when it was a
// photograph (asJPEG), else as PNG.
func (b *budget) encodePicture(img image.Image, o picture.Orientation, asJPEG bool) (Image, error) {
	bounds := img.Bounds()
	// Laid out, then turned: two copies of up to four bytes a pixel.
	cost := int64(bounds.Dx()) * int64(bounds.Dy()) * 8
	if err := b.retain(cost, memImages); err != nil {
		return Image{}, err
	}
	defer b.release(cost)
	pix, w, h, bpp := picture.Pixels(img)
	if o != picture.Upright {
		turned := make([]byte, len(pix))
		picture.Turn(turned, pix, w, h, bpp, o)
		pix = turned
		w, h = o.Size(w, h)
	}
	var buf bytes.Buffer
	out := Image{MIME: "image/png", Width: w, Height: h}
	var err error
	if asJPEG {
		out.MIME = "image/jpeg"
		err = jpeg.Encode(&buf, picture.Image(pix, w, h, bpp, false), &jpeg.Options{Quality: 92})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, picture.Image(pix, w, h, bpp, false))
	}
	if err != nil {
		return Image{}, fmt.Errorf("encode the picture: %w", err)
	}
	if err := b.retain(int64(buf.Len()), memImages); err != nil {
		return Image{}, err
	}
	out.Data = buf.Bytes()
	return out, nil
}

// exifOrientation reads the Orientation tag of a JPEG's EXIF data: how a
// camera held sideways says which way up the photograph goes. 1 (upright)
// when there is none.
func exifOrientation(jpg []byte) int {
	for i := 2; i+4 <= len(jpg); {
		if jpg[i] != 0xFF {
			return 1
		}
		marker, n := jpg[i+1], int(binary.BigEndian.Uint16(jpg[i+2:]))
		if marker == 0xDA || n < 2 { // the image data: no more metadata
			return 1
		}
		seg := jpg[i+4 : min(len(jpg), i+2+n)]
		if marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return tiffOrientation(seg[6:], 0)
		}
		i += 2 + n
	}
	return 1
}

// tiffOrientation reads the Orientation tag (274) of the IFD at off of TIFF
// data (off 0: the first IFD); 1 when it has none.
func tiffOrientation(t []byte, off uint32) int {
	order, ok := tiffOrder(t)
	if !ok {
		return 1
	}
	if off == 0 {
		off = order.Uint32(t[4:])
	}
	if int64(off)+2 > int64(len(t)) {
		return 1
	}
	count := int(order.Uint16(t[off:]))
	for e := range count {
		at := int(off) + 2 + 12*e
		if at+12 > len(t) {
			break
		}
		if order.Uint16(t[at:]) == 274 && order.Uint16(t[at+2:]) == 3 { // SHORT
			return int(order.Uint16(t[at+8:]))
		}
	}
	return 1
}

// tiffOrder is the byte order a TIFF header declares.
func tiffOrder(t []byte) (binary.ByteOrder, bool) {
	switch {
	case len(t) < 8:
		return nil, false
	case string(t[:4]) == "II*\x00":
		return binary.LittleEndian, true
	case string(t[:4]) == "MM\x00*":
		return binary.BigEndian, true
	}
	return nil, false
}

// parseTIFF reads every page of a TIFF (a fax, a scanner's multi-page file) as
// a picture for OCR. A page that does not decode is left out; a file of which
// none decodes is corrupt.
func parseTIFF(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	data, err := readWhole(r, size, b)
	if err != nil {
		return nil, err
	}
	order, ok := tiffOrder(data)
	if !ok {
		return nil, Errorf(CodeCorrupt, "the file could not be read as a TIFF picture")
	}
	offsets, err := tiffPages(data, order, b.limits.MaxPages)
	if err != nil {
		return nil, err
	}
	doc := &Document{Pages: len(offsets)}
	var firstErr error
	for i, off := range offsets {
		if err := b.check(); err != nil {
			return nil, err
		}
		page := tiffPage{data: data, order: order, first: off}
		img, err := b.tiffImage(page)
		var pe *Error
		if errors.As(err, &pe) && pe.Code == CodeTooLarge || b.over != nil {
			return nil, err
		}
		if err != nil {
			firstErr = cmp(firstErr, err)
			continue
		}
		doc.Scans = append(doc.Scans, Scan{Page: i + 1, Images: []Image{img}})
	}
	if len(doc.Scans) == 0 {
		return nil, &Error{Code: CodeCorrupt, Message: "no page of the TIFF picture could be read", Err: firstErr}
	}
	return doc, nil
}

// cmp keeps the first error.
func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// tiffImage decodes one page and encodes it as PNG, upright.
func (b *budget) tiffImage(page tiffPage) (Image, error) {
	cfg, err := tiff.DecodeConfig(page.reader())
	if err != nil {
		return Image{}, err
	}
	if err := b.imageFits(cfg); err != nil {
		return Image{}, err
	}
	img, err := tiff.Decode(page.reader())
	if err != nil {
		return Image{}, err
	}
	return b.encodePicture(img, picture.FromTag(tiffOrientation(page.data, page.first)), false)
}

// maxIFDEntries bounds the entries of one TIFF directory (a real one has a few dozen).
const maxIFDEntries = 4096

// tiffPages follows the chain of image file directories, one a page, and returns
// their offsets; a chain that loops or leaves the file ends there.
func tiffPages(data []byte, order binary.ByteOrder, maxPages int) ([]uint32, error) {
	if order.Uint16(data[2:]) == 43 {
		return nil, Errorf(CodeUnsupported, "BigTIFF pictures are not supported")
	}
	var out []uint32
	seen := map[uint32]bool{}
	for off := order.Uint32(data[4:]); off >= 8 && int64(off)+2 <= int64(len(data)) && !seen[off]; {
		seen[off] = true
		n := int(order.Uint16(data[off:]))
		next := int64(off) + 2 + 12*int64(n)
		if n == 0 || n > maxIFDEntries || next+4 > int64(len(data)) {
			break
		}
		if maxPages > 0 && len(out) >= maxPages {
			return nil, Errorf(CodeTooLarge, "the picture has more than %d pages", maxPages)
		}
		out = append(out, off)
		off = order.Uint32(data[next:])
	}
	if len(out) == 0 {
		return nil, Errorf(CodeCorrupt, "the TIFF picture has no pages")
	}
	return out, nil
}

// tiffPage is a TIFF file read as if the directory at first were its first:
// the TIFF decoder reads only the first page.
type tiffPage struct {
	data  []byte
	order binary.ByteOrder
	first uint32
}

func (p tiffPage) reader() io.Reader {
	return io.NewSectionReader(p, 0, int64(len(p.data)))
}

// ReadAt reads the file with the header's offset of the first directory replaced.
func (p tiffPage) ReadAt(buf []byte, off int64) (int, error) {
	if off >= int64(len(p.data)) {
		return 0, io.EOF
	}
	n := copy(buf, p.data[off:])
	var head [4]byte
	p.order.PutUint32(head[:], p.first)
	for i := range 4 {
		if at := int64(4+i) - off; at >= 0 && at < int64(n) {
			buf[at] = head[i]
		}
	}
	if n < len(buf) {
		return n, io.EOF
	}
	return n, nil
}
