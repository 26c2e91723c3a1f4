package service

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
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
