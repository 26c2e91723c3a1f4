// Package article turns a web page into the text a reader would read: the main
// content found by Readability (Mozilla's algorithm, in the maintained Go port
// codeberg.org/readeck/go-readability), rendered as plain text that keeps the
// shape of headings, lists and tables (Markdown-like), without navigation,
// scripts or site chrome. The agent's fetch_page reads pages through it, fetched
// with the guarded client.
package article

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"

	readability "codeberg.org/readeck/go-readability/v2"
	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"

	"github.com/youworker/youworker/pkg/safehttp"
)

// Limits of one page.
const (
	// DefaultMaxBytes caps the HTML fetched for one page.
	DefaultMaxBytes = 5 << 20
	// maxElements bounds the elements Readability scores, so a hostile page
	// cannot make it work for minutes.
	maxElements = 100_000
	// maxTextRunes caps the text handed back; the agent shortens it further to
	// fit the model's context.
	maxTextRunes = 200_000
)

// Article is a page's readable text.
type Article struct {
	// URL is where the page was read from, after redirects.
	URL string
	// Title is the page's title, or "" when it has none.
	Title string
	// Text is the readable content: paragraphs separated by blank lines,
	// headings as "## ", list items as "- " or "1. ", table rows as "| a | b |".
	Text string
}

// Extract reads the main content of an HTML page. pageURL resolves relative
// links; it may be nil. When Readability finds no main content (a short page, a
// list of links), the whole body is rendered instead.
func Extract(r io.Reader, pageURL *url.URL) (Article, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return Article{}, fmt.Errorf("read page: %w", err)
	}
	p := readability.NewParser()
	p.MaxElemsToParse = maxElements
	art, err := p.Parse(bytes.NewReader(src), pageURL)
	var a Article
	if err == nil && art.Node != nil {
		a = Article{Title: art.Title(), Text: Render(art.Node)}
	}
	if strings.TrimSpace(a.Text) == "" {
		doc, perr := html.Parse(bytes.NewReader(src))
		if perr != nil {
			return Article{}, fmt.Errorf("parse page: %w", perr)
		}
		body := find(doc, "body")
		if body == nil {
			body = doc
		}
		a.Text = Render(body)
		if a.Title == "" {
			if t := find(doc, "title"); t != nil {
				a.Title = collapse(textOf(t))
			}
		}
	}
	a.Title = strings.TrimSpace(a.Title)
	a.Text = truncate(a.Text, maxTextRunes)
	if pageURL != nil {
		a.URL = pageURL.String()
	}
	return a, nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "\n\n[…the page goes on]"
}

// Reader fetches pages through the guarded client and extracts their text.
type Reader struct {
	Client *safehttp.Client
	// MaxBytes caps one page (0: DefaultMaxBytes).
	MaxBytes int64
}

// ErrNotAPage is a URL that serves something other than a web page or text.
var ErrNotAPage = errors.New("not a web page")

// Read fetches url and returns its readable text. HTML is extracted; plain text
// is returned as is. The client's errors (safehttp.ErrBlocked, a status, a
// time-out) come back wrapped.
func (r Reader) Read(ctx context.Context, rawURL string) (Article, error) {
	max := r.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	resp, err := r.Client.Get(ctx, rawURL, safehttp.Options{MaxBytes: max,
		Accept: []string{"text/html", "application/xhtml+xml", "text/plain", "text/markdown"}})
	if err != nil {
		if errors.Is(err, safehttp.ErrContentType) {
			return Article{}, fmt.Errorf("%w: %w", ErrNotAPage, err)
		}
		return Article{}, err
	}
	defer resp.Body.Close()
	body, err := charset.NewReader(resp.Body, resp.Header.Get("Content-Type"))
	if err != nil {
		body = resp.Body
	}
	if resp.MediaType == "text/plain" || resp.MediaType == "text/markdown" {
		b, err := io.ReadAll(body)
		if err != nil {
			return Article{}, err
		}
		return Article{URL: resp.URL.String(), Text: truncate(strings.ToValidUTF8(string(b), "\uFFFD"), maxTextRunes)}, nil
	}
	a, err := Extract(body, resp.URL)
	if err != nil {
		if errors.Is(err, safehttp.ErrTooLarge) || errors.Is(err, safehttp.ErrTimeout) {
			return Article{}, err
		}
		return Article{}, fmt.Errorf("%w: %w", ErrNotAPage, err)
	}
	return a, nil
}
