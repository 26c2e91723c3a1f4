package searxng_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/searxng"
)

func TestSearchReadsSearXNGsJSON(t *testing.T) {
	t.Parallel()
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"query":"cold chain","number_of_results":0,"results":[
			{"url":"https://a.example/1","title":"First\n result","content":"about  the cold chain","engine":"duckduckgo","score":3.1},
			{"url":"https://a.example/1","title":"Duplicate","content":"x"},
			{"url":"javascript:alert(1)","title":"Hostile","content":"x"},
			{"url":"http://b.example/2","title":"Second","content":""},
			{"url":"https://c.example/3","title":"Third","content":"c"}],"answers":[],"suggestions":[]}`))
	}))
	defer srv.Close()
	c, err := searxng.New(srv.URL+"/searx/", 0)
	require.NoError(t, err)
	res, err := c.Search(context.Background(), "cold chain", 2)
	require.NoError(t, err)
	require.Equal(t, []searxng.Result{
		{URL: "https://a.example/1", Title: "First result", Snippet: "about the cold chain"},
		{URL: "http://b.example/2", Title: "Second"},
	}, res)
	require.Equal(t, "/searx/search", got.URL.Path)
	require.Equal(t, "cold chain", got.URL.Query().Get("q"))
	require.Equal(t, "json", got.URL.Query().Get("format"))
}

func TestSearchSaysWhenTheInstanceFails(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("q") == "html" {
			_, _ = w.Write([]byte("<html>not json</html>"))
			return
		}
		http.Error(w, "format not allowed", http.StatusForbidden)
	}))
	defer srv.Close()
	c, err := searxng.New(srv.URL, 0)
	require.NoError(t, err)
	_, err = c.Search(context.Background(), "x", 5)
	require.ErrorIs(t, err, searxng.ErrUnavailable)
	require.ErrorContains(t, err, "403")
	_, err = c.Search(context.Background(), "html", 5)
	require.ErrorIs(t, err, searxng.ErrUnavailable)
	_, err = searxng.New("searx:8080", 0)
	require.Error(t, err)
}
