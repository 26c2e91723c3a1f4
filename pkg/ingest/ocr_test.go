package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/ingest"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/ocr"
	"github.com/youworker/youworker/pkg/ocr/ocrtest"
	"github.com/youworker/youworker/pkg/ollamahttp"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
)

// visionReader reads pages with the test vision model of server.
func visionReader(t *testing.T, server *llmtest.Server) *ocr.Vision {
	t.Helper()
	m, err := llm.NewOllama(llm.OllamaConfig{URL: server.URL, Model: llmtest.VisionModel,
		Settings: ollamahttp.Settings{MaxRetries: -1, ConnectTimeout: time.Second}}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return ocr.NewVision(m, llmtest.VisionModel)
}

// chunkTexts lists a ready document's chunks as "page: text".
func (r *rig) chunkTexts(doc store.Document) []string {
	r.t.Helper()
	chunks, err := r.store.ListChunks(context.Background(), doc.ID, 0, doc.ChunkCount+1)
	require.NoError(r.t, err)
	var out []string
	for _, c := range chunks {
		page := 0
		if c.Page != nil {
			page = *c.Page
		}
		out = append(out, fmt.Sprintf("%d: %s", page, c.Text))
	}
	return out
}

// gatedReader reads a page only once the test lets it, and counts how many
// pages are being read at once.
type gatedReader struct {
	next    ocr.Reader
	gate    chan struct{}
	mu      sync.Mutex
	reading int
	most    int
}

func (g *gatedReader) Read(ctx context.Context, page parse.Scan) (string, error) {
	g.mu.Lock()
	g.reading++
	g.most = max(g.most, g.reading)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.reading--
		g.mu.Unlock()
	}()
	select {
	case <-g.gate:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return g.next.Read(ctx, page)
}

func TestScannedPDFIsReadPageByPage(t *testing.T) {
	t.Parallel()
	server := llmtest.New(t)
	pages := []string{"The harbour opens at dawn.", "Ferries leave every hour.", "Tickets are sold on board.", "Dogs travel free."}
	var pdfPages []ocrtest.PDFPage
	for i, text := range pages {
		pic := ocrtest.Page(text)
		server.Teach(pic, text)
		if i == 0 { // stored as the JPEG it is, which decodes to other pixels
			require.NoError(t, server.TeachEncoded(ocrtest.JPEG(pic), text))
		}
		pdfPages = append(pdfPages, ocrtest.PDFPage{Picture: pic, Encoding: []ocrtest.Encoding{ocrtest.DCT, ocrtest.Flate, ocrtest.FlateBits, ocrtest.Mask}[i]})
		if i == 1 {
			pdfPages = append(pdfPages, ocrtest.PDFPage{Text: "Timetable typed on page three"})
		}
	}
	// The DCT page goes as the same JPEG; the black and white ones as the same two tones.
	server.Teach(ocrtest.TwoTone(ocrtest.Page(pages[2])), pages[2])
	server.Teach(ocrtest.TwoTone(ocrtest.Page(pages[3])), pages[3])

	gate := &gatedReader{next: visionReader(t, server), gate: make(chan struct{})}
	r := newRig(t, nil)
	r.reconfigure(func(c *ingest.Config) {
		c.OCR, c.OCRConcurrency = gate, 2
		c.Chunk.TargetTokens, c.Chunk.OverlapTokens = 8, 0 // a chunk a page, to see each one's page number
	})
	doc := r.upload("ferry.pdf", ocrtest.PDF(pdfPages...))
	r.start(queue.RunOptions{})

	// Each page read shows in the document's progress, while it is parsing.
	for done := range len(pages) + 1 {
		d := r.wait(doc.ID, 30*time.Second, func(d store.Document) bool { return d.Progress.PagesDone == done && d.Progress.PagesTotal == 4 })
		if done < len(pages) {
			require.Equal(t, "parsing", *d.Stage)
			gate.gate <- struct{}{}
		}
	}
	ready := r.wait(doc.ID, 30*time.Second, finished)
	r.requireIndexed(ready)
	require.Equal(t, 2, gate.most, "no more pages read at once than the worker allows")
	require.Len(t, server.ChatRequests(), 4, "one request a page")
	// Every page's text is indexed; a chunk starting on a page says which.
	wantPage := map[string]int{"The harbour": 1, "Ferries": 2, "Timetable": 3, "Tickets": 4, "Dogs": 5}
	starts := 0
	var texts []string
	for _, c := range r.chunkTexts(ready) {
		page, text, _ := strings.Cut(c, ": ")
		texts = append(texts, text)
		for start, p := range wantPage {
			if strings.HasPrefix(text, start) {
				require.Equal(t, fmt.Sprint(p), page, "the page of %q", text)
				starts++
			}
		}
	}
	require.GreaterOrEqual(t, starts, 4)
	all := strings.Join(texts, " ")
	for _, text := range append(pages, "Timetable typed on page three") {
		for _, word := range strings.Fields(strings.TrimSuffix(text, ".")) {
			require.Contains(t, all, word)
		}
	}
	require.Equal(t, 4, ready.Progress.PagesTotal)
}

func TestPicturesNeedOCR(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.start(queue.RunOptions{})
	photo := r.upload("whiteboard.png", ocrtest.PNG(ocrtest.Page("Sprint goals")))
	failed := r.wait(photo.ID, 30*time.Second, finished)
	require.Equal(t, store.StatusFailed, failed.Status)
	require.Equal(t, parse.CodeNeedsOCR, failed.Error.Code)
	require.Contains(t, failed.Error.Message, "YW_VISION_MODEL")

	// A PDF with typed pages keeps them, as before OCR: its scans go unread.
	mixed := r.upload("mixed.pdf", ocrtest.PDF(ocrtest.PDFPage{Text: "Typed minutes of the meeting"},
		ocrtest.PDFPage{Picture: ocrtest.Page("a signed page"), Encoding: ocrtest.Flate}))
	ready := r.wait(mixed.ID, 30*time.Second, finished)
	r.requireIndexed(ready)
	require.Equal(t, []string{"1: Typed minutes of the meeting"}, r.chunkTexts(ready))
}

func TestVisionModelNotInstalledNeedsOCR(t *testing.T) {
	t.Parallel()
	server := llmtest.New(t)
	server.RemoveModel(llmtest.VisionModel)
	r := newRig(t, nil)
	r.reconfigure(func(c *ingest.Config) { c.OCR = visionReader(t, server) })
	r.start(queue.RunOptions{})
	doc := r.upload("scan.jpg", ocrtest.JPEG(ocrtest.Page("Receipt")))
	failed := r.wait(doc.ID, 30*time.Second, finished)
	require.Equal(t, store.StatusFailed, failed.Status)
	require.Equal(t, parse.CodeNeedsOCR, failed.Error.Code)
	require.Contains(t, failed.Error.Message, "not installed")
}

func TestTesseractReadsWhenTheVisionModelIsDown(t *testing.T) {
	t.Parallel()
	cmd := ocrtest.Tesseract(t)
	tess, err := ocr.NewTesseract(context.Background(), cmd, "eng")
	require.NoError(t, err)
	down := llmtest.New(t)
	down.Close()
	m, err := llm.NewOllama(llm.OllamaConfig{URL: down.URL, Model: llmtest.VisionModel,
		Settings: ollamahttp.Settings{MaxRetries: -1, ConnectTimeout: time.Second}}, nil)
	require.NoError(t, err)
	r := newRig(t, nil)
	r.reconfigure(func(c *ingest.Config) {
		c.OCR = &ocr.Fallback{Primary: ocr.NewVision(m, llmtest.VisionModel), Secondary: tess}
	})
	r.start(queue.RunOptions{})
	doc := r.upload("fax.tiff", ocrtest.TIFF(ocrtest.Page("INVOICE 4711", "Harbour Street 12"), ocrtest.Page("Total due 120 EUR")))
	ready := r.wait(doc.ID, 60*time.Second, finished)
	r.requireIndexed(ready)
	text := strings.Join(r.chunkTexts(ready), "\n")
	for _, want := range []string{"INVOICE", "4711", "Harbour", "Street", "Total", "120"} {
		require.Contains(t, text, want)
	}
	require.Regexp(t, `^1: .*INVOICE.*\n\n`, text)
	require.Regexp(t, `\n\nTotal due 120`, text, "the pages in order")
}
