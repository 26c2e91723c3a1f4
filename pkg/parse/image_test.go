package parse

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/ocr/ocrtest"
)

func readPicture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "pictures", name))
	require.NoError(t, err)
	return data
}

func parseBytes(t *testing.T, format Format, data []byte, limits Limits) (*Document, error) {
	t.Helper()
	return Parse(context.Background(), format, bytes.NewReader(data), int64(len(data)), limits)
}

// decoded decodes an encoded picture of a scan.
func decoded(t *testing.T, img Image) *image.Gray {
	t.Helper()
	var got image.Image
	var err error
	switch img.MIME {
	case "image/png":
		got, err = png.Decode(bytes.NewReader(img.Data))
	case "image/jpeg":
		got, err = jpeg.Decode(bytes.NewReader(img.Data))
	default:
		t.Fatalf("unexpected MIME %q", img.MIME)
	}
	require.NoError(t, err)
	require.Equal(t, img.Width, got.Bounds().Dx())
	require.Equal(t, img.Height, got.Bounds().Dy())
	return ocrtest.Gray(got)
}

// samePixels requires two grey pictures to be the same.
func samePixels(t *testing.T, want, got *image.Gray) {
	t.Helper()
	require.Equal(t, want.Bounds().Size(), got.Bounds().Size())
	for y := range want.Bounds().Dy() {
		for x := range want.Bounds().Dx() {
			if want.GrayAt(x, y) != got.GrayAt(x, y) {
				t.Fatalf("pixel (%d, %d): want %d, got %d", x, y, want.GrayAt(x, y).Y, got.GrayAt(x, y).Y)
			}
		}
	}
}

func TestDetectPictures(t *testing.T) {
	t.Parallel()
	page := ocrtest.Page("Hello")
	for name, tc := range map[string]struct {
		data []byte
		want Format
	}{
		"scan.png":  {ocrtest.PNG(page), FormatPNG},
		"photo.JPG": {ocrtest.JPEG(page), FormatJPEG},
		"fax.tif":   {ocrtest.TIFF(page), FormatTIFF},
		"doc.webp":  {readPicture(t, "gopher-doc.8bpp.lossless.webp"), FormatWebP},
		"noext":     {ocrtest.PNG(page), FormatPNG},
	} {
		got, err := Detect(bytes.NewReader(tc.data), int64(len(tc.data)), name)
		require.NoError(t, err, name)
		require.Equal(t, tc.want, got, name)
		require.Contains(t, got.MIME(), "image/", name)
	}
}

func TestPicturesAreScansOfOnePage(t *testing.T) {
	t.Parallel()
	page := ocrtest.Page("Quarterly report", "Revenue grew")

	pngData := ocrtest.PNG(page)
	doc, err := parseBytes(t, FormatPNG, pngData, DefaultLimits())
	require.NoError(t, err, "a picture has no text until OCR reads it, yet it is not empty")
	require.Empty(t, doc.Blocks)
	require.Equal(t, 1, doc.Pages)
	require.Len(t, doc.Scans, 1)
	require.Equal(t, 1, doc.Scans[0].Page)
	require.Equal(t, Image{MIME: "image/png", Data: pngData, Width: page.Bounds().Dx(), Height: page.Bounds().Dy()},
		doc.Scans[0].Images[0], "a PNG goes to OCR as it is")

	jpg := ocrtest.JPEG(page)
	doc, err = parseBytes(t, FormatJPEG, jpg, DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, "image/jpeg", doc.Scans[0].Images[0].MIME)
	require.Equal(t, jpg, doc.Scans[0].Images[0].Data, "an upright JPEG goes as it is")

	// WebP, which vision models are not sent, becomes PNG with the same pixels.
	doc, err = parseBytes(t, FormatWebP, readPicture(t, "gopher-doc.8bpp.lossless.webp"), DefaultLimits())
	require.NoError(t, err)
	img := doc.Scans[0].Images[0]
	require.Equal(t, "image/png", img.MIME)
	want, err := png.Decode(bytes.NewReader(readPicture(t, "gopher-doc.8bpp.png")))
	require.NoError(t, err)
	samePixels(t, ocrtest.Gray(want), decoded(t, img))
}

