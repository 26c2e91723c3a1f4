package pdf

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"sort"

	"golang.org/x/image/ccitt"

	"github.com/youworker/youworker/pkg/parse/internal/picture"
)

// Image is a picture of a page, encoded for a reader of pictures (OCR).
type Image struct {
	// MIME is "image/png" or "image/jpeg".
	MIME string
	// Data is the encoded picture.
	Data []byte
	// Width and Height are its size in pixels, upright as the page is shown.
	Width, Height int
}

// Scan is a page without text whose pictures may hold it: a scanned page.
type Scan struct {
	// Page is the 1-based page number.
	Page int
	// Images are the page's largest pictures, top to bottom.
	Images []Image
}

// Bounds on the pictures of one page. A scan at 600 dpi of an A3 page is
// 7016 × 9921 pixels; smaller pictures than minImageSide are ornaments.
const (
	maxPlacedImages = 64
	maxScanImages   = 8
	minImageSide    = 16
	maxImageSide    = 32768
	maxImagePixels  = 100 << 20
)

// minScanTextBytes is the text below which a page covered by a picture is still
// a scan: a page number, or the stamp a scanning app adds.
const minScanTextBytes = 16

// errImageUnsupported marks a picture this reader cannot decode (JPEG 2000,
// JBIG2, an exotic colour space): the page goes without it.
var errImageUnsupported = errors.New("unsupported image")

// placedImage is an image XObject drawn on a page, with the transformation
// that maps its unit square onto the page.
type placedImage struct {
	obj any
	ctm matrix
}

// placeImage records an image drawn on the page being read.
func (in *interpreter) placeImage(obj any, ctm matrix) {
	if len(in.images) < maxPlacedImages {
		in.images = append(in.images, placedImage{obj: obj, ctm: ctm})
	}
}

// coversPage reports whether one of the placed images covers at least half of
// the page's box.
func coversPage(placed []placedImage, box pageBox) bool {
	if !box.ok {
		return len(placed) > 0
	}
	page := (box.x1 - box.x0) * (box.y1 - box.y0)
	for _, p := range placed {
		if area(p.ctm) >= page/2 {
			return true
		}
	}
	return false
}

// area is the area of the unit square through m.
func area(m matrix) float64 { return math.Abs(m[0]*m[3] - m[1]*m[2]) }

// pageScan reads the largest pictures placed on a page, at most maxScanImages,
// ordered top to bottom then left to right as the page is shown. A picture that
// cannot be read is left out; only what stops the document is an error. held
// is what the encoded pictures are charged.
func (d *doc) pageScan(placed []placedImage, rotate int) (imgs []Image, held int64, err error) {
	type candidate struct {
		s        *stream
		ctm      matrix
		top, lft float64
	}
	var cands []candidate
	seen := map[*stream]int{}
	for _, p := range placed {
		s, ok := d.resolve(p.obj).(*stream)
		if !ok || s.dict["Subtype"] != name("Image") {
			continue
		}
		w, _ := toInt(d.resolve(s.dict["Width"]))
		h, _ := toInt(d.resolve(s.dict["Height"]))
		if w < minImageSide || h < minImageSide {
			continue
		}
		// Where the picture's top and left edges are as shown.
		c := candidate{s: s, ctm: p.ctm, top: math.Inf(1), lft: math.Inf(1)}
		for _, corner := range [4][2]float64{{0, 0}, {0, 1}, {1, 0}, {1, 1}} {
			x, y := shown(corner[0], corner[1], p.ctm, rotate)
			c.top, c.lft = math.Min(c.top, y), math.Min(c.lft, x)
		}
		if i, dup := seen[s]; dup {
			if area(p.ctm) > area(cands[i].ctm) {
				cands[i] = c
			}
			continue
		}
		seen[s] = len(cands)
		cands = append(cands, c)
	}
	sort.SliceStable(cands, func(i, j int) bool { return area(cands[i].ctm) > area(cands[j].ctm) })
	cands = cands[:min(len(cands), maxScanImages)]
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].top != cands[j].top {
			return cands[i].top < cands[j].top
		}
		return cands[i].lft < cands[j].lft
	})
	defer func() {
		if err != nil {
			d.release(held)
			held = 0
		}
	}()
	for _, c := range cands {
		if err := d.failed(); err != nil {
			return nil, held, err
		}
		img, err := d.readImage(c.s, orientationOf(c.ctm, rotate))
		if err != nil {
			if stopsDocument(err) {
				return nil, held, err
			}
			continue
		}
		cost := costSlice + int64(len(img.Data)) + 64
		if err := d.charge(cost, UseImages); err != nil {
			return nil, held, err
		}
		held += cost
		imgs = append(imgs, img)
	}
	return imgs, held, nil
}

