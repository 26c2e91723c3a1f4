package ollamahttp

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"
)

func TestRetryDefaultsAndBackOff(t *testing.T) {
	t.Parallel()
	r := Retry{}.WithDefaults()
	require.Equal(t, Retry{MaxRetries: DefaultMaxRetries, Initial: DefaultRetryInitial, Max: DefaultRetryMax}, r)

	require.Equal(t, 0, Retry{MaxRetries: -1}.WithDefaults().MaxRetries, "negative means none")
	require.Equal(t, time.Second, Retry{Initial: time.Second, Max: time.Millisecond}.WithDefaults().Max, "the ceiling is never below the first wait")

	b := Retry{MaxRetries: 2, Initial: time.Millisecond, Max: 2 * time.Millisecond}.WithDefaults().BackOff()
	for range 2 {
		wait := b.NextBackOff()
		require.NotEqual(t, backoff.Stop, wait)
		require.LessOrEqual(t, wait, 3*time.Millisecond) // the ceiling plus its jitter
	}
	require.Equal(t, backoff.Stop, b.NextBackOff())
	require.Equal(t, backoff.Stop, Retry{MaxRetries: -1}.WithDefaults().BackOff().NextBackOff())
}

func TestTransient(t *testing.T) {
	t.Parallel()
	status := func(code int) error { return api.StatusError{StatusCode: code, ErrorMessage: http.StatusText(code)} }
	for _, err := range []error{
		status(http.StatusInternalServerError), status(http.StatusServiceUnavailable),
		status(http.StatusTooManyRequests), status(http.StatusRequestTimeout),
		&url.Error{Op: "Post", URL: "http://ollama", Err: syscall.ECONNREFUSED},
		fmt.Errorf("read: %w", io.ErrUnexpectedEOF), syscall.ECONNRESET,
	} {
		require.True(t, Transient(err), "%v", err)
	}
	for _, err := range []error{
		status(http.StatusBadRequest), status(http.StatusNotFound),
		api.AuthorizationError{StatusCode: http.StatusUnauthorized}, errors.New("invalid input"),
	} {
		require.False(t, Transient(err), "%v", err)
	}
}

func TestModelNotFound(t *testing.T) {
	t.Parallel()
	require.True(t, ModelNotFound(api.StatusError{StatusCode: http.StatusNotFound}))
	require.True(t, ModelNotFound(fmt.Errorf("embed: %w", api.StatusError{StatusCode: http.StatusBadRequest, ErrorMessage: `model "x" not found, try pulling it first`})))
	require.False(t, ModelNotFound(api.StatusError{StatusCode: http.StatusInternalServerError, ErrorMessage: "runner not found"}))
	require.False(t, ModelNotFound(errors.New("model not found"))) // only statuses; a plain line is the caller's business
}

func TestSettings(t *testing.T) {
	t.Parallel()
	require.Empty(t, Settings{}.Validate("http://127.0.0.1:11434"))
	errs := Settings{ConnectTimeout: -1}.Validate("localhost")
	require.Len(t, errs, 2, "the URL and the negative timeout, at once")

	require.Equal(t, Retry{MaxRetries: DefaultMaxRetries, Initial: DefaultRetryInitial, Max: DefaultRetryMax}, Settings{}.Retry())
	require.Equal(t, 0, Settings{MaxRetries: -1}.Retry().MaxRetries)

	client, owned := Settings{}.Client()
	require.NotNil(t, owned, "a client of ours comes with its transport to close")
	require.Same(t, owned, client.Transport)
	mine := &http.Client{}
	client, owned = Settings{HTTPClient: mine}.Client()
	require.Same(t, mine, client)
	require.Nil(t, owned)
}
