package pdf

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExtract(t *testing.T) {
	t.Parallel()
	content := "BT /F1 24 Tf 72 720 Td (A Large Title) Tj ET " +
		"BT /F1 10 Tf 72 680 Td (Body text that runs over) Tj 0 -12 Td (two lines of the page.) Tj ET " +
		"BT /F1 10 Tf 72 620 Td (1. a numbered item) Tj ET"
	objs := append(onePage(content), "<< /Title <FEFF00440065006D006F0020263A> >>")
	data, _ := pdfFile(objs, "/Info 6 0 R")
	budget := &testBudget{}
	text, err := Extract(context.Background(), bytes.NewReader(data), int64(len(data)), budget, Limits{})
	require.NoError(t, err)
	require.Equal(t, "Demo ☺", text.Title, "a UTF-16 title")
	require.Equal(t, 1, text.Pages)
	require.Equal(t, []Paragraph{
		{Text: "A Large Title", Page: 1, Heading: 1},
		{Text: "Body text that runs over two lines of the page.", Page: 1},
		{Text: "1. a numbered item", Page: 1, ListItem: true},
	}, text.Paragraphs)
	// What stays charged: the file, the object cache, the paragraphs.
	require.Positive(t, text.Held)
	require.GreaterOrEqual(t, budget.held, int64(len(data))+text.Held)
}

func TestExtractFailures(t *testing.T) {
	t.Parallel()
	page, _ := pdfFile(onePage(helloContent), "")
	twoPages, _ := pdfFile([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R >>",
		"<< /Type /Page /Parent 2 0 R >>",
	}, "")
	encrypted, _ := pdfFile(append(onePage(helloContent), "<< /Filter /FooSecurity /V 1 /R 2 >>"), "/Encrypt 6 0 R")
	cases := []struct {
		name    string
		data    []byte
		limits  Limits
		kind    Kind
		message string
	}{
		{"empty", nil, Limits{}, KindEmpty, "the file is empty"},
		{"not a PDF", []byte("just some text"), Limits{}, KindCorrupt, "the file is not a PDF (no %PDF header)"},
		{"truncated", []byte("%PDF-1.7\n1 0 obj << /Type /Catalog"), Limits{}, KindCorrupt, "the PDF has no readable pages"},
		{"larger than the inflation limit", page, Limits{MaxInflatedBytes: 100}, KindTooLarge, "the PDF is larger than 100 bytes"},
		{"too many pages", twoPages, Limits{MaxPages: 1}, KindTooLarge, "the PDF has more than 1 pages"},
		{"too much text", page, Limits{MaxTextBytes: 5}, KindTooLarge, "the document has more than 5 bytes of text"},
		{"an unknown security handler", encrypted, Limits{}, KindEncrypted, `the PDF is encrypted with the "FooSecurity" security handler`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			text, err := Extract(context.Background(), bytes.NewReader(tc.data), int64(len(tc.data)), &testBudget{}, tc.limits)
			require.Nil(t, text)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.kind, e.Kind)
			require.Equal(t, tc.message, e.Message)
		})
	}
}

// TestExtractOverBudget: the budget's own error comes back unwrapped, naming
// what did not fit, however deep in the reader it happened.
func TestExtractOverBudget(t *testing.T) {
	t.Parallel()
	data, _ := pdfFile(onePage(helloContent), "")
	for _, tc := range []struct {
		limit int64
		what  Use
	}{
		{int64(len(data)) - 1, UseFile},
		{int64(len(data)) + 600, UseObjects},
	} {
		budget := &testBudget{limit: tc.limit}
		text, err := Extract(context.Background(), bytes.NewReader(data), int64(len(data)), budget, Limits{})
		require.Nil(t, text)
		require.ErrorIs(t, err, errTestBudget)
		require.False(t, errors.As(err, new(overBudget)), "the reader's wrapping is taken off: %#v", err)
		require.Equal(t, tc.what, budget.failed[0])
	}
}

func TestExtractCancelled(t *testing.T) {
	t.Parallel()
	data, _ := pdfFile(onePage(helloContent), "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Extract(ctx, bytes.NewReader(data), int64(len(data)), &testBudget{}, Limits{})
	require.ErrorIs(t, err, context.Canceled)
}