// shown maps the point (x, y) of an image's unit square to the page as shown:
// through m, turned clockwise by rotate, with y growing downwards.
func shown(x, y float64, m matrix, rotate int) (float64, float64) {
	px, py := x*m[0]+y*m[2]+m[4], x*m[1]+y*m[3]+m[5]
	for range rotate / 90 {
		px, py = py, -px
	}
	return px, -py
}

// orientationOf reads the orientation of a picture drawn through m on a page
// turned by rotate. A picture drawn skewed is read as stored.
func orientationOf(m matrix, rotate int) picture.Orientation {
	snap := func(x, y float64) [2]int {
		switch {
		case math.Abs(x) >= math.Abs(y) && x > 0:
			return [2]int{1, 0}
		case math.Abs(x) >= math.Abs(y):
			return [2]int{-1, 0}
		case y > 0:
			return [2]int{0, 1}
		default:
			return [2]int{0, -1}
		}
	}
	ox, oy := shown(0, 1, m, rotate)
	cx, cy := shown(1, 1, m, rotate) // one column on
	rx, ry := shown(0, 0, m, rotate) // down the rows
	o := picture.Orientation{Col: snap(cx-ox, cy-oy), Row: snap(rx-ox, ry-oy)}
	if o.Col[0] == 0 && o.Row[0] == 0 || o.Col[1] == 0 && o.Row[1] == 0 {
		return picture.Upright
	}
	return o
}

// imageInfo is what an image dictionary says about its samples.
type imageInfo struct {
	width, height int
	bpc           int
	mask          bool
	cs            colorSpace
	csErr         error // the colour space cannot be read
	decode        []float64
}

// colorSpace is how samples become colours. Separation is one ink: 1 is full ink,
// dark, the reverse of grey.
type colorSpace struct {
	kind    csKind
	n       int          // components per sample
	palette []color.RGBA // indexed
}

type csKind int

const (
	csGray csKind = iota
	csRGB
	csCMYK
	csIndexed
	csSeparation
)

// readImage decodes an image XObject and encodes it upright as PNG, or as the
// JPEG it already is when that needs no change.
func (d *doc) readImage(s *stream, o picture.Orientation) (Image, error) {
	info, err := d.imageInfo(s.dict)
	if err != nil {
		return Image{}, err
	}
	data, held, filter, parms, err := d.decodeImageStream(s)
	if err != nil {
		return Image{}, err
	}
	defer d.release(held)
	switch filter {
	case "":
		return d.encodeSamples(data, info, o)
	case "DCTDecode", "DCT":
		return d.readJPEG(data, info, o)
	case "CCITTFaxDecode", "CCF":
		samples, sampleHeld, err := d.decodeCCITT(data, parms, &info)
		if err != nil {
			return Image{}, err
		}
		defer d.release(sampleHeld)
		return d.encodeSamples(samples, info, o)
	}
	return Image{}, errImageUnsupported
}

// imageInfo reads and bounds the image dictionary.
func (d *doc) imageInfo(dict dict) (imageInfo, error) {
	var info imageInfo
	info.width, _ = toInt(d.resolve(dict["Width"]))
	info.height, _ = toInt(d.resolve(dict["Height"]))
	if info.width < 1 || info.height < 1 || info.width > maxImageSide || info.height > maxImageSide ||
		int64(info.width)*int64(info.height) > maxImagePixels {
		return info, errImageUnsupported
	}
	info.mask, _ = d.resolve(dict["ImageMask"]).(bool)
	if info.mask {
		info.bpc, info.cs = 1, colorSpace{kind: csGray, n: 1}
	} else {
		info.bpc, _ = toInt(d.resolve(dict["BitsPerComponent"]))
		// JPEG data carry their own colours: a colour space read only for
		// samples fails only them.
		info.cs, info.csErr = d.colorSpaceOf(d.resolve(dict["ColorSpace"]), 0)
	}
	for _, v := range asArray(d.resolve(dict["Decode"])) {
		f, _ := toFloat(d.resolve(v))
		info.decode = append(info.decode, f)
	}
	return info, nil
}

