// Package safehttp is the one HTTP client for everything fetched from a URL that
// a user or a model chose: pages and files for ingestion, pages for the agent's
// fetch_page. It exists so that such a URL can never reach what only the
// platform itself should: a loopback service, the private network, a cloud
// metadata endpoint.
//
// The guard sits where the connection is made. The dialer resolves the host
// itself and every address it is about to connect to is checked in the
// dialer's control hook, after DNS resolution, so a name that resolves to a
// public address at one moment and to 127.0.0.1 the next (DNS rebinding) is
// judged by the address actually dialled. Every redirect is such a new request,
// re-checked hop by hop and capped. Only http and https are spoken; URLs with
// credentials are refused and no cookie, header or proxy setting of the
// process is used; the response is capped in size, content type and time.
package safehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults of Config's zero fields.
const (
	DefaultMaxBytes     = 10 << 20
	DefaultTimeout      = 30 * time.Second
	DefaultMaxRedirects = 5
	DefaultUserAgent    = "YouWorker/1.0 (on-premise document fetcher)"
	// maxURLLength bounds what is fetched, like browsers and servers do.
	maxURLLength = 4096
)

// Errors of a fetch, besides *BlockedError (ErrBlocked) and *StatusError.
var (
	// ErrURL is a URL that is not an absolute http or https URL with a host, or
	// that carries credentials.
	ErrURL = errors.New("not a URL that can be fetched")
	// ErrTooManyRedirects is a chain of redirects longer than the cap.
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrTooLarge is a response body over the size cap.
	ErrTooLarge = errors.New("response larger than allowed")
	// ErrContentType is a response of a type the caller does not take.
	ErrContentType = errors.New("content type not accepted")
	// ErrTimeout is a fetch that did not finish within its time.
	ErrTimeout = errors.New("the fetch took longer than allowed")
)

// StatusError is a response that was not a success (2xx).
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("the server answered %d %s", e.Code, http.StatusText(e.Code))
}

// Resolver resolves host names; *net.Resolver is one. Tests inject their own.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config tunes a Client. Zero values take the defaults.
type Config struct {
	// Policy says which addresses may be connected to.
	Policy Policy
	// MaxBytes caps a response body (after decompression).
	MaxBytes int64
	// Timeout bounds a whole fetch: connecting, every redirect, and reading the body.
	Timeout time.Duration
	// MaxRedirects caps the redirects followed.
	MaxRedirects int
	// UserAgent is sent with every request.
	UserAgent string
	// Resolver resolves host names; nil is the system's.
	Resolver Resolver
}

// Client fetches URLs under the guard. It is safe for concurrent use.
type Client struct {
	cfg      Config
	http     *http.Client
	resolver Resolver
	dialer   *net.Dialer
}

// New returns a client.
func New(cfg Config) *Client {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	c := &Client{cfg: cfg, resolver: cfg.Resolver}
	if c.resolver == nil {
		c.resolver = net.DefaultResolver
	}
	c.dialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, ControlContext: c.control}
	transport := &http.Transport{
		// Never the process's proxy: a proxy would make the connection for us,
		// wherever the URL points, past the guard.
		Proxy:                  nil,
		DialContext:            c.dial,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        30 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  cfg.Timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	c.http = &http.Client{Transport: transport, CheckRedirect: c.checkRedirect, Jar: nil}
	return c
}

// MaxBytes is the client's cap on a response body.
func (c *Client) MaxBytes() int64 { return c.cfg.MaxBytes }

// Options tune one fetch.
type Options struct {
	// Accept lists the media types taken, as "type/subtype" or "type/*"; empty
	// takes any. A response of another type fails with ErrContentType.
	Accept []string
	// MaxBytes lowers the client's size cap for this fetch (0: the client's).
	MaxBytes int64
}

// Response is a successful response whose body is still to be read.
type Response struct {
	// URL is where the body came from, after redirects.
	URL *url.URL
	// MediaType is the response's media type, lower case, without parameters
	// ("" when the server sent none); Params are its parameters (charset).
	MediaType string
	Params    map[string]string
	// Header is the response's header.
	Header http.Header
	// Body yields at most the size cap, then fails with ErrTooLarge; past the
	// time limit it fails with ErrTimeout. Close it.
	Body io.ReadCloser
}

// CheckURL parses and checks a URL as Get would before connecting: an absolute
// http or https URL with a host, without credentials, whose host, when it is an
// address, is allowed.
func (c *Client) CheckURL(raw string) (*url.URL, error) {
	return checkURL(raw, c.cfg.Policy)
}

// ParseURL checks the form of a URL only (scheme, host, no credentials, length),
// for callers that accept URLs now and fetch them later.
func ParseURL(raw string) (*url.URL, error) {
	u, err := parseURL(raw)
	if err != nil {
		return nil, err
	}
	return u, nil
}

func parseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("%w: empty", ErrURL)
	}
	if len(raw) > maxURLLength {
		return nil, fmt.Errorf("%w: longer than %d characters", ErrURL, maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrURL, "it does not parse")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: only http and https URLs are fetched", ErrURL)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: the URL has no host", ErrURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: URLs with a user name or password are not fetched", ErrURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: bad port", ErrURL)
		}
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

