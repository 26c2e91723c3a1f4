package article_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/article"
	"github.com/youworker/youworker/pkg/safehttp"
)

func TestExtractKeepsTheArticleWithItsTablesAndLists(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/article.html")
	require.NoError(t, err)
	defer f.Close()
	u, _ := url.Parse("https://logistics.example/reports/q3")
	a, err := article.Extract(f, u)
	require.NoError(t, err)
	require.Contains(t, a.Title, "Quarterly cold-chain report")
	require.Contains(t, a.Text, "The cold chain kept its promise this quarter")
	require.Contains(t, a.Text, "## Temperature excursions")
	require.Contains(t, a.Text, "| Route | Shipments | Excursions | Longest (min) |\n| --- | --- | --- | --- |\n| Rotterdam – Milan | 412 | 3 | 41 |")
	require.Contains(t, a.Text, `| Lyon \| Turin | 95 | 7 | 122 |`, "a pipe in a cell cannot split it")
	require.Contains(t, a.Text, "1. Door seals are inspected at every loading, not weekly.\n2. Loggers alert the dispatcher")
	require.Contains(t, a.Text, "\n  - by text message to the driver,\n  - and by e-mail to the route owner.\n3. The Lyon route")
	for _, chrome := range []string{"About us", "Careers", "Buy refrigerated containers", "tracking", "Privacy", "font-family"} {
		require.NotContains(t, a.Text, chrome)
	}
	require.Equal(t, "https://logistics.example/reports/q3", a.URL)
}

func TestExtractFallsBackToTheBodyOfAShortPage(t *testing.T) {
	t.Parallel()
	a, err := article.Extract(strings.NewReader(`<html><head><title>Status</title></head><body><p>All systems <b>normal</b>.</p><script>x()</script></body></html>`), nil)
	require.NoError(t, err)
	require.Equal(t, "Status", a.Title)
	require.Equal(t, "All systems normal.", a.Text)
}

func TestReaderFetchesThroughTheGuard(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile("testdata/article.html")
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/report":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(page)
		case "/notes.txt":
			w.Header().Set("Content-Type", "text/plain; charset=iso-8859-1")
			_, _ = w.Write([]byte("caf\xe9 notes"))
		case "/archive.zip":
			w.Header().Set("Content-Type", "application/zip")
			_, _ = w.Write([]byte("PK\x03\x04"))
		}
	}))
	defer srv.Close()
	open := article.Reader{Client: safehttp.New(safehttp.Config{Policy: safehttp.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})}
	ctx := context.Background()
	a, err := open.Read(ctx, srv.URL+"/report")
	require.NoError(t, err)
	require.Contains(t, a.Text, "| Hamburg – Vienna | 287 | 0 | 0 |")
	a, err = open.Read(ctx, srv.URL+"/notes.txt")
	require.NoError(t, err)
	require.Equal(t, "café notes", a.Text)
	_, err = open.Read(ctx, srv.URL+"/archive.zip")
	require.ErrorIs(t, err, article.ErrNotAPage)

	closed := article.Reader{Client: safehttp.New(safehttp.Config{})}
	_, err = closed.Read(ctx, srv.URL+"/report")
	require.ErrorIs(t, err, safehttp.ErrBlocked, "loopback is blocked unless allowed")
}

func FuzzExtract(f *testing.F) {
	page, _ := os.ReadFile("testdata/article.html")
	f.Add(string(page))
	f.Add("<table><tr><td colspan=99>x</td></tr></table><ul><li><ol><li>deep")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = article.Extract(strings.NewReader(s), nil)
	})
}
