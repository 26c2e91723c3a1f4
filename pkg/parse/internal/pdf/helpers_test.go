package pdf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// errTestBudget is what testBudget fails with.
var errTestBudget = errors.New("test budget spent")

// testBudget is a Budget with an optional limit that remembers what failed.
type testBudget struct {
	limit, held int64
	failed      []Use
}

func (b *testBudget) Retain(n int64, what Use) error {
	b.held += n
	if b.limit > 0 && b.held > b.limit {
		return b.Exceeded(what)
	}
	return nil
}

func (b *testBudget) Release(n int64) { b.held -= n }

func (b *testBudget) Left() int64 {
	if b.limit <= 0 {
		return 1 << 40
	}
	return max(b.limit-b.held, 0)
}

func (b *testBudget) Exceeded(what Use) error {
	b.failed = append(b.failed, what)
	return fmt.Errorf("%w (use %d)", errTestBudget, what)
}

// newTestDoc returns a reader over data without limits.
func newTestDoc(data []byte) *doc {
	return newDoc(context.Background(), data, &testBudget{}, Limits{})
}

// parseObject reads one object written in PDF syntax.
func parseObject(t *testing.T, src string) any {
	t.Helper()
	o, err := (&lexer{data: []byte(src)}).object(0)
	require.NoError(t, err)
	return o
}

// streamObj writes a stream object body with its /Length.
func streamObj(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// pdfFile assembles a PDF from object bodies (object i+1 is objs[i]) with a
// classic cross-reference table and a trailer naming object 1 the root, plus
// the trailer entries in extra. offs are the objects' offsets.
func pdfFile(objs []string, extra string) (data []byte, offs []int) {
	var buf bytes.Buffer
	buf.WriteString("%PDF-1.4\n")
	for i, o := range objs {
		offs = append(offs, buf.Len())
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&buf, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, extra, xref)
	return buf.Bytes(), offs
}

// onePage returns the objects of a one-page document showing content in
// Helvetica (font resource /F1), objects 1 to 5.
func onePage(content string) []string {
	return []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		streamObj("", []byte(content)),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
	}
}

// extractText runs Extract on data without limits and returns its paragraphs' text.
func extractText(t *testing.T, data []byte) []string {
	t.Helper()
	text, err := Extract(context.Background(), bytes.NewReader(data), int64(len(data)), &testBudget{}, Limits{})
	require.NoError(t, err)
	var out []string
	for _, p := range text.Paragraphs {
		out = append(out, p.Text)
	}
	return out
}