// colorSpaceOf reads a colour space an image may use; nil (as JPEG data has
// its own) is grey until the data say otherwise.
func (d *doc) colorSpaceOf(v any, depth int) (colorSpace, error) {
	if depth > 4 {
		return colorSpace{}, errImageUnsupported
	}
	switch cs := v.(type) {
	case nil:
		return colorSpace{kind: csGray, n: 1}, nil
	case name:
		switch cs {
		case "DeviceGray", "G", "CalGray":
			return colorSpace{kind: csGray, n: 1}, nil
		case "DeviceRGB", "RGB", "CalRGB":
			return colorSpace{kind: csRGB, n: 3}, nil
		case "DeviceCMYK", "CMYK":
			return colorSpace{kind: csCMYK, n: 4}, nil
		}
	case array:
		if len(cs) == 0 {
			break
		}
		family, _ := d.resolve(cs[0]).(name)
		switch family {
		case "CalGray", "CalRGB", "CalCMYK":
			return d.colorSpaceOf(map[name]name{"CalGray": "DeviceGray", "CalRGB": "DeviceRGB", "CalCMYK": "DeviceCMYK"}[family], depth+1)
		case "ICCBased":
			if len(cs) < 2 {
				break
			}
			profile, _ := d.resolve(cs[1]).(*stream)
			if profile == nil {
				break
			}
			switch n, _ := toInt(d.resolve(profile.dict["N"])); n {
			case 1:
				return colorSpace{kind: csGray, n: 1}, nil
			case 3:
				return colorSpace{kind: csRGB, n: 3}, nil
			case 4:
				return colorSpace{kind: csCMYK, n: 4}, nil
			}
			if alt := profile.dict["Alternate"]; alt != nil {
				return d.colorSpaceOf(d.resolve(alt), depth+1)
			}
		case "Indexed", "I":
			return d.indexed(cs, depth)
		case "Separation":
			return colorSpace{kind: csSeparation, n: 1}, nil
		}
	}
	return colorSpace{}, errImageUnsupported
}

// indexed reads [/Indexed base hival lookup].
func (d *doc) indexed(cs array, depth int) (colorSpace, error) {
	if len(cs) < 4 {
		return colorSpace{}, errImageUnsupported
	}
	base, err := d.colorSpaceOf(d.resolve(cs[1]), depth+1)
	if err != nil || base.kind == csIndexed {
		return colorSpace{}, errImageUnsupported
	}
	hival, ok := toInt(d.resolve(cs[2]))
	if !ok || hival < 0 || hival > 255 {
		return colorSpace{}, errImageUnsupported
	}
	var lookup []byte
	switch l := d.resolve(cs[3]).(type) {
	case str:
		lookup = l
	case *stream:
		data, held, err := d.decodeStream(l)
		if err != nil {
			return colorSpace{}, err
		}
		lookup = append([]byte(nil), data[:min(len(data), (hival+1)*base.n)]...)
		d.release(held)
	}
	palette := make([]color.RGBA, hival+1)
	comps := make([]float64, base.n)
	for i := range palette {
		for c := range comps {
			if k := i*base.n + c; k < len(lookup) {
				comps[c] = float64(lookup[k]) / 255
			}
		}
		palette[i] = base.rgba(comps)
	}
	return colorSpace{kind: csIndexed, n: 1, palette: palette}, nil
}

// rgba is the colour of one sample, its components each from 0 to 1.
func (cs colorSpace) rgba(c []float64) color.RGBA {
	b := func(v float64) uint8 { return uint8(math.Round(255 * math.Min(1, math.Max(0, v)))) }
	switch cs.kind {
	case csRGB:
		return color.RGBA{b(c[0]), b(c[1]), b(c[2]), 255}
	case csCMYK:
		k := 1 - c[3]
		return color.RGBA{b((1 - c[0]) * k), b((1 - c[1]) * k), b((1 - c[2]) * k), 255}
	case csSeparation:
		g := b(1 - c[0])
		return color.RGBA{g, g, g, 255}
	}
	g := b(c[0])
	return color.RGBA{g, g, g, 255}
}

