package app

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/article"
	"github.com/youworker/youworker/pkg/safehttp"
)

// TestPageErrorsAreSentences: what fetch_page tells the model and the user says
// what went wrong, never the address behind a blocked URL.
func TestPageErrorsAreSentences(t *testing.T) {
	t.Parallel()
	blocked := &safehttp.BlockedError{Host: "wiki.internal", Addr: netip.MustParseAddr("10.1.2.3"), Range: "private"}
	for err, want := range map[error]string{
		fmt.Errorf("get: %w", blocked):                               "this URL leads to an address inside the network, which is not fetched",
		&safehttp.StatusError{Code: 404}:                             "the page answered 404 Not Found",
		fmt.Errorf("%w: only http", safehttp.ErrURL):                 "this is not a URL that can be read: use an http:// or https:// URL without a user name or password",
		safehttp.ErrTimeout:                                          "the page did not load in time",
		fmt.Errorf("%w: over 5 bytes", safehttp.ErrTooLarge):         "the page is larger than allowed",
		safehttp.ErrTooManyRedirects:                                 "the page redirects too many times",
		fmt.Errorf("%w: application/zip", article.ErrNotAPage):       "this URL does not lead to a web page or text",
		fmt.Errorf("dial tcp: lookup nowhere.example: no such host"): "the page could not be reached",
	} {
		got := pageError(err)
		require.Equal(t, want, got)
		require.NotContains(t, got, "10.1.2.3")
	}
}