func checkURL(raw string, policy Policy) (*url.URL, error) {
	u, err := parseURL(raw)
	if err != nil {
		return nil, err
	}
	if err := checkHost(u.Hostname(), policy); err != nil {
		return nil, err
	}
	return u, nil
}

// checkHost judges a host that is an address before any connection: the
// literal forms, and the numeric forms (2130706433, 0x7f.1) that resolvers
// would read as IPv4 addresses, which are refused even when allowed, since no
// honest link is written so.
func checkHost(host string, policy Policy) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := policy.Check(ip); err != nil {
			err.(*BlockedError).Host = host
			return err
		}
		return nil
	}
	if ip, ok := legacyIPv4(host); ok {
		if err := policy.Check(ip); err != nil {
			err.(*BlockedError).Host = host
			return err
		}
		return fmt.Errorf("%w: write the address %s as %s", ErrURL, host, ip)
	}
	return nil
}

// Get fetches raw with GET. It returns the response of the last redirect when it
// is a success of an accepted type and not declared over the size cap.
func (c *Client) Get(ctx context.Context, raw string, opts Options) (*Response, error) {
	u, err := c.CheckURL(raw)
	if err != nil {
		return nil, err
	}
	maxBytes := c.cfg.MaxBytes
	if opts.MaxBytes > 0 && opts.MaxBytes < maxBytes {
		maxBytes = opts.MaxBytes
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%w: %v", ErrURL, err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", acceptHeader(opts.Accept))
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		return nil, c.requestError(ctx, err)
	}
	fail := func(err error) (*Response, error) {
		_ = resp.Body.Close()
		cancel()
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(&StatusError{Code: resp.StatusCode})
	}
	if resp.ContentLength > maxBytes {
		return fail(fmt.Errorf("%w: %d bytes declared, at most %d taken", ErrTooLarge, resp.ContentLength, maxBytes))
	}
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	mt = strings.ToLower(mt)
	if !accepted(mt, opts.Accept) {
		shown := mt
		if shown == "" {
			shown = "no content type"
		}
		return fail(fmt.Errorf("%w: %s", ErrContentType, shown))
	}
	return &Response{
		URL: resp.Request.URL, MediaType: mt, Params: params, Header: resp.Header,
		Body: &body{r: resp.Body, left: maxBytes, max: maxBytes, ctx: ctx, cancel: cancel},
	}, nil
}

// requestError keeps the guard's and the cap's own errors visible through the
// url.Error and net.OpError wrappers, and names a time-out as one.
func (c *Client) requestError(ctx context.Context, err error) error {
	var blocked *BlockedError
	switch {
	case errors.As(err, &blocked):
		return blocked
	case errors.Is(err, ErrTooManyRedirects), errors.Is(err, ErrURL):
		return err
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w (%s)", ErrTimeout, c.cfg.Timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() {
		return fmt.Errorf("%w (%s)", ErrTimeout, c.cfg.Timeout)
	}
	return err
}

// checkRedirect re-checks every hop: the scheme, credentials, a literal address
// (the dial checks the rest), and the cap. The Referer is dropped so a URL's
// secrets are not handed to the next host.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.cfg.MaxRedirects {
		return fmt.Errorf("%w (more than %d)", ErrTooManyRedirects, c.cfg.MaxRedirects)
	}
	if _, err := checkURL(req.URL.String(), c.cfg.Policy); err != nil {
		return err
	}
	req.Header.Del("Referer")
	req.Header.Del("Authorization")
	req.Header.Del("Cookie")
	return nil
}

// dial resolves the host and connects to its addresses in turn; the control
// hook judges each address as it is dialled.
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", portStr)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		if ips, err = c.resolver.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
	}
	var firstErr error
	for _, ip := range ips {
		conn, err := c.dialer.DialContext(ctx, network, netip.AddrPortFrom(ip.WithZone(""), uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		var blocked *BlockedError
		if errors.As(err, &blocked) {
			blocked.Host = host
			err = blocked
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// control runs after resolution, before the socket connects: the address here
// is the one the connection goes to.
func (c *Client) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Range: "unparsable"}
	}
	return c.cfg.Policy.Check(ap.Addr())
}

func acceptHeader(types []string) string {
	if len(types) == 0 {
		return "*/*"
	}
	return strings.Join(types, ", ") + ";q=1.0, */*;q=0.1"
}

func accepted(mt string, types []string) bool {
	if len(types) == 0 {
		return true
	}
	for _, t := range types {
		if t == mt || (strings.HasSuffix(t, "/*") && strings.HasPrefix(mt, strings.TrimSuffix(t, "*"))) {
			return true
		}
	}
	return false
}

// body caps a response body in size and time.
type body struct {
	r      io.ReadCloser
	left   int64
	max    int64
	ctx    context.Context
	cancel context.CancelFunc
}

func (b *body) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly the cap from a larger one.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: over %d bytes", ErrTooLarge, b.max)
		}
		return 0, b.err(err)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, b.err(err)
}

func (b *body) err(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if errors.Is(b.ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return err
}

func (b *body) Close() error {
	err := b.r.Close()
	b.cancel()
	return err
}

// CloseIdleConnections closes the kept-alive connections of the client.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }
