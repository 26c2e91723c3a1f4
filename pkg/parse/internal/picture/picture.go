// Package picture turns decoded pictures upright and lays their pixels out the
// way the readers of pictures (OCR) are sent them, for the image formats of
// package parse and the scanned pages of its PDF reader alike.
package picture

import (
	"image"
	"image/color"
)

// Orientation says where a stored picture's columns and rows run as it is
// shown: each is a unit step along x (right) or y (down), as {dx, dy}.
type Orientation struct{ Col, Row [2]int }

// Upright is a picture shown as it is stored.
var Upright = Orientation{Col: [2]int{1, 0}, Row: [2]int{0, 1}}

// exif are the orientations of EXIF and TIFF's Orientation tag, 1 to 8.
var exif = [9]Orientation{
	1: Upright,
	2: {Col: [2]int{-1, 0}, Row: [2]int{0, 1}},
	3: {Col: [2]int{-1, 0}, Row: [2]int{0, -1}},
	4: {Col: [2]int{1, 0}, Row: [2]int{0, -1}},
	5: {Col: [2]int{0, 1}, Row: [2]int{1, 0}},
	6: {Col: [2]int{0, 1}, Row: [2]int{-1, 0}},
	7: {Col: [2]int{0, -1}, Row: [2]int{-1, 0}},
	8: {Col: [2]int{0, -1}, Row: [2]int{1, 0}},
}

// FromTag is the orientation an EXIF or TIFF Orientation tag gives; Upright
// for a value out of range.
func FromTag(v int) Orientation {
	if v < 1 || v > 8 {
		return Upright
	}
	return exif[v]
}

// Size is the size of a w×h picture once turned.
func (o Orientation) Size(w, h int) (int, int) {
	if o.Col[0] == 0 {
		return h, w
	}
	return w, h
}

// Turn copies the w×h pixels of src (bpp bytes each, rows packed) into dst,
// upright; dst holds w×h pixels too.
func Turn(dst, src []byte, w, h, bpp int, o Orientation) {
	ow, _ := o.Size(w, h)
	pos := func(step, i, n int) int {
		if step < 0 {
			return n - 1 - i
		}
		return i
	}
	for y := range h {
		for x := range w {
			var tx, ty int
			if o.Col[0] != 0 {
				tx, ty = pos(o.Col[0], x, w), pos(o.Row[1], y, h)
			} else {
				tx, ty = pos(o.Row[0], y, h), pos(o.Col[1], x, w)
			}
			copy(dst[(ty*ow+tx)*bpp:(ty*ow+tx+1)*bpp], src[(y*w+x)*bpp:(y*w+x+1)*bpp])
		}
	}
}

// Pixels lays a decoded picture out as packed grey (bpp 1) or RGBA (bpp 4)
// pixels; alpha is flattened onto white, as a page would show it.
func Pixels(img image.Image) (pix []byte, w, h, bpp int) {
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	if g, ok := img.(*image.Gray); ok {
		pix = make([]byte, w*h)
		for y := range h {
			copy(pix[y*w:(y+1)*w], g.Pix[y*g.Stride:])
		}
		return pix, w, h, 1
	}
	pix = make([]byte, w*h*4)
	for y := range h {
		for x := range w {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			a := uint32(c.A)
			over := func(v uint8) uint8 { return uint8((uint32(v)*a + 255*(255-a)) / 255) }
			i := (y*w + x) * 4
			pix[i], pix[i+1], pix[i+2], pix[i+3] = over(c.R), over(c.G), over(c.B), 255
		}
	}
	return pix, w, h, 4
}

// Image wraps packed pixels as an image: grey, RGBA, or, for twoTone grey
// pixels (each 0 or 255), a black and white paletted image whose PNG takes one
// bit a pixel. The pixels of a twoTone image are rewritten as palette indexes.
func Image(pix []byte, w, h, bpp int, twoTone bool) image.Image {
	switch {
	case bpp == 4:
		return &image.RGBA{Pix: pix, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	case twoTone:
		for i, v := range pix {
			pix[i] = v >> 7
		}
		return &image.Paletted{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h), Palette: color.Palette{color.Black, color.White}}
	}
	return &image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)}
}
