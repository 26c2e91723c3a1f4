package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/ocr"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/tracing"
)

// needsOCR is what the owner of a picture or a scan is told when nothing here
// reads pictures.
const needsOCR = "the document's text is only in pictures (an image, or scanned pages) and no OCR is set up to read it; " +
	"an administrator can set YW_VISION_MODEL or install Tesseract"

// readScans has OCR read the document's scanned pages, one request a page with
// at most OCRConcurrency pages of the worker read at once, recording the pages
// read as they finish, and puts their text in with its page numbers. Without
// a reader a document keeps the text it has, as before OCR existed, and one
// without any fails with needs_ocr.
func (w *Worker) readScans(ctx context.Context, log *slog.Logger, doc store.Document, parsed *parse.Document, clock *stageClock) (err error) {
	scans := parsed.Scans
	if len(scans) == 0 {
		return nil
	}
	if w.cfg.OCR == nil {
		if !parsed.HasText() {
			return parse.Errorf(parse.CodeNeedsOCR, "%s", needsOCR)
		}
		log.InfoContext(ctx, "scanned pages left unread: no OCR is set up", "pages", len(scans))
		parsed.Scans = nil
		return nil
	}
	ctx, span := tracing.Start(ctx, "ingest.ocr", attribute.Int("ocr.pages", len(scans)))
	defer tracing.End(span, &err)
	total := len(scans)
	if err := w.store.SetPages(ctx, doc.ID, doc.Generation, 0, total); err != nil {
		return err
	}
	texts := make([]string, total)
	// Room for every count: the readers never wait for a progress UPDATE.
	progress := make(chan int, total)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.recordPages(gctx, doc, progress, total) })
	g.Go(func() error {
		defer close(progress)
		pages, pctx := errgroup.WithContext(gctx)
		var mu sync.Mutex // orders progress sends, so counts only grow
		done := 0
	next:
		for i := range scans {
			select {
			case w.ocrSlots <- struct{}{}:
			case <-pctx.Done():
				break next
			}
			pages.Go(func() error {
				defer func() { <-w.ocrSlots }()
				text, err := w.cfg.OCR.Read(pctx, scans[i])
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				texts[i] = text
				scans[i].Images = nil // read: its pictures can go
				done++
				progress <- done
				return nil
			})
		}
		return pages.Wait()
	})
	if err := g.Wait(); err != nil {
		if errors.Is(err, ocr.ErrNotInstalled) && ctx.Err() == nil {
			return &parse.Error{Code: parse.CodeNeedsOCR, Err: err,
				Message: "the model set up to read scanned pages and pictures is not installed on the model server, and Tesseract is not installed; ask an administrator"}
		}
		return err
	}
	parsed.PutScanText(texts)
	clock.lap(StageOCR)
	log.InfoContext(ctx, "scanned pages read", "pages", total)
	if !parsed.HasText() {
		return parse.Errorf(parse.CodeEmpty, "the document contains no text, not even in its pictures")
	}
	return nil
}

// recordPages writes the latest count of pages read whenever it changes,
// skipping counts superseded while the previous UPDATE ran.
func (w *Worker) recordPages(ctx context.Context, doc store.Document, progress <-chan int, total int) error {
	for done := range progress {
		if err := w.store.SetPages(ctx, doc.ID, doc.Generation, newest(progress, done), total); err != nil {
			return err
		}
	}
	return nil
}
