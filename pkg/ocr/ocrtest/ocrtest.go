// Package ocrtest makes what OCR tests read: pictures of text (rendered with
// the Go font, large enough for Tesseract), and the files that carry them —
// PDFs whose pages are only pictures, as a scanner makes, and multi-page TIFFs.
// Production code never imports it.
package ocrtest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"sync"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Size of a rendered line: 40 px type is body text scanned at about 300 dpi.
const (
	fontSize   = 40
	lineHeight = 64
	margin     = 48
)

var (
	faceOnce sync.Once
	face     font.Face
	// faceMu serialises drawing: a font face is not safe for concurrent use.
	faceMu sync.Mutex
)

func goFace() font.Face {
	faceOnce.Do(func() {
		f, err := opentype.Parse(goregular.TTF)
		if err != nil {
			panic(err) // the embedded font always parses
		}
		face, err = opentype.NewFace(f, &opentype.FaceOptions{Size: fontSize, DPI: 72, Hinting: font.HintingFull})
		if err != nil {
			panic(err)
		}
	})
	return face
}

// Page renders lines of text, black on white, as a scanner would see a page.
func Page(lines ...string) *image.Gray {
	f := goFace()
	faceMu.Lock()
	defer faceMu.Unlock()
	width := 0
	for _, l := range lines {
		width = max(width, font.MeasureString(f, l).Ceil())
	}
	img := image.NewGray(image.Rect(0, 0, width+2*margin, len(lines)*lineHeight+2*margin))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	d := font.Drawer{Dst: img, Src: image.Black, Face: f}
	for i, l := range lines {
		d.Dot = fixed.P(margin, margin+i*lineHeight+fontSize)
		d.DrawString(l)
	}
	return img
}

// TwoTone is img with every pixel made black or white, as a fax or a black and
// white scan stores it.
func TwoTone(img *image.Gray) *image.Gray {
	out := image.NewGray(img.Bounds())
	for i, v := range img.Pix {
		if v >= 128 {
			out.Pix[i] = 255
		}
	}
	return out
}

// PNG encodes img.
func PNG(img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // encoding to memory does not fail
	}
	return buf.Bytes()
}

// JPEG encodes img at high quality.
func JPEG(img image.Image) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Encoding is how a PDF stores a page's picture.
type Encoding int

// Encodings of a picture in a PDF.
const (
	// DCT stores the JPEG file as it is (DCTDecode).
	DCT Encoding = iota
	// Flate stores 8-bit grey samples, deflated.
	Flate
	// FlateBits stores one bit a pixel, deflated, as black and white scans do.
	FlateBits
	// Mask stores one bit a pixel as an image mask painted black, 1 for ink
	// (Decode [1 0]).
	Mask
)

// PDFPage is one page of a PDF made by PDF.
type PDFPage struct {
	// Text is shown in Helvetica when not empty: a page with a text layer.
	Text string
	// Picture fills the page when not nil.
	Picture *image.Gray
	// Encoding is how Picture is stored.
	Encoding Encoding
	// Rotate is the page's /Rotate: the picture is stored turned the other
	// way, so the page shows it upright.
	Rotate int
}

