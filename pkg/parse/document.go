// Package parse turns untrusted document bytes into structured text blocks.
//
// Every parser is defensive: input sizes, inflated bytes, entry counts, pages,
// extracted text, the memory a parser retains and time are bounded by Limits,
// and a panic inside a parser is recovered and reported as an *Error with
// CodeParseError. A document over a limit yields an error and no Document, so
// nothing is ever indexed half.
package parse

import (
	"errors"
	"fmt"
	"time"
)

// Format names a document format we know how to parse.
type Format string

// Formats we can parse. The string value is stable and stored with documents.
const (
	FormatText     Format = "text"
	FormatMarkdown Format = "markdown"
	FormatCSV      Format = "csv"
	FormatHTML     Format = "html"
	FormatPDF      Format = "pdf"
	FormatDOCX     Format = "docx"
	FormatPPTX     Format = "pptx"
	FormatXLSX     Format = "xlsx"
	FormatODT      Format = "odt"
	FormatRTF      Format = "rtf"
	FormatEPUB     Format = "epub"
	FormatEML      Format = "eml"
	// Pictures: their text is read by OCR (see Document.Scans).
	FormatPNG  Format = "png"
	FormatJPEG Format = "jpeg"
	FormatWebP Format = "webp"
	FormatTIFF Format = "tiff"
)

// MIME returns the canonical media type of the format.
func (f Format) MIME() string {
	switch f {
	case FormatText:
		return "text/plain"
	case FormatMarkdown:
		return "text/markdown"
	case FormatCSV:
		return "text/csv"
	case FormatHTML:
		return "text/html"
	case FormatPDF:
		return "application/pdf"
	case FormatDOCX:
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case FormatPPTX:
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	case FormatXLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case FormatODT:
		return "application/vnd.oasis.opendocument.text"
	case FormatRTF:
		return "application/rtf"
	case FormatEPUB:
		return "application/epub+zip"
	case FormatEML:
		return "message/rfc822"
	case FormatPNG:
		return "image/png"
	case FormatJPEG:
		return "image/jpeg"
	case FormatWebP:
		return "image/webp"
	case FormatTIFF:
		return "image/tiff"
	}
	return "application/octet-stream"
}

// BlockKind says what a block is, so the chunker can keep structure.
type BlockKind int

// Block kinds.
const (
	KindParagraph BlockKind = iota
	KindHeading
	KindListItem
	KindTable
	KindCode
)

// Block is one structural unit of extracted text, in reading order.
type Block struct {
	Kind BlockKind
	// Text is the block's text. For tables it is the Markdown rendering of Rows.
	Text string
	// Level is the heading level (1 = top) for headings, the nesting depth for list items.
	Level int
	// Page is the 1-based page (or slide, or sheet) the block comes from; 0 when unknown.
	Page int
	// Rows holds a table's cells, header row first; nil for other kinds.
	Rows [][]string
}

// Document is the parsed form of an uploaded file.
type Document struct {
	Format Format
	Title  string
	Blocks []Block
	// Pages is the number of pages (slides, sheets) when the format has them.
	Pages int
	// Scans are the pages whose text is in pictures only: an uploaded image's
	// pages, and the pages of a PDF without a text layer that show pictures.
	// They have no blocks; OCR reads them (AddPageText puts what it read in).
	Scans []Scan
}

// Scan is a page whose text only OCR can read.
type Scan struct {
	// Page is the 1-based page the text belongs to.
	Page int
	// Images are the page's pictures, upright, top to bottom.
	Images []Image
}

// Image is a picture encoded for a reader of pictures: PNG or JPEG.
type Image struct {
	// MIME is "image/png" or "image/jpeg".
	MIME string
	// Data is the encoded picture.
	Data []byte
	// Width and Height are its size in pixels.
	Width, Height int
}

// Error codes reported on failed documents. They are stable machine words.
const (
	CodeUnsupported = "unsupported_media_type"
	CodeEncrypted   = "encrypted"
	CodeCorrupt     = "corrupt"
	CodeEmpty       = "empty"
	CodeTooLarge    = "too_large"
	CodeParseError  = "parse_error"
	CodeTimeout     = "parse_timeout"
	// CodeNeedsOCR is a document whose text is only in pictures (an image, a
	// scanned PDF) where no OCR is configured.
	CodeNeedsOCR = "needs_ocr"
)

// Error is a parse failure with a stable code and a message safe to show the user.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err when it is (or wraps) an *Error, else CodeParseError.
func CodeOf(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return CodeParseError
}

// Limits bound the work one document may cost.
type Limits struct {
	// MaxInflatedBytes bounds the bytes read out of a container (ZIP) in total, counted as read.
	MaxInflatedBytes int64
	// MaxEntries bounds the number of entries a container may have.
	MaxEntries int
	// MaxPages bounds the pages (slides, sheets) parsed.
	MaxPages int
	// MaxTextBytes bounds the extracted text; parsing stops with CodeTooLarge past it.
	MaxTextBytes int64
	// MaxRetainedBytes bounds the memory a parser holds at once: the rows, cells,
	// elements, shared strings, decoded streams and tables it keeps while it reads,
	// and the blocks of the result. It is an estimate of the heap kept, charged as
	// things are kept and credited as they are let go, so a hostile file (a CSV of
	// millions of tiny cells, a page of millions of elements) fails with
	// CodeTooLarge instead of exhausting the worker. Formats read as streams (text,
	// CSV, Markdown, HTML, mail, RTF, the XML parts of Office files) cost memory for
	// what they keep, not for their size; a PDF is held whole and is charged its
	// size. Bounded working buffers come on top: one CSV row, XML or HTML token is
	// at most an eighth of this budget. Zero means no limit.
	MaxRetainedBytes int64
	// Timeout bounds the time spent parsing one document.
	Timeout time.Duration
}

// DefaultLimits are generous for real documents and small enough to stop bombs.
func DefaultLimits() Limits {
	return Limits{
		MaxInflatedBytes: 512 << 20,
		MaxEntries:       10000,
		MaxPages:         5000,
		MaxTextBytes:     64 << 20,
		MaxRetainedBytes: 256 << 20,
		Timeout:          2 * time.Minute,
	}
}
