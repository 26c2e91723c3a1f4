package pdf

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// These cases reproduce, in miniature, real PDFs on which the reader once
// disagreed with poppler's pdftotext.

// A two-page spread cut into pages: both pages draw the same content, each
// page's crop box showing its half. Text outside the box is not on the page.
func TestExtractClipsToCropBox(t *testing.T) {
	t.Parallel()
	spread := "BT /F1 12 Tf 72 700 Td (Left half of the spread) Tj 612 0 Td (Right half of the spread) Tj ET"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 /MediaBox [0 0 1224 792] >>",
		"<< /Type /Page /Parent 2 0 R /CropBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		streamObj("", []byte(spread)),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Type /Page /Parent 2 0 R /CropBox [612 0 1224 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
	}
	data, _ := pdfFile(objs, "")
	require.Equal(t, []string{"Left half of the spread", "Right half of the spread"}, extractText(t, data))
}

// Word spaces shown as space glyphs break words even where the font's widths
// make the next word start before this one's advance ends (OCR text layers
// placing each word with its own Td).
func TestExtractSpaceGlyphBreaksWords(t *testing.T) {
	t.Parallel()
	data, _ := pdfFile(onePage("BT /F1 10 Tf 72 700 Td (instead ) Tj 20 0 Td (of ) Tj 8 0 Td (the ) Tj 12 0 Td (more) Tj ET"), "")
	require.Equal(t, []string{"instead of the more"}, extractText(t, data))
}

// A heading in one column must not pull the body lines of the next column,
// a few points below its baseline, into one interleaved line.
func TestExtractLinesKeepTheirBaselines(t *testing.T) {
	t.Parallel()
	content := "BT /F1 48 Tf 40 700 Td (Title) Tj ET " +
		"BT /F1 10 Tf 320 696 Td (with our own carbon footprint) Tj 0 -12 Td (significant steps over the past) Tj ET"
	data, _ := pdfFile(onePage(content), "")
	text := strings.Join(extractText(t, data), "\n")
	require.Contains(t, text, "with our own carbon footprint significant steps over the past")
	require.Contains(t, text, "Title")
}

// Form fields and buttons hold their text in an annotation's appearance
// stream, fitted to the annotation's rectangle; a hidden one shows nothing.
func TestExtractDrawsAnnotationAppearances(t *testing.T) {
	t.Parallel()
	appearance := "BT /F1 10 Tf 2 4 Td (Appendix) Tj ET"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots [6 0 R 8 0 R] /Resources << /Font << /F1 5 0 R >> >> >>",
		streamObj("", []byte("BT /F1 12 Tf 72 700 Td (Body text) Tj ET")),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Type /Annot /Subtype /Widget /FT /Btn /Rect [72 600 172 620] /AP << /N 7 0 R >> >>",
		streamObj("/Type /XObject /Subtype /Form /BBox [0 0 100 20] /Resources << /Font << /F1 5 0 R >> >>", []byte(appearance)),
		"<< /Type /Annot /Subtype /Widget /F 2 /Rect [72 500 172 520] /AP << /N 9 0 R >> >>",
		streamObj("/Type /XObject /Subtype /Form /BBox [0 0 100 20] /Resources << /Font << /F1 5 0 R >> >>", []byte("BT /F1 10 Tf (Hidden) Tj ET")),
	}
	data, _ := pdfFile(objs, "")
	require.Equal(t, []string{"Body text", "Appendix"}, extractText(t, data))
}
