package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/youworker/youworker/pkg/llm"
)

// Names of the web tools.
const (
	WebSearchToolName = "web_search"
	FetchPageToolName = "fetch_page"
)

// Web search limits: the default keeps the prompt small, the maximum keeps a
// greedy model from flooding it.
const (
	DefaultWebResults = 5
	MaxWebResults     = 10
)

// WebSearcher finds pages on the web for a query, best first (a SearXNG
// instance). Errors written for people are *ToolError.
type WebSearcher interface {
	SearchWeb(ctx context.Context, query string, limit int) ([]WebResult, error)
}

// WebResult is one page a web search found.
type WebResult struct {
	URL     string
	Title   string
	Snippet string
}

// PageReader returns the readable text of a web page, fetched through the
// guarded client. Errors written for people (a blocked address, a page that is
// gone) are *ToolError.
type PageReader interface {
	ReadPage(ctx context.Context, url string) (WebPage, error)
}

// WebPage is a page's readable text.
type WebPage struct {
	URL   string
	Title string
	Text  string
}

// webSearchTool is web_search for one turn: its results are numbered with the
// turn's other sources, so the answer cites them as [n] like passages.
type webSearchTool struct {
	web   WebSearcher
	limit int
	book  *sources
	log   *slog.Logger
}

var webSearchSchema = json.RawMessage(`{
  "type": "object",
  "properties": {
    "query": {"type": "string", "minLength": 1, "description": "What to look for on the web."},
    "limit": {"type": "integer", "minimum": 1, "maximum": ` + strconv.Itoa(MaxWebResults) + `, "description": "How many results to return."}
  },
  "required": ["query"],
  "additionalProperties": false
}`)

// Spec implements Tool.
func (t *webSearchTool) Spec() llm.ToolSpec {
	return llm.ToolSpec{
		Name: WebSearchToolName,
		Description: "Search the public web. Returns numbered results [n] with their title, URL and a snippet; " +
			"cite the results you use as [n]. Snippets are short: call fetch_page on a result's URL to read the page.",
		Parameters: webSearchSchema,
	}
}

// Call implements Tool.
func (t *webSearchTool) Call(ctx context.Context, call Call) (Result, error) {
	defaultLimit := t.limit
	if defaultLimit <= 0 {
		defaultLimit = DefaultWebResults
	}
	query, limit, err := decodeSearchArgs(call.Arguments, defaultLimit, MaxWebResults)
	if err != nil {
		return Result{}, err
	}
	found, err := t.web.SearchWeb(ctx, query, limit)
	if err != nil {
		if _, ok := errors.AsType[*ToolError](err); ok {
			return Result{}, err
		}
		t.log.WarnContext(ctx, "web search failed", "error", err)
		return Result{}, fmt.Errorf("%w: %w", &ToolError{Message: "the web search failed"}, err)
	}
	passages := make([]Passage, 0, len(found))
	for _, r := range found {
		passages = append(passages, Passage{URL: r.URL, Filename: titleOr(r.Title, r.URL), Text: r.Snippet})
	}
	numbered := t.book.number(passages)
	if len(numbered) == 0 {
		return Result{Text: "No results found on the web for this query.", Preview: "no results"}, nil
	}
	var b strings.Builder
	hosts := make([]string, 0, len(numbered))
	for i, p := range numbered {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(FormatPassage(p))
		if h := hostOf(p.URL); h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return Result{Text: b.String(), Preview: fmt.Sprintf("%d results: %s", len(numbered), Preview(strings.Join(hosts, ", "))), Passages: numbered}, nil
}

// fetchPageTool is fetch_page for one turn: the page it reads is numbered with
// the turn's other sources (keeping the number web_search gave its URL).
type fetchPageTool struct {
	pages PageReader
	book  *sources
	log   *slog.Logger
}

var fetchPageSchema = json.RawMessage(`{
  "type": "object",
  "properties": {
    "url": {"type": "string", "minLength": 1, "description": "The http:// or https:// URL of the page, for example one web_search returned."}
  },
  "required": ["url"],
  "additionalProperties": false
}`)

// Spec implements Tool.
func (t *fetchPageTool) Spec() llm.ToolSpec {
	return llm.ToolSpec{
		Name: FetchPageToolName,
		Description: "Read a web page: returns its main text (headings, lists and tables kept) under a number [n]; " +
			"cite what you use from it as [n].",
		Parameters: fetchPageSchema,
	}
}

// Call implements Tool.
func (t *fetchPageTool) Call(ctx context.Context, call Call) (Result, error) {
	var args struct {
		URL string `json:"url"`
	}
	if err := decodeArgs(call.Arguments, &args); err != nil {
		return Result{}, err
	}
	raw := strings.TrimSpace(args.URL)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Result{}, toolErrorf("url must be an http:// or https:// URL")
	}
	page, err := t.pages.ReadPage(ctx, raw)
	if err != nil {
		if _, ok := errors.AsType[*ToolError](err); ok {
			return Result{}, err
		}
		t.log.WarnContext(ctx, "page read failed", "error", err)
		return Result{}, fmt.Errorf("%w: %w", &ToolError{Message: "the page could not be read"}, err)
	}
	text := strings.TrimSpace(page.Text)
	if text == "" {
		return Result{}, toolErrorf("the page has no readable text")
	}
	snippet := truncateRunes(oneLine(text), previewRunes)
	np := t.book.number([]Passage{{URL: raw, Filename: titleOr(page.Title, raw), Text: snippet}})[0]
	head := fmt.Sprintf("[%d] %s <%s>", np.Index, oneLine(np.Filename), raw)
	// The page is cited through the turn's book, which numbered it above; the
	// result itself is text, so fitting the context window treats it as one.
	return Result{
		Text:    head + "\n\n" + text,
		Preview: Preview(fmt.Sprintf("[%d] %s (%s): %d characters", np.Index, np.Filename, hostOf(raw), len([]rune(text)))),
	}, nil
}

func titleOr(title, rawURL string) string {
	if t := oneLine(title); t != "" {
		return truncateRunes(t, 200)
	}
	if h := hostOf(rawURL); h != "" {
		return h
	}
	return rawURL
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
