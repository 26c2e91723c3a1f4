package safehttp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/youworker/youworker/pkg/safehttp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is a test server on a loopback address of our choosing that counts the
// connections it accepted, so a test can prove nothing reached it.
type server struct {
	*httptest.Server
	conns    atomic.Int32
	mu       sync.Mutex
	requests []*http.Request
}

func serve(t *testing.T, addr string, h http.HandlerFunc) *server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Clone(context.Background()))
		s.mu.Unlock()
		h(w, r)
	}))
	s.Listener = l
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) port() string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

func text(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, body)
	}
}

// resolver answers names from a table; a name with several answers gives them
// in turn, one per lookup, the last one for ever after (a rebinding DNS server).
type resolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	lookups map[string]int
}

func newResolver(m map[string][]string) *resolver {
	r := &resolver{answers: map[string][][]netip.Addr{}, lookups: map[string]int{}}
	for name, seq := range m {
		for _, s := range seq {
			var addrs []netip.Addr
			for a := range strings.SplitSeq(s, ",") {
				addrs = append(addrs, netip.MustParseAddr(a))
			}
			r.answers[name] = append(r.answers[name], addrs)
		}
	}
	return r
}

func (r *resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, ok := r.answers[host]
	if !ok {
		return net.DefaultResolver.LookupNetIP(context.Background(), "ip", host) // localhost
	}
	i := min(r.lookups[host], len(seq)-1)
	r.lookups[host]++
	return seq[i], nil
}

func client(t *testing.T, cfg safehttp.Config) *safehttp.Client {
	c := safehttp.New(cfg)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func fetch(t *testing.T, c *safehttp.Client, url string, opts safehttp.Options) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, url, opts)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func loopback() []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} }

