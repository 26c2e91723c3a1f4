package ocr_test

import (
	"context"
	"errors"
	"image"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/ocr"
	"github.com/youworker/youworker/pkg/ocr/ocrtest"
	"github.com/youworker/youworker/pkg/ollamahttp"
	"github.com/youworker/youworker/pkg/parse"
)

func png(img image.Image) parse.Image {
	b := img.Bounds()
	return parse.Image{MIME: "image/png", Data: ocrtest.PNG(img), Width: b.Dx(), Height: b.Dy()}
}

func visionModel(t *testing.T, url string) llm.ChatModel {
	t.Helper()
	m, err := llm.NewOllama(llm.OllamaConfig{URL: url, Model: llmtest.VisionModel,
		Settings: ollamahttp.Settings{MaxRetries: 1, RetryInitial: time.Millisecond, RetryMax: time.Millisecond, ConnectTimeout: time.Second}}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestVisionModelReadsAPageInOneRequest(t *testing.T) {
	t.Parallel()
	server := llmtest.New(t)
	top, bottom := ocrtest.Page("Invoice 4711"), ocrtest.Page("Total due: 120 EUR")
	server.Teach(top, "# Invoice 4711")
	server.Teach(bottom, "Total due: 120 EUR")
	r := ocr.NewVision(visionModel(t, server.URL), llmtest.VisionModel)

	text, err := r.Read(t.Context(), parse.Scan{Page: 3, Images: []parse.Image{png(top), png(bottom)}})
	require.NoError(t, err)
	require.Equal(t, "# Invoice 4711\n\nTotal due: 120 EUR", text)
	reqs := server.ChatRequests()
	require.Len(t, reqs, 1, "one request a page, whatever its pictures")
	require.Len(t, reqs[0].Messages[0].Images, 2)
	require.Equal(t, llmtest.VisionModel, reqs[0].Model)
	require.NotNil(t, reqs[0].Options["temperature"], "a transcript, not a story: greedy decoding")

	text, err = r.Read(t.Context(), parse.Scan{Page: 1, Images: []parse.Image{png(ocrtest.Page("never taught"))}})
	require.NoError(t, err)
	require.Empty(t, text, "a picture without text reads as nothing")
}

func TestVisionModelFailuresSayWhetherToWait(t *testing.T) {
	t.Parallel()
	server := llmtest.New(t)
	page := parse.Scan{Page: 1, Images: []parse.Image{png(ocrtest.Page("x"))}}

	server.RemoveModel(llmtest.VisionModel)
	_, err := ocr.NewVision(visionModel(t, server.URL), llmtest.VisionModel).Read(t.Context(), page)
	require.ErrorIs(t, err, ocr.ErrNotInstalled)

	_, err = ocr.NewVision(visionModel(t, llmtest.DeadURL(t)), llmtest.VisionModel).Read(t.Context(), page)
	require.ErrorIs(t, err, ocr.ErrUnavailable)
}

// readerFunc is a Reader made of a function.
type readerFunc func(context.Context, parse.Scan) (string, error)

func (f readerFunc) Read(ctx context.Context, p parse.Scan) (string, error) { return f(ctx, p) }

func TestFallbackReadsWhenTheModelCannot(t *testing.T) {
	t.Parallel()
	var primaryErr error
	f := &ocr.Fallback{
		Primary:   readerFunc(func(context.Context, parse.Scan) (string, error) { return "by the model", primaryErr }),
		Secondary: readerFunc(func(context.Context, parse.Scan) (string, error) { return "by Tesseract", nil }),
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "by the model"},
		{ocr.ErrUnavailable, "by Tesseract"},
		{ocr.ErrNotInstalled, "by Tesseract"},
	} {
		primaryErr = tc.err
		text, err := f.Read(t.Context(), parse.Scan{Page: 1})
		require.NoError(t, err)
		require.Equal(t, tc.want, text)
	}
	primaryErr = errors.New("something else")
	_, err := f.Read(t.Context(), parse.Scan{Page: 1})
	require.ErrorContains(t, err, "something else", "only a reader that cannot read at all is replaced")
}

func TestTesseractReadsRenderedText(t *testing.T) {
	t.Parallel()
	cmd := ocrtest.Tesseract(t)
	r, err := ocr.NewTesseract(t.Context(), cmd, "eng")
	require.NoError(t, err)
	page := ocrtest.Page("INVOICE 4711", "Quarterly report for March")
	photo := ocrtest.Page("Delivered to Harbour Street")
	text, err := r.Read(t.Context(), parse.Scan{Page: 1, Images: []parse.Image{png(page),
		{MIME: "image/jpeg", Data: ocrtest.JPEG(photo), Width: photo.Bounds().Dx(), Height: photo.Bounds().Dy()}}})
	require.NoError(t, err)
	for _, word := range []string{"INVOICE", "4711", "Quarterly", "report", "March", "Harbour", "Street"} {
		require.Contains(t, text, word)
	}
	require.Less(t, strings.Index(text, "March"), strings.Index(text, "Harbour"), "pictures in order")
}

func TestTesseractNeedsItsLanguages(t *testing.T) {
	t.Parallel()
	_, err := ocr.NewTesseract(t.Context(), "no-such-tesseract-command", "eng")
	require.ErrorIs(t, err, ocr.ErrNoTesseract)
	cmd := ocrtest.Tesseract(t)
	_, err = ocr.NewTesseract(t.Context(), cmd, "eng+xyz")
	require.ErrorContains(t, err, `no data for the language "xyz"`)
	require.ErrorContains(t, err, "tesseract-ocr-xyz")
}

func TestNewChoosesTheReaders(t *testing.T) {
	t.Parallel()
	server := llmtest.New(t)
	model := visionModel(t, server.URL)
	r, desc := ocr.New(t.Context(), ocr.Config{Tesseract: "off"}, nil)
	require.Nil(t, r, "neither: documents that need OCR fail with needs_ocr")
	require.Equal(t, "none", desc)
	r, _ = ocr.New(t.Context(), ocr.Config{Tesseract: "no-such-tesseract-command", Languages: "eng"}, nil)
	require.Nil(t, r)
	r, desc = ocr.New(t.Context(), ocr.Config{VisionModel: llmtest.VisionModel, Model: model, Tesseract: "off"}, nil)
	require.IsType(t, &ocr.Vision{}, r)
	require.Equal(t, "the vision model test-vision", desc)

	cmd := ocrtest.Tesseract(t)
	r, _ = ocr.New(t.Context(), ocr.Config{Tesseract: cmd, Languages: "eng"}, nil)
	require.IsType(t, &ocr.Tesseract{}, r)
	r, desc = ocr.New(t.Context(), ocr.Config{VisionModel: llmtest.VisionModel, Model: model, Tesseract: cmd, Languages: "eng"}, nil)
	require.IsType(t, &ocr.Fallback{}, r)
	require.Contains(t, desc, "else Tesseract")
}
