// Package ocr reads the text of pictures: uploaded images and the scanned pages
// of PDFs (parse.Scan). A vision model on Ollama reads them when one is
// configured; Tesseract reads them when its command is installed, instead of the
// model or when the model does not answer. With neither, nothing reads them and
// such documents fail with parse.CodeNeedsOCR (package ingest decides that).
package ocr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/parse"
)

// Reader reads the text of one scanned page from its pictures, in reading
// order; "" when the pictures hold none.
type Reader interface {
	Read(ctx context.Context, page parse.Scan) (string, error)
}

// Sentinel errors of readers, wrapped; test them with errors.Is.
var (
	// ErrUnavailable means the reader did not answer (the model server is down
	// or kept failing): the page may be read later.
	ErrUnavailable = errors.New("ocr unavailable")
	// ErrNotInstalled means the configured vision model is not on the model
	// server: no page will be read until an operator installs it.
	ErrNotInstalled = errors.New("ocr model not installed")
)

// visionPrompt asks for a transcript and nothing else: what the model writes
// is indexed as the page's text.
const visionPrompt = `Transcribe all the text in the image of this document page exactly as it is written, in reading order.
Separate paragraphs with a blank line and write headings as Markdown headings. Write tables as Markdown tables.
Do not describe the image, translate, summarise, correct or comment. If there is no text in the image, answer with nothing.`

// Vision reads pages with a vision model: one chat request a page, showing it
// the page's pictures.
type Vision struct {
	model llm.ChatModel
	name  string
}

// NewVision returns a reader asking model, by the name name, to transcribe pages.
func NewVision(model llm.ChatModel, name string) *Vision {
	return &Vision{model: model, name: name}
}

// Read implements Reader.
func (v *Vision) Read(ctx context.Context, page parse.Scan) (string, error) {
	msg := llm.Message{Role: llm.RoleUser, Content: visionPrompt}
	for _, img := range page.Images {
		msg.Images = append(msg.Images, img.Data)
	}
	zero := 0.0
	resp, err := v.model.Chat(ctx, llm.Request{Model: v.name, Messages: []llm.Message{msg},
		Options: llm.Options{Temperature: &zero}}, nil)
	switch {
	case err == nil:
		return transcript(resp.Message.Content), nil
	case ctx.Err() != nil:
		return "", fmt.Errorf("read page %d: %w", page.Page, err)
	case errors.Is(err, llm.ErrModelNotFound):
		return "", fmt.Errorf("%w: the vision model %s: %w", ErrNotInstalled, v.name, err)
	default:
		return "", fmt.Errorf("%w: the vision model %s, page %d: %w", ErrUnavailable, v.name, page.Page, err)
	}
}

// transcript is a model's answer without the code fence some models put
// around a transcript.
func transcript(s string) string {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "```"); ok && strings.HasSuffix(rest, "```") {
		rest = strings.TrimSuffix(rest, "```")
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 && !strings.ContainsAny(rest[:nl], " \t") {
			rest = rest[nl+1:] // the fence's language tag ("markdown", "text")
		}
		s = strings.TrimSpace(rest)
	}
	return s
}

// Fallback reads with Primary and, when it cannot read at all (not answering,
// not installed), with Secondary.
type Fallback struct {
	Primary, Secondary Reader
	Logger             *slog.Logger
	// falling is set while the primary fails, so the switch is logged once.
	falling atomic.Bool
}

// Read implements Reader.
func (f *Fallback) Read(ctx context.Context, page parse.Scan) (string, error) {
	text, err := f.Primary.Read(ctx, page)
	if err == nil || ctx.Err() != nil || !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrNotInstalled) {
		if err == nil && f.falling.Swap(false) && f.Logger != nil {
			f.Logger.InfoContext(ctx, "the vision model reads pages again")
		}
		return text, err
	}
	if !f.falling.Swap(true) && f.Logger != nil {
		f.Logger.WarnContext(ctx, "the vision model cannot read pages: Tesseract reads them meanwhile", "error", err)
	}
	return f.Secondary.Read(ctx, page)
}

// Config says which readers to use.
type Config struct {
	// VisionModel is the Ollama model that reads pages; "" for none. Model is
	// the chat adapter that reaches it.
	VisionModel string
	Model       llm.ChatModel
	// Tesseract is the command to run; "" or "off" for none. A command that is
	// not installed, or lacks Languages, is left out with a warning.
	Tesseract string
	// Languages are Tesseract's languages, "eng" or "eng+ita".
	Languages string
}

// New returns the reader the configuration makes — the vision model, falling
// back to Tesseract; either alone — or nil when there is none. description
// says which, for the log.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (r Reader, description string) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "ocr")
	var tess *Tesseract
	if cfg.Tesseract != "" && cfg.Tesseract != "off" {
		t, err := NewTesseract(ctx, cfg.Tesseract, cfg.Languages)
		switch {
		case errors.Is(err, ErrNoTesseract):
			logger.InfoContext(ctx, "Tesseract is not installed", "command", cfg.Tesseract)
		case err != nil:
			logger.WarnContext(ctx, "Tesseract is left out", "error", err)
		default:
			tess = t
		}
	}
	switch {
	case cfg.VisionModel != "" && cfg.Model != nil && tess != nil:
		return &Fallback{Primary: NewVision(cfg.Model, cfg.VisionModel), Secondary: tess, Logger: logger},
			fmt.Sprintf("the vision model %s, else Tesseract (%s)", cfg.VisionModel, cfg.Languages)
	case cfg.VisionModel != "" && cfg.Model != nil:
		return NewVision(cfg.Model, cfg.VisionModel), "the vision model " + cfg.VisionModel
	case tess != nil:
		return tess, fmt.Sprintf("Tesseract (%s)", cfg.Languages)
	}
	return nil, "none"
}