// TestHostileURLs is the SSRF table: every URL that would reach something inside
// the building is refused by default, however its address is spelled or found,
// and the server behind it never sees a connection.
func TestHostileURLs(t *testing.T) {
	t.Parallel()
	inside := serve(t, "127.0.0.1:0", text("internal secret"))
	port := inside.port()
	dns := newResolver(map[string][]string{
		"evil.test":        {"127.0.0.1"},
		"intranet.test":    {"10.20.30.40"},
		"mixed.test":       {"10.0.0.1,127.0.0.1"},
		"metadata.test":    {"169.254.169.254"},
		"mapped.test":      {"::ffff:127.0.0.1"},
		"v6loopback.test":  {"::1"},
		"unspecified.test": {"0.0.0.0"},
	})
	c := client(t, safehttp.Config{Resolver: dns, Timeout: 5 * time.Second})

	blocked := []struct{ name, url, rangeName string }{
		{"loopback", "http://127.0.0.1:" + port + "/", "loopback"},
		{"loopback elsewhere in 127/8", "http://127.9.9.9:" + port + "/", "loopback"},
		{"decimal", "http://2130706433:" + port + "/", "loopback"},
		{"octal", "http://0177.0.0.1:" + port + "/", "loopback"},
		{"hex", "http://0x7f.0.0.1:" + port + "/", "loopback"},
		{"hex whole", "http://0x7f000001:" + port + "/", "loopback"},
		{"short form", "http://127.1:" + port + "/", "loopback"},
		{"mixed notation", "http://0x7f.0.1:" + port + "/", "loopback"},
		{"IPv6 loopback", "http://[::1]:" + port + "/", "loopback"},
		{"IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]:" + port + "/", "loopback"},
		{"IPv4-mapped IPv6 in hex", "http://[::ffff:7f00:1]:" + port + "/", "loopback"},
		{"IPv4-compatible IPv6", "http://[::127.0.0.1]:" + port + "/", "IPv4-embedding IPv6"},
		{"NAT64", "http://[64:ff9b::7f00:1]:" + port + "/", "IPv4-embedding IPv6"},
		{"unspecified", "http://0.0.0.0:" + port + "/", "unspecified"},
		{"unspecified short", "http://0:" + port + "/", "unspecified"},
		{"IPv6 unspecified", "http://[::]:" + port + "/", "unspecified"},
		{"private 10/8", "http://10.0.0.1/", "private"},
		{"private 172.16/12", "http://172.16.5.4/", "private"},
		{"private 192.168/16", "http://192.168.1.1/", "private"},
		{"unique local IPv6", "http://[fd12:3456::1]/", "private"},
		{"CGNAT", "http://100.64.0.1/", "shared address space (CGNAT)"},
		{"link-local", "http://169.254.1.1/", "link-local"},
		{"link-local IPv6 with zone", "http://[fe80::1%25eth0]/", "link-local"},
		{"multicast", "http://224.0.0.1/", "multicast"},
		{"IPv6 multicast", "http://[ff02::1]/", "multicast"},
		{"broadcast", "http://255.255.255.255/", "reserved"},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/", "cloud metadata"},
		{"cloud metadata decimal", "http://2852039166/latest/meta-data/", "cloud metadata"},
		{"Azure wire server", "http://168.63.129.16/", "cloud metadata"},
		{"AWS metadata over IPv6", "http://[fd00:ec2::254]/", "cloud metadata"},
		{"Alibaba metadata", "http://100.100.100.200/", "cloud metadata"},
		{"localhost", "http://localhost:" + port + "/", "loopback"},
		{"name resolving to loopback", "http://evil.test:" + port + "/", "loopback"},
		{"name resolving to the intranet", "http://intranet.test/", "private"},
		{"name resolving to several inside addresses", "http://mixed.test:" + port + "/", "private"},
		{"name resolving to metadata", "http://metadata.test/", "cloud metadata"},
		{"name resolving to a mapped address", "http://mapped.test:" + port + "/", "loopback"},
		{"name resolving to IPv6 loopback", "http://v6loopback.test:" + port + "/", "loopback"},
		{"name resolving to unspecified", "http://unspecified.test:" + port + "/", "unspecified"},
	}
	for _, tc := range blocked {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fetch(t, c, tc.url, safehttp.Options{})
			var be *safehttp.BlockedError
			require.ErrorAs(t, err, &be, "%s must be blocked", tc.url)
			require.ErrorIs(t, err, safehttp.ErrBlocked)
			if tc.name == "localhost" && be.Addr.Is6() {
				return // localhost may resolve to ::1 first
			}
			require.Equal(t, tc.rangeName, be.Range, "%s", err)
		})
	}

	refused := []struct{ name, url string }{
		{"file", "file:///etc/passwd"},
		{"ftp", "ftp://example.com/file"},
		{"gopher", "gopher://127.0.0.1:" + port + "/_GET"},
		{"javascript", "javascript:alert(1)"},
		{"no host", "http:///path"},
		{"relative", "/v1/documents"},
		{"credentials", "http://user:secret@example.com/"},
		{"user only", "http://user@example.com/"},
		{"numeric form of a public address", "http://134744072/"},
		{"bad port", "http://example.com:99999/"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fetch(t, c, tc.url, safehttp.Options{})
			require.ErrorIs(t, err, safehttp.ErrURL, "%s must be refused", tc.url)
		})
	}
	require.Zero(t, inside.conns.Load(), "no hostile URL may reach the inside server")
}

// TestAllowListOpensARange: an operator's range is reached, and only it; the
// cloud metadata address stays closed inside an allowed range unless listed alone.
func TestAllowListOpensARange(t *testing.T) {
	t.Parallel()
	srv := serve(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = fmt.Fprintf(w, "ua=%q auth=%q cookie=%q", r.UserAgent(), r.Header.Get("Authorization"), r.Header.Get("Cookie"))
	})
	c := client(t, safehttp.Config{Policy: safehttp.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})
	body, err := fetch(t, c, srv.URL+"/page#frag", safehttp.Options{})
	require.NoError(t, err)
	require.Equal(t, `ua="`+safehttp.DefaultUserAgent+`" auth="" cookie=""`, body)
	_, err = fetch(t, c, "http://127.0.0.2:"+srv.port()+"/", safehttp.Options{})
	require.ErrorIs(t, err, safehttp.ErrBlocked, "127.0.0.2 is outside the allowed /32")

	wide := safehttp.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16")}}
	require.NoError(t, wide.Check(netip.MustParseAddr("169.254.10.10")))
	require.ErrorIs(t, wide.Check(netip.MustParseAddr("169.254.169.254")), safehttp.ErrBlocked)
	exact := safehttp.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32")}}
	require.NoError(t, exact.Check(netip.MustParseAddr("169.254.169.254")))
	require.NoError(t, safehttp.Policy{}.Check(netip.MustParseAddr("8.8.8.8")))
	require.NoError(t, safehttp.Policy{}.Check(netip.MustParseAddr("2606:4700::1111")))
}

