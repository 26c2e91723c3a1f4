package parse

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// parserFunc parses one format. It must honour ctx and the limits in b.
type parserFunc func(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error)

// parsers maps every supported format to its parser.
var parsers = map[Format]parserFunc{
	FormatText:     parseText,
	FormatMarkdown: parseMarkdown,
	FormatCSV:      parseCSV,
	FormatHTML:     parseHTML,
	FormatEML:      parseEML,
	FormatRTF:      parseRTF,
	FormatPDF:      parsePDF,
	FormatDOCX:     parseDOCX,
	FormatPPTX:     parsePPTX,
	FormatXLSX:     parseXLSX,
	FormatODT:      parseODT,
	FormatEPUB:     parseEPUB,
	FormatPNG:      parseImage,
	FormatJPEG:     parseImage,
	FormatWebP:     parseImage,
	FormatTIFF:     parseTIFF,
}

// Parse parses the document r of the given size and format within limits.
// It never panics: a parser panic becomes an *Error with CodeParseError. A document
// that yields no text and has no scanned pages for OCR to read is an *Error with
// CodeEmpty. A document over a limit (the
// memory budget included) is an *Error with CodeTooLarge and no Document: nothing
// of it is ever indexed half.
func Parse(ctx context.Context, format Format, r io.ReaderAt, size int64, limits Limits) (doc *Document, err error) {
	p, ok := parsers[format]
	if !ok {
		return nil, Errorf(CodeUnsupported, "no parser for format %q", format)
	}
	if limits.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limits.Timeout)
		defer cancel()
	}
	defer func() {
		if rec := recover(); rec != nil {
			doc = nil
			err = &Error{Code: CodeParseError, Message: "the parser failed on this document",
				Err: fmt.Errorf("panic: %v\n%s", rec, debug.Stack())}
		}
	}()
	b := newBudget(ctx, limits)
	doc, err = p(ctx, r, size, b)
	if err == nil && b.over != nil {
		// A parser read past a failure it took for damage (a metadata part, a
		// broken slide): over the memory budget, the document still fails whole.
		doc, err = nil, b.over
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, &Error{Code: CodeTimeout, Message: "parsing took longer than allowed", Err: err}
		}
		if _, ok := err.(*Error); !ok {
			err = &Error{Code: CodeCorrupt, Message: "the file could not be read as " + string(format), Err: err}
		}
		return nil, err
	}
	doc.Format = format
	if !hasText(doc) && len(doc.Scans) == 0 {
		return nil, Errorf(CodeEmpty, "the document contains no text")
	}
	return doc, nil
}

// HasText reports whether any block of the document has text.
func (d *Document) HasText() bool { return hasText(d) }

func hasText(doc *Document) bool {
	for _, b := range doc.Blocks {
		if strings.TrimSpace(b.Text) != "" {
			return true
		}
	}
	return false
}

// Known reports whether a parser exists for f, so a format read from storage
// can be told from one no parser knows.
func (f Format) Known() bool {
	_, ok := parsers[f]
	return ok
}