// withEXIFOrientation puts an EXIF segment saying orientation o after a JPEG's SOI.
func withEXIFOrientation(jpg []byte, o uint16) []byte {
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00*")
	_ = binary.Write(&tiff, binary.BigEndian, uint32(8))
	_ = binary.Write(&tiff, binary.BigEndian, uint16(1))
	_ = binary.Write(&tiff, binary.BigEndian, []uint16{274, 3})
	_ = binary.Write(&tiff, binary.BigEndian, uint32(1))
	_ = binary.Write(&tiff, binary.BigEndian, []uint16{o, 0})
	_ = binary.Write(&tiff, binary.BigEndian, uint32(0))
	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	var out bytes.Buffer
	out.Write(jpg[:2])
	out.Write([]byte{0xFF, 0xE1})
	_ = binary.Write(&out, binary.BigEndian, uint16(len(seg)+2))
	out.Write(seg)
	out.Write(jpg[2:])
	return out.Bytes()
}

func TestPhotographTakenSidewaysIsTurnedUpright(t *testing.T) {
	t.Parallel()
	page := ocrtest.Page("Sideways")
	stored := turn(page) // the camera stored the page a quarter turn anticlockwise...
	stored = turn(turn(stored))
	doc, err := parseBytes(t, FormatJPEG, withEXIFOrientation(ocrtest.JPEG(stored), 6), DefaultLimits()) // ...and says so
	require.NoError(t, err)
	img := doc.Scans[0].Images[0]
	require.Equal(t, "image/jpeg", img.MIME)
	require.Equal(t, page.Bounds().Dx(), img.Width, "upright again")
	require.Equal(t, page.Bounds().Dy(), img.Height)
	got := decoded(t, img)
	// JPEG is lossy twice over: compare dark and light halves of the text line.
	require.InDelta(t, meanGray(page), meanGray(got), 3)
	require.Less(t, darkRows(got)[0], page.Bounds().Dy()/2, "the text is at the top, where it was written")
}

// turn turns img a quarter turn clockwise.
func turn(img *image.Gray) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.SetGray(b.Dy()-1-y, x, img.GrayAt(x, y))
		}
	}
	return out
}

func meanGray(img *image.Gray) float64 {
	sum := 0
	for _, v := range img.Pix {
		sum += int(v)
	}
	return float64(sum) / float64(len(img.Pix))
}

// darkRows lists the rows with ink.
func darkRows(img *image.Gray) []int {
	var out []int
	for y := range img.Bounds().Dy() {
		for x := range img.Bounds().Dx() {
			if img.GrayAt(x, y).Y < 100 {
				out = append(out, y)
				break
			}
		}
	}
	return out
}

func TestTIFFPagesAreReadEach(t *testing.T) {
	t.Parallel()
	pages := []*image.Gray{ocrtest.Page("first page"), ocrtest.Page("second page", "is longer"), ocrtest.Page("third")}
	doc, err := parseBytes(t, FormatTIFF, ocrtest.TIFF(pages...), DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, 3, doc.Pages)
	require.Len(t, doc.Scans, 3)
	for i, s := range doc.Scans {
		require.Equal(t, i+1, s.Page)
		require.Len(t, s.Images, 1)
		samePixels(t, pages[i], decoded(t, s.Images[0]))
	}

	// A fax compressed with CCITT group 4.
	doc, err = parseBytes(t, FormatTIFF, readPicture(t, "bw-gopher_ccittGroup4.tiff"), DefaultLimits())
	require.NoError(t, err)
	want, err := png.Decode(bytes.NewReader(readPicture(t, "bw-gopher.png")))
	require.NoError(t, err)
	samePixels(t, ocrtest.Gray(want), decoded(t, doc.Scans[0].Images[0]))

	limits := DefaultLimits()
	limits.MaxPages = 2
	_, err = parseBytes(t, FormatTIFF, ocrtest.TIFF(pages...), limits)
	requireCode(t, err, CodeTooLarge, "more than 2 pages")
}