// TestDNSRebindingIsJudgedByTheDialledAddress: the name first resolves to an
// allowed address, then to loopback. A check made on one lookup and a connection
// made on another would let the second through; here each connection is judged
// by the address it goes to, so the inside server never sees one.
func TestDNSRebindingIsJudgedByTheDialledAddress(t *testing.T) {
	t.Parallel()
	inside := serve(t, "127.0.0.1:0", text("internal secret"))
	var outside *server
	for range 20 { // the same port on another loopback address
		l, err := net.Listen("tcp", "127.0.0.2:"+inside.port())
		if err == nil {
			_ = l.Close()
			outside = serve(t, "127.0.0.2:"+inside.port(), text("public page"))
			break
		}
		inside = serve(t, "127.0.0.1:0", text("internal secret"))
	}
	require.NotNil(t, outside, "no port free on both 127.0.0.1 and 127.0.0.2")
	dns := newResolver(map[string][]string{"rebind.test": {"127.0.0.2", "127.0.0.1"}})
	cfg := safehttp.Config{Resolver: dns, Policy: safehttp.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}}
	url := "http://rebind.test:" + inside.port() + "/"

	first := client(t, cfg)
	_, err := first.CheckURL(url)
	require.NoError(t, err, "a name passes the URL check: only the dial can judge it")
	body, err := fetch(t, first, url, safehttp.Options{})
	require.NoError(t, err)
	require.Equal(t, "public page", body)

	second := client(t, cfg) // a new connection, and a new lookup
	_, err = fetch(t, second, url, safehttp.Options{})
	var be *safehttp.BlockedError
	require.ErrorAs(t, err, &be)
	require.Equal(t, netip.MustParseAddr("127.0.0.1"), be.Addr)
	require.Equal(t, "rebind.test", be.Host)
	require.Zero(t, inside.conns.Load())
}

// TestRedirectsAreCheckedHopByHop: a redirect to loopback (by address or by a
// name), to another scheme, or round in circles is refused, and no credential
// or Referer follows a redirect.
func TestRedirectsAreCheckedHopByHop(t *testing.T) {
	t.Parallel()
	inside := serve(t, "127.0.0.1:0", text("internal secret"))
	var hops atomic.Int32
	var final *server
	final = serve(t, "127.0.0.3:0", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = fmt.Fprintf(w, "referer=%q auth=%q", r.Referer(), r.Header.Get("Authorization"))
	})
	front := serve(t, "127.0.0.2:0", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-loopback":
			http.Redirect(w, r, inside.URL+"/secret", http.StatusFound)
		case "/to-loopback-name":
			http.Redirect(w, r, "http://evil.test:"+inside.port()+"/secret", http.StatusMovedPermanently)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/iam/", http.StatusTemporaryRedirect)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/to-credentials":
			http.Redirect(w, r, "http://admin:admin@127.0.0.3:"+final.port()+"/", http.StatusFound)
		case "/loop":
			hops.Add(1)
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/fine":
			http.Redirect(w, r, final.URL+"/landed", http.StatusSeeOther)
		}
	})
	dns := newResolver(map[string][]string{"evil.test": {"127.0.0.1"}})
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32"), netip.MustParsePrefix("127.0.0.3/32")}
	c := client(t, safehttp.Config{Resolver: dns, MaxRedirects: 3, Policy: safehttp.Policy{Allow: allow}})

	for _, path := range []string{"/to-loopback", "/to-loopback-name", "/to-metadata"} {
		_, err := fetch(t, c, front.URL+path, safehttp.Options{})
		require.ErrorIs(t, err, safehttp.ErrBlocked, path)
	}
	for _, path := range []string{"/to-file", "/to-credentials"} {
		_, err := fetch(t, c, front.URL+path, safehttp.Options{})
		require.ErrorIs(t, err, safehttp.ErrURL, path)
	}
	_, err := fetch(t, c, front.URL+"/loop", safehttp.Options{})
	require.ErrorIs(t, err, safehttp.ErrTooManyRedirects)
	require.Equal(t, int32(4), hops.Load(), "the first request and three redirects, no more")

	body, err := fetch(t, c, front.URL+"/fine", safehttp.Options{})
	require.NoError(t, err)
	require.Equal(t, `referer="" auth=""`, body)
	require.Zero(t, inside.conns.Load())
}

