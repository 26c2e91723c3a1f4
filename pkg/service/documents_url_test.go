package service

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/ingest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/safehttp"
	"github.com/youworker/youworker/pkg/store"
)

func TestNameAndTypeOfFetchedDocuments(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://example.com/":                       "example.com",
		"https://Example.com":                        "Example.com",
		"https://example.com/docs/":                  "docs",
		"https://example.com/reports/q3%20final.pdf": "q3 final.pdf",
		"https://example.com/wiki/Go_(language)?x=1": "Go_(language)",
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		require.Equal(t, want, nameFromURL(u), raw)
	}
	for _, c := range []struct{ name, mediaType, want string }{
		{"handbook", "text/html", "handbook.html"},
		{"notes.php", "text/html", "notes.php.html"},
		{"page.htm", "text/html", "page.htm"},
		{"data", "text/csv", "data.csv"},
		{"data.csv", "text/plain", "data.csv"},
		{"readme", "text/markdown", "readme.md"},
		{"report.pdf", "application/octet-stream", "report.pdf"},
		{"blob", "", "blob"},
	} {
		require.Equal(t, c.want, detectName(c.name, c.mediaType), "%s as %s", c.name, c.mediaType)
	}
}

// urlFixture is the documents fixture whose service fetches URLs through the
// guarded client, allowed to reach the test's site on loopback, and whose ingest
// worker fetches with it.
func urlFixture(t *testing.T) (*docsFixture, *atomic.Value, string) {
	f := newDocsFixture(t)
	page := &atomic.Value{}
	page.Store("short page")
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, page.Load().(string))
	}))
	t.Cleanup(site.Close)
	f.docs = NewDocuments(f.store, f.objects, NewAuditor(f.store, logging.Discard()), DocumentsConfig{
		MaxUploadBytes: testMaxUpload, TmpDir: f.tmpDir, Notify: func() { f.notified.Add(1) },
		Fetcher: safehttp.New(safehttp.Config{Policy: safehttp.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})}, logging.Discard())
	f.worker = ingest.New(f.store, f.objects, f.index, ingest.Config{Limits: parse.DefaultLimits(), Fetcher: f.docs}, logging.Discard())
	return f, page, site.URL
}

func TestURLsNeedTheFetcherAndOnlyURLDocumentsAreFetchedAgain(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	alice := f.user(t, "alice")
	_, err := f.docs.SubmitURLs(context.Background(), alice, URLRequest{URLs: []string{"https://example.com/"}})
	requireCode(t, err, CodeUnsupported, "")
	up := f.upload(t, alice, UploadOptions{}, map[string]string{"a.txt": "some text to index"})
	_, err = f.docs.Refetch(context.Background(), alice, up[0].ID)
	requireCode(t, err, CodeConflict, "")
}

// TestRefetchCountsOnlyTheChangeInSize: the storage quota weighs a re-fetched
// document's new bytes against its old, not on top of them.
func TestRefetchCountsOnlyTheChangeInSize(t *testing.T) {
	t.Parallel()
	f, page, base := urlFixture(t)
	ctx := context.Background()
	alice := f.user(t, "alice")
	limit := int64(100)
	_, err := f.store.UpdateUser(ctx, alice.UserID, store.UserChange{QuotaBytes: store.QuotaSetting{Set: true, Value: &limit}})
	require.NoError(t, err)

	page.Store(strings.Repeat("a", 80))
	docs, err := f.docs.SubmitURLs(ctx, alice, URLRequest{URLs: []string{base + "/page"}})
	require.NoError(t, err)
	doc := f.ingest(t, docs[0].ID)
	require.Equal(t, store.StatusReady, doc.Status, "%+v", doc.Error)
	require.Equal(t, int64(80), doc.SizeBytes)
	first := doc.ObjectKey

	page.Store(strings.Repeat("b", 95)) // 95 fits the 100 bytes; 80 + 95 would not
	_, err = f.docs.Refetch(ctx, alice, doc.ID)
	require.NoError(t, err)
	doc = f.ingest(t, doc.ID)
	require.Equal(t, store.StatusReady, doc.Status, "%+v", doc.Error)
	require.Equal(t, int64(95), doc.SizeBytes)
	require.NotEqual(t, first, doc.ObjectKey, "new bytes, new object")
	_, err = f.objects.Get(ctx, first)
	require.ErrorIs(t, err, queue.ErrObjectNotFound, "the bytes replaced are removed")

	page.Store(strings.Repeat("c", 120))
	_, err = f.docs.Refetch(ctx, alice, doc.ID)
	require.NoError(t, err)
	doc = f.ingest(t, doc.ID)
	require.Equal(t, store.StatusFailed, doc.Status)
	require.Equal(t, FailQuota, doc.Error.Code)
}
