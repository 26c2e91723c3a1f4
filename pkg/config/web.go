package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"time"

	"github.com/youworker/youworker/pkg/safehttp"
)

// Fetch configures everything fetched from a URL a user or a model chose: URL
// ingestion and the agent's fetch_page, both through the guarded client
// (package safehttp).
type Fetch struct {
	// AllowCIDRs are ranges an operator opens although they are loopback,
	// private or link-local (an intranet wiki); everything else inside the
	// building stays blocked.
	AllowCIDRs []netip.Prefix
	// MaxBytes caps a fetched document; unset, the upload limit.
	MaxBytes int64
	// Timeout bounds one fetch, redirects and body included.
	Timeout time.Duration
	// MaxRedirects caps the redirects followed.
	MaxRedirects int
	// UserAgent is sent with every fetch; empty is safehttp's default.
	UserAgent string
	// URLIngest lets POST /v1/documents take URLs.
	URLIngest bool
}

// WebTools configures the agent's web tools; each is off unless configured.
type WebTools struct {
	// SearXNGURL is the base URL of a SearXNG instance whose JSON API web_search
	// asks; empty turns web_search off. The instance is the operator's own, so
	// it is reached directly, not through the guard.
	SearXNGURL string
	// SearchResults is how many results web_search returns by default.
	SearchResults int
	// FetchPage turns fetch_page on.
	FetchPage bool
}

// Policy is the guard's address policy.
func (f Fetch) Policy() safehttp.Policy { return safehttp.Policy{Allow: f.AllowCIDRs} }

// Client is the guarded client of these settings.
func (f Fetch) Client() *safehttp.Client {
	return safehttp.New(safehttp.Config{Policy: f.Policy(), MaxBytes: f.MaxBytes, Timeout: f.Timeout,
		MaxRedirects: f.MaxRedirects, UserAgent: f.UserAgent})
}

func loadWeb(r *reader, c *Config) {
	allow, err := safehttp.ParsePrefixes(r.getenv("YW_FETCH_ALLOW_CIDRS"))
	if err != nil {
		r.fail("YW_FETCH_ALLOW_CIDRS", err)
	}
	c.Fetch = Fetch{
		AllowCIDRs:   allow,
		MaxBytes:     r.int64("YW_FETCH_MAX_BYTES", c.MaxUploadBytes),
		Timeout:      r.duration("YW_FETCH_TIMEOUT", 30*time.Second),
		MaxRedirects: r.int("YW_FETCH_MAX_REDIRECTS", safehttp.DefaultMaxRedirects),
		UserAgent:    r.str("YW_FETCH_USER_AGENT", ""),
		URLIngest:    r.bool("YW_URL_INGEST", true),
	}
	c.Web = WebTools{
		SearXNGURL:    r.str("YW_SEARXNG_URL", ""),
		SearchResults: r.int("YW_WEB_SEARCH_RESULTS", 5),
		FetchPage:     r.bool("YW_FETCH_PAGE", false),
	}
}

func (c Config) validateWeb() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if c.Fetch.MaxBytes < 1024 {
		bad("YW_FETCH_MAX_BYTES", "must be at least 1024")
	}
	if c.Fetch.Timeout <= 0 || c.Fetch.Timeout > time.Hour {
		bad("YW_FETCH_TIMEOUT", "must be a positive duration of at most 1h")
	}
	if c.Fetch.MaxRedirects < 1 || c.Fetch.MaxRedirects > 20 {
		bad("YW_FETCH_MAX_REDIRECTS", "must be between 1 and 20")
	}
	if c.Web.SearXNGURL != "" {
		if u, err := url.Parse(c.Web.SearXNGURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("YW_SEARXNG_URL", "must be the http:// or https:// URL of a SearXNG instance")
		}
	}
	if c.Web.SearchResults < 1 || c.Web.SearchResults > 20 {
		bad("YW_WEB_SEARCH_RESULTS", "must be between 1 and 20")
	}
	return errs
}

func (c Config) webString() string {
	return fmt.Sprintf(" url_ingest=%t fetch_allow=%v searxng=%s fetch_page=%t", c.Fetch.URLIngest, c.Fetch.AllowCIDRs,
		redactURL(c.Web.SearXNGURL), c.Web.FetchPage)
}
