package ollamahttp

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/ollama/ollama/api"
)

// Defaults the adapters apply to zero fields of their configurations.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultMaxRetries     = 3
	DefaultRetryInitial   = 250 * time.Millisecond
	DefaultRetryMax       = 5 * time.Second
)

// Retry says how an adapter retries a call that failed transiently.
type Retry struct {
	// MaxRetries is the number of retries: 0 means DefaultMaxRetries, negative
	// means none.
	MaxRetries int
	// Initial and Max bound the exponential backoff between retries; 0 means
	// the default.
	Initial, Max time.Duration
}

// WithDefaults fills the zero fields. Its MaxRetries is never negative: the
// result is the policy itself, not a configuration.
func (r Retry) WithDefaults() Retry {
	switch {
	case r.MaxRetries == 0:
		r.MaxRetries = DefaultMaxRetries
	case r.MaxRetries < 0:
		r.MaxRetries = 0
	}
	if r.Initial == 0 {
		r.Initial = DefaultRetryInitial
	}
	if r.Max == 0 {
		r.Max = DefaultRetryMax
	}
	r.Max = max(r.Max, r.Initial)
	return r
}

// BackOff returns the waits of one call: at most r.MaxRetries, growing from
// r.Initial to r.Max. Apply WithDefaults first.
func (r Retry) BackOff() backoff.BackOff {
	eb := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.Initial),
		backoff.WithMaxInterval(r.Max),
		backoff.WithMaxElapsedTime(0), // the retry count and the caller's context bound it
	)
	return backoff.WithMaxRetries(eb, uint64(r.MaxRetries))
}

// Transient reports failures worth retrying: the server busy or failing (5xx,
// 408, 429) or the connection refused, reset or cut short. A refused
// authorization is not one.
func Transient(err error) bool {
	var se api.StatusError
	if errors.As(err, &se) {
		return se.StatusCode >= 500 || se.StatusCode == http.StatusTooManyRequests ||
			se.StatusCode == http.StatusRequestTimeout
	}
	var ae api.AuthorizationError
	if errors.As(err, &ae) {
		return false
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// ModelNotFound reports an error status saying the model does not exist:
// a 404, or another client error whose message says so.
func ModelNotFound(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && (se.StatusCode == http.StatusNotFound ||
		(se.StatusCode < 500 && strings.Contains(strings.ToLower(se.ErrorMessage), "not found")))
}