// pngHeader is the start of a PNG claiming w×h pixels.
func pngHeader(w, h uint32) []byte {
	var ihdr bytes.Buffer
	_ = binary.Write(&ihdr, binary.BigEndian, []uint32{w, h})
	ihdr.Write([]byte{8, 0, 0, 0, 0})
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	_ = binary.Write(&b, binary.BigEndian, uint32(ihdr.Len()))
	chunk := append([]byte("IHDR"), ihdr.Bytes()...)
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc(chunk))
	return b.Bytes()
}

func crc(b []byte) uint32 {
	var table [256]uint32
	for i := range table {
		c := uint32(i)
		for range 8 {
			if c&1 == 1 {
				c = 0xEDB88320 ^ c>>1
			} else {
				c >>= 1
			}
		}
		table[i] = c
	}
	c := ^uint32(0)
	for _, x := range b {
		c = table[byte(c)^x] ^ c>>8
	}
	return ^c
}

func TestHostilePicturesFailBeforeTheyAreDecoded(t *testing.T) {
	t.Parallel()
	// A few bytes claiming a picture of 40000 × 40000 pixels.
	_, err := parseBytes(t, FormatPNG, pngHeader(40000, 40000), DefaultLimits())
	requireCode(t, err, CodeTooLarge, "40000 × 40000 pixels")
	// Within the bounds but beyond the memory budget.
	limits := DefaultLimits()
	limits.MaxRetainedBytes = 4 << 20
	_, err = parseBytes(t, FormatPNG, pngHeader(3000, 3000), limits)
	requireCode(t, err, CodeTooLarge, "pictures of the document exceed")
	// Damaged.
	data := ocrtest.PNG(ocrtest.Page("x"))
	_, err = parseBytes(t, FormatPNG, data[:len(data)/2], DefaultLimits())
	requireCode(t, err, CodeCorrupt, "PNG")
	_, err = parseBytes(t, FormatTIFF, []byte("II*\x00\x08\x00\x00\x00\xff\xff"), DefaultLimits())
	requireCode(t, err, CodeCorrupt, "TIFF")
	// A directory chain that loops ends where it loops.
	loop := ocrtest.TIFF(ocrtest.Page("once"))
	binary.LittleEndian.PutUint32(loop[len(loop)-4:], binary.LittleEndian.Uint32(loop[4:]))
	doc, err := parseBytes(t, FormatTIFF, loop, DefaultLimits())
	require.NoError(t, err)
	require.Len(t, doc.Scans, 1)
}

func TestScannedPDFPagesAreScans(t *testing.T) {
	t.Parallel()
	pages := []*image.Gray{ocrtest.Page("scanned as JPEG"), ocrtest.Page("scanned as grey samples"),
		ocrtest.TwoTone(ocrtest.Page("black and white")), ocrtest.TwoTone(ocrtest.Page("an image mask")),
		ocrtest.Page("turned on its page")}
	data := ocrtest.PDF(
		ocrtest.PDFPage{Picture: pages[0], Encoding: ocrtest.DCT},
		ocrtest.PDFPage{Text: "A page with text"},
		ocrtest.PDFPage{Picture: pages[1], Encoding: ocrtest.Flate},
		ocrtest.PDFPage{Picture: pages[2], Encoding: ocrtest.FlateBits},
		ocrtest.PDFPage{Picture: pages[3], Encoding: ocrtest.Mask},
		ocrtest.PDFPage{Picture: pages[4], Encoding: ocrtest.Flate, Rotate: 90},
		ocrtest.PDFPage{Picture: ocrtest.Page("text under a text layer"), Encoding: ocrtest.Flate, Text: "OCR layer of a scan"},
		ocrtest.PDFPage{Picture: ocrtest.Page("a page number is no text layer"), Encoding: ocrtest.Flate, Text: "8"},
	)
	doc, err := parseBytes(t, FormatPDF, data, DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, 8, doc.Pages)
	var texts []string
	for _, b := range doc.Blocks {
		texts = append(texts, fmt.Sprintf("%d:%s", b.Page, b.Text))
	}
	require.Equal(t, []string{"2:A page with text", "7:OCR layer of a scan", "8:8"}, texts,
		"pages with a text layer keep it and need no OCR")
	var scanned []int
	for _, s := range doc.Scans {
		scanned = append(scanned, s.Page)
		require.Len(t, s.Images, 1)
	}
	require.Equal(t, []int{1, 3, 4, 5, 6, 8}, scanned)

	jpg := doc.Scans[0].Images[0]
	require.Equal(t, "image/jpeg", jpg.MIME, "a JPEG scan goes to OCR as the scanner made it")
	require.Equal(t, ocrtest.JPEG(pages[0]), jpg.Data)
	for i, want := range pages[1:] {
		img := doc.Scans[i+1].Images[0]
		require.Equal(t, "image/png", img.MIME)
		samePixels(t, want, decoded(t, img))
	}
	require.Less(t, len(doc.Scans[2].Images[0].Data), len(doc.Scans[1].Images[0].Data)/2,
		"black and white pages take one bit a pixel")
}

