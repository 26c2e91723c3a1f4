package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/article"
	"github.com/youworker/youworker/pkg/safehttp"
	"github.com/youworker/youworker/pkg/searxng"
)

// webTools adds the agent's web tools that are configured: web_search when a
// SearXNG instance is set, fetch_page when turned on.
func (a *App) webTools(tools *agent.Toolset) error {
	cfg := a.Config
	if cfg.Web.SearXNGURL != "" {
		c, err := searxng.New(cfg.Web.SearXNGURL, 0)
		if err != nil {
			return err
		}
		tools.Web, tools.WebResults = webSearcher{c}, cfg.Web.SearchResults
	}
	if cfg.Web.FetchPage {
		tools.Pages = pageReader{article.Reader{Client: cfg.Fetch.Client(), MaxBytes: min(cfg.Fetch.MaxBytes, article.DefaultMaxBytes)}}
	}
	return nil
}

// webSearcher is web_search on a SearXNG instance.
type webSearcher struct{ c *searxng.Client }

func (w webSearcher) SearchWeb(ctx context.Context, query string, limit int) ([]agent.WebResult, error) {
	res, err := w.c.Search(ctx, query, limit)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", &agent.ToolError{Message: "the web search engine is unavailable; answer without it"}, err)
	}
	out := make([]agent.WebResult, len(res))
	for i, r := range res {
		out[i] = agent.WebResult{URL: r.URL, Title: r.Title, Snippet: r.Snippet}
	}
	return out, nil
}

// pageReader is fetch_page through the guarded client. Its errors are told to
// the model and the user in words, never with the addresses behind them.
type pageReader struct{ r article.Reader }

func (p pageReader) ReadPage(ctx context.Context, url string) (agent.WebPage, error) {
	a, err := p.r.Read(ctx, url)
	if err != nil {
		return agent.WebPage{}, fmt.Errorf("%w: %w", &agent.ToolError{Message: pageError(err)}, err)
	}
	return agent.WebPage{URL: a.URL, Title: a.Title, Text: a.Text}, nil
}

func pageError(err error) string {
	var status *safehttp.StatusError
	switch {
	case errors.Is(err, safehttp.ErrBlocked):
		return "this URL leads to an address inside the network, which is not fetched"
	case errors.As(err, &status):
		return fmt.Sprintf("the page answered %d %s", status.Code, http.StatusText(status.Code))
	case errors.Is(err, safehttp.ErrURL):
		return "this is not a URL that can be read: use an http:// or https:// URL without a user name or password"
	case errors.Is(err, safehttp.ErrTimeout):
		return "the page did not load in time"
	case errors.Is(err, safehttp.ErrTooLarge):
		return "the page is larger than allowed"
	case errors.Is(err, safehttp.ErrTooManyRedirects):
		return "the page redirects too many times"
	case errors.Is(err, article.ErrNotAPage):
		return "this URL does not lead to a web page or text"
	}
	return "the page could not be reached"
}
