package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api"
	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

type urlDocument struct {
	document
	SourceURL *string `json:"source_url"`
	SizeBytes int64   `json:"size_bytes"`
}

// site is a web site on loopback for the platform to fetch from; the platform's
// allow-list opens exactly its address, as an operator would open an intranet.
type site struct {
	*httptest.Server
	handbook atomic.Value // the handbook page's current text
	hits     atomic.Int32
}

func newSite(t *testing.T) *site {
	s := &site{}
	s.handbook.Store("The zebra migration policy says every zebra crosses on Tuesdays.")
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		switch r.URL.Path {
		case "/handbook":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><html><head><title>Handbook</title></head><body><nav>Home | About</nav>
<main><h1>Handbook</h1><p>%s</p></main></body></html>`, s.handbook.Load())
		case "/prices.csv":
			w.Header().Set("Content-Type", "text/csv")
			fmt.Fprint(w, "fruit,price\nquince,7\nmedlar,9\n")
		case "/notes.php":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<html><body><p>Kumquat notes from a page served by a script.</p></body></html>`)
		case "/download":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Disposition", `attachment; filename="minutes.md"`)
			fmt.Fprint(w, "# Minutes\n\nThe board approved the persimmon budget.\n")
		case "/big":
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, strings.Repeat("lorem ipsum ", 20000))
		case "/to-inside":
			_, port, _ := strings.Cut(strings.TrimPrefix(s.URL, "http://"), ":")
			http.Redirect(w, r, "http://127.0.0.2:"+port+"/handbook", http.StatusFound)
		case "/video":
			w.Header().Set("Content-Type", "video/mp4")
			_, _ = w.Write([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func addURLs(t *testing.T, c *apitest.Client, key string, body map[string]any, want int) []urlDocument {
	t.Helper()
	var out struct {
		Documents []urlDocument `json:"documents"`
	}
	if want != http.StatusAccepted {
		c.Do("POST", "/v1/documents", key, body, want, nil)
		return nil
	}
	c.Do("POST", "/v1/documents", key, body, want, &out)
	return out.Documents
}

func waitForURL(t *testing.T, c *apitest.Client, key, id string) urlDocument {
	t.Helper()
	waitFor(t, c, key, id)
	var d urlDocument
	c.Do("GET", "/v1/documents/"+id, key, nil, http.StatusOK, &d)
	return d
}

// TestDocumentsFromURLs: POST /v1/documents takes URLs; the ingest worker fetches
// them through the guarded client and they go through the stages, dedup, quotas
// and failure codes of uploads; a URL that leads inside the network fails with
// blocked_address; re-fetch replaces the content.
func TestDocumentsFromURLs(t *testing.T) {
	web := newSite(t)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-url-ingest-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn",
		// The test site's address, and nothing else on this machine, is open.
		"YW_FETCH_ALLOW_CIDRS": "127.0.0.1/32", "YW_FETCH_MAX_BYTES": "100000"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")
	bob := newUser(t, c, admin, "bob")
	_, port, _ := strings.Cut(strings.TrimPrefix(web.URL, "http://"), ":")

	urls := []string{web.URL + "/handbook", web.URL + "/prices.csv", web.URL + "/notes.php", web.URL + "/download",
		web.URL + "/missing", "http://127.0.0.2:" + port + "/handbook", "http://[::1]:" + port + "/handbook",
		"http://169.254.169.254/latest/meta-data/", web.URL + "/to-inside", web.URL + "/big", web.URL + "/video"}
	docs := addURLs(t, c, alice, map[string]any{"urls": urls, "tags": []string{"web"}}, http.StatusAccepted)
	require.Len(t, docs, len(urls))
	for i, d := range docs {
		require.NotNil(t, d.SourceURL)
		require.Equal(t, urls[i], *d.SourceURL)
		require.Equal(t, []string{"web"}, d.Tags)
		require.Empty(t, d.SHA256, "nothing is fetched by the API")
	}
	require.Equal(t, "handbook", docs[0].Filename)
	require.Equal(t, "prices.csv", docs[1].Filename)

	got := map[string]urlDocument{}
	for i, d := range docs {
		got[urls[i]] = waitForURL(t, c, alice, d.ID)
	}
	for _, u := range urls[:4] {
		d := got[u]
		require.Equal(t, "ready", d.Status, "%s: %v", u, d.Error)
		require.NotEmpty(t, d.SHA256)
		require.Positive(t, d.SizeBytes)
	}
	require.Equal(t, "text/html", got[urls[0]].MIME, "an extension-less page is HTML")
	require.Equal(t, "text/html", got[urls[2]].MIME, "the server's word decides a .php page is HTML")
	require.Equal(t, "minutes.md", got[urls[3]].Filename, "Content-Disposition names the file")
	failed := map[string]string{
		urls[4]: "fetch_failed", urls[5]: "blocked_address", urls[6]: "blocked_address", urls[7]: "blocked_address",
		urls[8]: "blocked_address", urls[9]: "too_large", urls[10]: "unsupported_media_type",
	}
	for u, code := range failed {
		d := got[u]
		require.Equal(t, "failed", d.Status, u)
		require.Equal(t, code, d.Error["code"], "%s: %s", u, d.Error["message"])
		require.NotContains(t, d.Error["message"], "dial", "the owner reads a sentence, not a network error")
	}
	require.Contains(t, got[urls[5]].Error["message"], "loopback")

	// The fetched pages are searched like uploads; the page's navigation is not content.
	var found hits
	c.Do("POST", "/v1/search", alice, map[string]any{"query": "zebra migration", "mode": "lexical"}, http.StatusOK, &found)
	require.NotEmpty(t, found.Hits)
	require.Equal(t, docs[0].ID, found.Hits[0].DocumentID)
	c.Do("POST", "/v1/search", alice, map[string]any{"query": "kumquat", "mode": "lexical"}, http.StatusOK, &found)
	require.NotEmpty(t, found.Hits)
	c.Do("POST", "/v1/search", bob, map[string]any{"query": "zebra migration", "mode": "lexical"}, http.StatusOK, &found)
	require.Empty(t, found.Hits, "a private document from a URL is its owner's alone")

	// The same URL again is the same document; the same bytes uploaded are a duplicate.
	again := addURLs(t, c, alice, map[string]any{"urls": []string{urls[0]}}, http.StatusAccepted)
	require.Equal(t, docs[0].ID, again[0].ID)
	require.True(t, again[0].Duplicate)
	var up struct {
		Documents []document `json:"documents"`
	}
	c.Upload("/v1/documents", alice, []apitest.File{{Name: "prices.csv", Data: []byte("fruit,price\nquince,7\nmedlar,9\n")}}, nil, http.StatusAccepted, &up)
	require.True(t, up.Documents[0].Duplicate)
	require.Equal(t, got[urls[1]].ID, up.Documents[0].ID)
	// ... and a URL serving bytes the owner uploaded fails as a duplicate.
	c.Upload("/v1/documents", bob, []apitest.File{{Name: "prices.csv", Data: []byte("fruit,price\nquince,7\nmedlar,9\n")}}, nil, http.StatusAccepted, &up)
	bobs := addURLs(t, c, bob, map[string]any{"urls": []string{urls[1]}}, http.StatusAccepted)
	d := waitForURL(t, c, bob, bobs[0].ID)
	require.Equal(t, "duplicate", d.Error["code"])
	require.Contains(t, d.Error["message"], up.Documents[0].ID)

	// Re-fetch: the content becomes what the URL serves now.
	oldSHA := got[urls[0]].SHA256
	web.handbook.Store("The ocelot adoption policy replaced the old one.")
	var refetched urlDocument
	c.Do("POST", "/v1/documents/"+docs[0].ID+"/refetch", alice, nil, http.StatusAccepted, &refetched)
	require.Equal(t, "queued", refetched.Status)
	d = waitForURL(t, c, alice, docs[0].ID)
	require.Equal(t, "ready", d.Status)
	require.NotEqual(t, oldSHA, d.SHA256)
	c.Do("POST", "/v1/search", alice, map[string]any{"query": "ocelot adoption", "mode": "lexical"}, http.StatusOK, &found)
	require.NotEmpty(t, found.Hits)
	require.Equal(t, docs[0].ID, found.Hits[0].DocumentID)
	c.Do("POST", "/v1/search", alice, map[string]any{"query": "zebra migration", "mode": "lexical"}, http.StatusOK, &found)
	require.Empty(t, found.Hits, "the old content is gone")
	resp := c.Do("GET", "/v1/documents/"+docs[0].ID+"/content", alice, nil, http.StatusOK, nil)
	require.Contains(t, resp.Body, "ocelot")
	// A failed one may be fetched again too; an upload and someone else's may not.
	c.Do("POST", "/v1/documents/"+docs[4].ID+"/refetch", alice, nil, http.StatusAccepted, nil)
	c.Do("POST", "/v1/documents/"+up.Documents[0].ID+"/refetch", bob, nil, http.StatusConflict, nil)
	c.Do("POST", "/v1/documents/"+docs[0].ID+"/refetch", bob, nil, http.StatusNotFound, nil)

	// Bad requests are refused whole, naming each URL at fault.
	var problem api.Problem
	resp = c.Do("POST", "/v1/documents", alice, map[string]any{"urls": []string{"ftp://example.com/x", web.URL + "/ok", "http://user:pw@example.com/"}}, http.StatusBadRequest, nil)
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &problem))
	require.Equal(t, "validation_failed", problem.Code)
	require.Len(t, problem.Errors, 2)
	require.Equal(t, "urls[0]", problem.Errors[0].Field)
	require.Equal(t, "urls[2]", problem.Errors[1].Field)
	c.Do("POST", "/v1/documents", alice, map[string]any{"urls": []string{}}, http.StatusBadRequest, nil)
	c.Do("POST", "/v1/documents", alice, map[string]any{"urls": []string{web.URL}, "group_id": "00000000-0000-0000-0000-000000000000"}, http.StatusNotFound, nil)

	// Quotas: a document count past the quota is refused at once; bytes past it
	// fail the document once fetched.
	var me struct {
		ID string `json:"id"`
	}
	c.Do("GET", "/v1/me", bob, nil, http.StatusOK, &me)
	c.Do("PATCH", "/v1/admin/users/"+me.ID, admin, map[string]any{"quota_documents": 3, "quota_bytes": 200}, http.StatusOK, nil)
	resp = c.Do("POST", "/v1/documents", bob, map[string]any{"urls": []string{web.URL + "/a", web.URL + "/b"}}, http.StatusRequestEntityTooLarge, nil)
	require.Contains(t, resp.Body, "quota_exceeded")
	bobs = addURLs(t, c, bob, map[string]any{"urls": []string{web.URL + "/handbook"}}, http.StatusAccepted)
	d = waitForURL(t, c, bob, bobs[0].ID)
	require.Equal(t, "quota_exceeded", d.Error["code"], d.Error["message"])

	require.Positive(t, web.hits.Load())
}