func TestFaxCompressedPDFPagesDecode(t *testing.T) {
	t.Parallel()
	fax := readPicture(t, "bw-gopher.ccitt_group4")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 153 55] /Contents 4 0 R /Resources << /XObject << /Fax 5 0 R >> >> >>",
		pdfStreamObj("", []byte("q 153 0 0 55 0 0 cm /Fax Do Q")),
		pdfStreamObj("/Type /XObject /Subtype /Image /Width 153 /Height 55 /ColorSpace /DeviceGray /BitsPerComponent 1 "+
			"/Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns 153 /Rows 55 >>", fax),
	}
	doc, err := parseBytes(t, FormatPDF, buildPDF(objs, false), DefaultLimits())
	require.NoError(t, err)
	require.Len(t, doc.Scans, 1)
	want, err := png.Decode(bytes.NewReader(readPicture(t, "bw-gopher.png")))
	require.NoError(t, err)
	samePixels(t, ocrtest.Gray(want), decoded(t, doc.Scans[0].Images[0]))
}

func TestScannedPDFPicturesCountAgainstTheBudget(t *testing.T) {
	t.Parallel()
	// A page scanned at 600 dpi: 36 MB of grey samples, deflated to little.
	big := image.NewGray(image.Rect(0, 0, 5000, 7200))
	for i := range big.Pix {
		big.Pix[i] = 255
	}
	data := ocrtest.PDF(ocrtest.PDFPage{Picture: big, Encoding: ocrtest.Flate})
	limits := DefaultLimits()
	limits.MaxRetainedBytes = 4 << 20
	_, err := parseBytes(t, FormatPDF, data, limits)
	requireCode(t, err, CodeTooLarge, "exceed")

	// A picture claiming more pixels than allowed is left out, the page with it.
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /XObject << /Im 5 0 R >> >> >>",
		pdfStreamObj("", []byte("q 612 0 0 792 0 0 cm /Im Do Q")),
		pdfStreamObj("/Type /XObject /Subtype /Image /Width 90000 /Height 90000 /ColorSpace /DeviceGray /BitsPerComponent 8", []byte("x")),
	}
	_, err = parseBytes(t, FormatPDF, buildPDF(objs, false), DefaultLimits())
	requireCode(t, err, CodeEmpty, "no text")
}

func FuzzParsePicture(f *testing.F) {
	// Small seeds: the fuzzer slows down a lot on inputs of many kilobytes.
	page := image.NewGray(image.Rect(0, 0, 24, 20))
	for i := range page.Pix {
		page.Pix[i] = uint8(i * 37)
	}
	f.Add(ocrtest.PNG(page))
	f.Add(ocrtest.JPEG(page))
	f.Add(withEXIFOrientation(ocrtest.JPEG(page), 8))
	f.Add(ocrtest.TIFF(page, page))
	f.Add(ocrtest.PDF(ocrtest.PDFPage{Picture: page, Encoding: ocrtest.FlateBits, Rotate: 270}))
	f.Fuzz(func(t *testing.T, data []byte) {
		format, err := Detect(bytes.NewReader(data), int64(len(data)), "")
		if err != nil {
			return
		}
		fuzzParser(t, format, data)
	})
}