// TestResponsesAreCapped: size (declared, streamed, and decompressed), content
// type, status and time.
func TestResponsesAreCapped(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("a"), 2<<20)
	var bomb bytes.Buffer
	gz := gzip.NewWriter(&bomb)
	_, _ = gz.Write(make([]byte, 8<<20))
	require.NoError(t, gz.Close())
	srv := serve(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/declared":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			_, _ = w.Write(big)
		case "/streamed":
			w.Header().Set("Content-Type", "text/plain")
			for i := 0; i < len(big); i += 64 << 10 {
				_, _ = w.Write(big[i : i+64<<10])
				w.(http.Flusher).Flush()
			}
		case "/exact":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(big[:1<<20])
		case "/bomb":
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(bomb.Bytes())
		case "/binary":
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write([]byte{0, 1, 2})
		case "/missing":
			http.NotFound(w, r)
		case "/slow-headers":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "/slow-body":
			w.Header().Set("Content-Type", "text/plain")
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for range 100 {
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-tick.C:
				}
			}
		}
	})
	c := client(t, safehttp.Config{Policy: safehttp.Policy{Allow: loopback()}, MaxBytes: 1 << 20, Timeout: 700 * time.Millisecond})

	_, err := fetch(t, c, srv.URL+"/declared", safehttp.Options{})
	require.ErrorIs(t, err, safehttp.ErrTooLarge)
	_, err = fetch(t, c, srv.URL+"/streamed", safehttp.Options{})
	require.ErrorIs(t, err, safehttp.ErrTooLarge)
	body, err := fetch(t, c, srv.URL+"/exact", safehttp.Options{})
	require.NoError(t, err, "a body of exactly the cap is fine")
	require.Len(t, body, 1<<20)
	_, err = fetch(t, c, srv.URL+"/bomb", safehttp.Options{})
	require.ErrorIs(t, err, safehttp.ErrTooLarge, "the cap counts decompressed bytes")
	_, err = fetch(t, c, srv.URL+"/exact", safehttp.Options{MaxBytes: 1000})
	require.ErrorIs(t, err, safehttp.ErrTooLarge, "a fetch may lower the cap")

	_, err = fetch(t, c, srv.URL+"/binary", safehttp.Options{Accept: []string{"text/html", "text/*"}})
	require.ErrorIs(t, err, safehttp.ErrContentType)
	_, err = fetch(t, c, srv.URL+"/exact", safehttp.Options{Accept: []string{"text/*"}})
	require.NoError(t, err)
	_, err = fetch(t, c, srv.URL+"/missing", safehttp.Options{})
	var se *safehttp.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusNotFound, se.Code)

	start := time.Now()
	_, err = fetch(t, c, srv.URL+"/slow-headers", safehttp.Options{})
	require.ErrorIs(t, err, safehttp.ErrTimeout)
	_, err = fetch(t, c, srv.URL+"/slow-body", safehttp.Options{})
	require.ErrorIs(t, err, safehttp.ErrTimeout)
	require.Less(t, time.Since(start), 4*time.Second, "both cut at their time limit")
	require.False(t, errors.Is(err, safehttp.ErrBlocked))
}

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	got, err := safehttp.ParsePrefixes(" 10.1.0.0/16, 192.168.1.7 ,fd00::/8,")
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("fd00::/8")}, got)
	_, err = safehttp.ParsePrefixes("10.0.0.0/33,nope")
	require.ErrorContains(t, err, "nope")
	require.ErrorContains(t, err, "10.0.0.0/33")
}