// encodeSamples turns the samples of an image (after its filters) into an
// upright PNG. Rows the data lack are left white.
func (d *doc) encodeSamples(data []byte, info imageInfo, o picture.Orientation) (Image, error) {
	if info.csErr != nil {
		return Image{}, info.csErr
	}
	switch info.bpc {
	case 1, 2, 4, 8, 16:
	default:
		return Image{}, errImageUnsupported
	}
	n, w, h := info.cs.n, info.width, info.height
	maxv := float64(int(1)<<info.bpc - 1)
	// Each component's sample s reads as lo + s*scale (PDF's Decode array).
	lo, scale := make([]float64, n), make([]float64, n)
	for c := range n {
		dmin, dmax := 0.0, 1.0
		if info.cs.kind == csIndexed {
			dmax = maxv
		}
		if len(info.decode) >= 2*n {
			dmin, dmax = info.decode[2*c], info.decode[2*c+1]
		}
		lo[c], scale[c] = dmin, (dmax-dmin)/maxv
	}
	gray := info.cs.kind == csGray || info.cs.kind == csSeparation ||
		info.cs.kind == csIndexed && grayPalette(info.cs.palette)
	bpp := 4
	if gray {
		bpp = 1
	}
	pix, pixHeld, err := d.pixels(w, h, bpp)
	if err != nil {
		return Image{}, err
	}
	defer d.release(pixHeld)
	rowBytes := (w*n*info.bpc + 7) / 8
	comps := make([]float64, n)
	// One value per possible sample of a one-component image, read once.
	var table []uint8
	if n == 1 && info.bpc <= 8 && info.cs.kind != csIndexed {
		table = make([]uint8, int(maxv)+1)
		for s := range table {
			table[s] = info.cs.rgba([]float64{lo[0] + float64(s)*scale[0]}).R
		}
	}
	for y := range h {
		if y%256 == 0 {
			if err := d.failed(); err != nil {
				return Image{}, err
			}
		}
		row := data[min(len(data), y*rowBytes):min(len(data), (y+1)*rowBytes)]
		out := pix[y*w*bpp : (y+1)*w*bpp]
		if len(row) < rowBytes {
			for i := range out {
				out[i] = 255
			}
			continue
		}
		for x := range w {
			if table != nil {
				out[x] = table[sample(row, x, info.bpc)]
				continue
			}
			for c := range n {
				comps[c] = lo[c] + float64(sample(row, x*n+c, info.bpc))*scale[c]
			}
			var px color.RGBA
			if info.cs.kind == csIndexed {
				i := int(math.Round(comps[0]))
				px = info.cs.palette[min(max(i, 0), len(info.cs.palette)-1)]
			} else {
				px = info.cs.rgba(comps)
			}
			if gray {
				out[x] = px.R
			} else {
				copy(out[x*4:], []byte{px.R, px.G, px.B, 255})
			}
		}
	}
	return d.encodePNG(pix, w, h, bpp, info.bpc == 1 && gray, o)
}

// grayPalette reports whether every colour of a palette is a grey.
func grayPalette(p []color.RGBA) bool {
	for _, c := range p {
		if c.R != c.G || c.G != c.B {
			return false
		}
	}
	return true
}

// sample reads the i-th sample of bpc bits from a row.
func sample(row []byte, i, bpc int) int {
	switch bpc {
	case 8:
		return int(row[i])
	case 16:
		return int(row[2*i])<<8 | int(row[2*i+1])
	}
	bit := i * bpc
	return int(row[bit/8]>>(8-bpc-bit%8)) & (1<<bpc - 1)
}

// pixels allocates w×h pixels of bpp bytes, charged to the budget.
func (d *doc) pixels(w, h, bpp int) ([]byte, int64, error) {
	n := int64(w) * int64(h) * int64(bpp)
	if err := d.charge(n, UseImages); err != nil {
		return nil, 0, err
	}
	return make([]byte, n), n, nil
}

// encodePNG turns w×h pixels (grey, or RGBA when bpp is 4) upright and encodes
// them; twoTone pictures (black and white scans) are written with one bit a pixel.
func (d *doc) encodePNG(pix []byte, w, h, bpp int, twoTone bool, o picture.Orientation) (Image, error) {
	pix, w, h, held, err := d.turn(pix, w, h, bpp, o)
	if err != nil {
		return Image{}, err
	}
	defer d.release(held)
	img := picture.Image(pix, w, h, bpp, twoTone)
	buf := &chargedBuffer{d: d}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(buf, img); err != nil {
		buf.free()
		return Image{}, err
	}
	// The buffer's charge ends here; the caller charges what it keeps.
	out := append([]byte(nil), buf.buf...)
	buf.free()
	return Image{MIME: "image/png", Data: out, Width: w, Height: h}, nil
}

// turn lays pixels out upright as the page shows them; held is what a new
// layout is charged (nothing when the pixels were upright already).
func (d *doc) turn(pix []byte, w, h, bpp int, o picture.Orientation) ([]byte, int, int, int64, error) {
	if o == picture.Upright {
		return pix, w, h, 0, nil
	}
	out, held, err := d.pixels(w, h, bpp)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	picture.Turn(out, pix, w, h, bpp, o)
	ow, oh := o.Size(w, h)
	return out, ow, oh, held, nil
}

// readJPEG checks that a DCT stream decodes and passes it on as it is when it
// can be: upright, in grey or YCbCr, without a Decode array. Otherwise it is
// decoded and encoded again as PNG.
func (d *doc) readJPEG(data []byte, info imageInfo, o picture.Orientation) (Image, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImageSide || cfg.Height > maxImageSide ||
		int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return Image{}, errImageUnsupported
	}
	// The decoder holds up to four bytes a pixel (CMYK) while it works.
	cost := int64(cfg.Width) * int64(cfg.Height) * 4
	if err := d.charge(cost, UseImages); err != nil {
		return Image{}, err
	}
	defer d.release(cost)
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return Image{}, errImageUnsupported
	}
	_, cmyk := img.(*image.CMYK)
	if o == picture.Upright && !cmyk && len(info.decode) == 0 {
		return Image{MIME: "image/jpeg", Data: append([]byte(nil), data...), Width: cfg.Width, Height: cfg.Height}, nil
	}
	if g, ok := img.(*image.Gray); ok {
		pix, held, err := d.pixels(cfg.Width, cfg.Height, 1)
		if err != nil {
			return Image{}, err
		}
		defer d.release(held)
		for y := range cfg.Height {
			copy(pix[y*cfg.Width:(y+1)*cfg.Width], g.Pix[y*g.Stride:])
		}
		return d.encodePNG(invert(pix, 1, info.decode), cfg.Width, cfg.Height, 1, false, o)
	}
	pix, held, err := d.pixels(cfg.Width, cfg.Height, 4)
	if err != nil {
		return Image{}, err
	}
	defer d.release(held)
	b := img.Bounds()
	for y := range cfg.Height {
		for x := range cfg.Width {
			px := color.RGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.RGBA)
			copy(pix[(y*cfg.Width+x)*4:], []byte{px.R, px.G, px.B, 255})
		}
	}
	if !cmyk {
		// The decoder has undone Adobe's inverted CMYK already; a Decode array
		// on such a picture says the same again.
		pix = invert(pix, 4, info.decode)
	}
	return d.encodePNG(pix, cfg.Width, cfg.Height, 4, false, o)
}

// invert applies a Decode array that inverts every component ([1 0 ...]),
// the only one found on JPEG pictures.
func invert(pix []byte, bpp int, decode []float64) []byte {
	if len(decode) < 2 || decode[0] <= decode[1] {
		return pix
	}
	for i := range pix {
		if bpp != 4 || i%4 != 3 { // alpha stays opaque
			pix[i] = 255 - pix[i]
		}
	}
	return pix
}

// decodeCCITT decodes fax data (the black and white scans of most scanners)
// into one-bit samples, 1 white, as the image's own samples would be.
func (d *doc) decodeCCITT(data []byte, parms dict, info *imageInfo) ([]byte, int64, error) {
	k, _ := toInt(d.resolve(parms["K"]))
	cols, ok := toInt(d.resolve(parms["Columns"]))
	if !ok {
		cols = 1728
	}
	rows, ok := toInt(d.resolve(parms["Rows"]))
	if !ok || rows <= 0 {
		rows = info.height
	}
	if cols < 1 || cols > maxImageSide || rows < 1 || rows > maxImageSide || int64(cols)*int64(rows) > maxImagePixels {
		return nil, 0, errImageUnsupported
	}
	blackIs1, _ := d.resolve(parms["BlackIs1"]).(bool)
	align, _ := d.resolve(parms["EncodedByteAlign"]).(bool)
	sf := ccitt.Group3
	if k < 0 {
		sf = ccitt.Group4
	}
	rowBytes := (cols + 7) / 8
	n := int64(rowBytes) * int64(rows)
	if err := d.charge(n, UseImages); err != nil {
		return nil, 0, err
	}
	out := make([]byte, n)
	r := ccitt.NewReader(bytes.NewReader(data), ccitt.MSB, sf, cols, rows, &ccitt.Options{Align: align, Invert: blackIs1})
	got, err := io.ReadFull(r, out)
	if err != nil && got < rowBytes {
		d.release(n)
		return nil, 0, errImageUnsupported
	}
	// Rows past damage read as white.
	for i := got; i < len(out); i++ {
		out[i] = 0xFF
	}
	info.width, info.height, info.bpc = cols, rows, 1
	if !info.mask {
		info.cs, info.csErr = colorSpace{kind: csGray, n: 1}, nil
	}
	return out, n, nil
}