// PDF builds a PDF of pages; a page with only a picture is a scanned page.
func PDF(pages ...PDFPage) []byte {
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"}
	var kids []string
	for _, p := range pages {
		pageNum := len(objs) + 1
		kids = append(kids, fmt.Sprintf("%d 0 R", pageNum))
		objs = append(objs, "") // the page, filled in below
		var content bytes.Buffer
		res := "/Font << /F1 3 0 R >>"
		w, h := 612, 792
		if p.Picture != nil {
			pic := p.Picture
			// Stored turned back, so that /Rotate shows it upright.
			for range (360 - p.Rotate) % 360 / 90 {
				pic = turnClockwise(pic)
			}
			b := pic.Bounds()
			w, h = b.Dx()*72/150, b.Dy()*72/150 // 150 dpi
			if p.Rotate%180 != 0 {
				w, h = h, w
			}
			imgNum := len(objs) + 1
			objs = append(objs, imageObject(pic, p.Encoding))
			res += fmt.Sprintf(" /XObject << /Im1 %d 0 R >>", imgNum)
			pw, ph := w, h
			if p.Rotate%180 != 0 {
				pw, ph = h, w
			}
			fmt.Fprintf(&content, "q %d 0 0 %d 0 0 cm /Im1 Do Q\n", pw, ph)
		}
		if p.Text != "" {
			fmt.Fprintf(&content, "BT /F1 12 Tf 72 %d Td (%s) Tj ET\n", h-72, p.Text)
		}
		contentNum := len(objs) + 1
		objs = append(objs, stream("", content.Bytes()))
		mw, mh := w, h
		if p.Rotate%180 != 0 {
			mw, mh = h, w
		}
		objs[pageNum-1] = fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Rotate %d /Contents %d 0 R /Resources << %s >> >>",
			mw, mh, p.Rotate, contentNum, res)
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", join(kids), len(pages))
	var buf bytes.Buffer
	buf.WriteString("%PDF-1.4\n")
	var offs []int
	for i, o := range objs {
		offs = append(offs, buf.Len())
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&buf, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return buf.Bytes()
}

func join(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}

func stream(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

func deflate(data []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	_, _ = zw.Write(data)
	_ = zw.Close()
	return buf.Bytes()
}

// imageObject is the image XObject of pic stored with enc.
func imageObject(pic *image.Gray, enc Encoding) string {
	b := pic.Bounds()
	size := fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d", b.Dx(), b.Dy())
	switch enc {
	case Flate:
		return stream(size+" /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", deflate(pic.Pix))
	case FlateBits, Mask:
		ink := enc == Mask
		rowBytes := (b.Dx() + 7) / 8
		bits := make([]byte, rowBytes*b.Dy())
		for y := range b.Dy() {
			for x := range b.Dx() {
				white := pic.GrayAt(x, y).Y >= 128
				if white != ink { // a mask's 1 is ink; a grey sample's 1 is white
					bits[y*rowBytes+x/8] |= 0x80 >> (x % 8)
				}
			}
		}
		if ink {
			return stream(size+" /ImageMask true /Decode [1 0] /Filter /FlateDecode", deflate(bits))
		}
		return stream(size+" /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode", deflate(bits))
	}
	return stream(size+" /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode", JPEG(pic))
}

// turnClockwise turns img a quarter turn clockwise.
func turnClockwise(img *image.Gray) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.SetGray(b.Dy()-1-y, x, img.GrayAt(x, y))
		}
	}
	return out
}

// TIFF encodes pages as one uncompressed TIFF file of 8-bit grey pages, the
// way a scanner writes a multi-page document.
func TIFF(pages ...*image.Gray) []byte {
	var buf bytes.Buffer
	le := binary.LittleEndian
	buf.WriteString("II*\x00")
	_ = binary.Write(&buf, le, uint32(0)) // the first directory, patched below
	prevNext := 4                         // where the offset of the next directory goes
	for _, p := range pages {
		b := p.Bounds()
		pixels := buf.Len()
		for y := range b.Dy() {
			buf.Write(p.Pix[y*p.Stride : y*p.Stride+b.Dx()])
		}
		if buf.Len()%2 == 1 {
			buf.WriteByte(0)
		}
		ifd := buf.Len()
		le.PutUint32(buf.Bytes()[prevNext:], uint32(ifd))
		entries := [][3]uint32{ // tag, type (3 SHORT, 4 LONG), value
			{256, 4, uint32(b.Dx())}, {257, 4, uint32(b.Dy())}, {258, 3, 8}, {259, 3, 1}, {262, 3, 1},
			{273, 4, uint32(pixels)}, {277, 3, 1}, {278, 4, uint32(b.Dy())}, {279, 4, uint32(b.Dx() * b.Dy())},
		}
		_ = binary.Write(&buf, le, uint16(len(entries)))
		for _, e := range entries {
			_ = binary.Write(&buf, le, uint16(e[0]))
			_ = binary.Write(&buf, le, uint16(e[1]))
			_ = binary.Write(&buf, le, uint32(1))
			if e[1] == 3 {
				_ = binary.Write(&buf, le, uint16(e[2]))
				_ = binary.Write(&buf, le, uint16(0))
			} else {
				_ = binary.Write(&buf, le, e[2])
			}
		}
		prevNext = buf.Len()
		_ = binary.Write(&buf, le, uint32(0))
	}
	return buf.Bytes()
}

// Gray converts img to grey.
func Gray(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok {
		return g
	}
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.Set(x, y, color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)))
		}
	}
	return out
}

// Tesseract returns the tesseract command's name for tests that run it, and
// skips the test when it is not installed — except under CI=true, where .ci/run
// installs it and its absence is a failure.
func Tesseract(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("tesseract"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tesseract is not installed (Debian: apt-get install tesseract-ocr); CI must have it")
		}
		t.Skip("tesseract is not installed (Debian: apt-get install tesseract-ocr)")
	}
	return "tesseract"
}
