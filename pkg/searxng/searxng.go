// Package searxng is a client of a SearXNG instance's JSON search API
// (GET /search?q=...&format=json), the on-premise meta-search engine the
// agent's web_search asks. The instance is the operator's own, configured by
// URL, so it is reached directly; the pages it finds are fetched only through
// the guarded client (package safehttp).
package searxng

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Result is one search result.
type Result struct {
	URL     string
	Title   string
	Snippet string
}

// Client asks one SearXNG instance.
type Client struct {
	base *url.URL
	http *http.Client
}

// ErrUnavailable is an instance that did not answer, or answered with an error.
var ErrUnavailable = errors.New("the search engine is unavailable")

// New returns a client of the instance at baseURL (http://searxng:8080); timeout
// bounds each search (0: 15 s).
func New(baseURL string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("searxng: %q is not an http(s) URL", baseURL)
	}
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	return &Client{base: u, http: &http.Client{Timeout: timeout}}, nil
}

// response is the part of SearXNG's JSON answer we read.
type response struct {
	Results []struct {
		URL     string `json:"url"`
		Title   string `json:"title"`
		Content string `json:"content"`
	} `json:"results"`
}

// maxResponseBytes bounds what an instance's answer may take.
const maxResponseBytes = 4 << 20

// Search returns at most limit results for query, best first, without
// duplicates and without results that are not http(s) links.
func (c *Client) Search(ctx context.Context, query string, limit int) ([]Result, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + "/search"
	q := url.Values{"q": {query}, "format": {"json"}, "safesearch": {"1"}}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// 403 is an instance whose settings do not enable the json format.
		return nil, fmt.Errorf("%w: it answered %s", ErrUnavailable, resp.Status)
	}
	var r response
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: its answer is not SearXNG's JSON: %w", ErrUnavailable, err)
	}
	seen := map[string]bool{}
	var out []Result
	for _, x := range r.Results {
		link, err := url.Parse(x.URL)
		if err != nil || (link.Scheme != "http" && link.Scheme != "https") || link.Host == "" || seen[x.URL] {
			continue
		}
		seen[x.URL] = true
		out = append(out, Result{URL: x.URL, Title: oneLine(x.Title), Snippet: oneLine(x.Content)})
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
