package ollamahttp

import (
	"errors"
	"net/http"
	"time"
)

// Settings are how the chat and embedding adapters reach a server and retry
// failures; both configurations embed them.
type Settings struct {
	// ConnectTimeout bounds establishing a TCP connection; it is not a
	// response timeout because loading a model can take minutes. 0 means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// MaxRetries is the number of retries after a transient failure: 0 means
	// DefaultMaxRetries, negative means none.
	MaxRetries int
	// RetryInitial and RetryMax bound the exponential backoff between retries.
	RetryInitial, RetryMax time.Duration
	// HTTPClient replaces the default client (then ConnectTimeout is unused).
	HTTPClient *http.Client
}

// Validate reports the problems of s and of the server URL, at once.
func (s Settings) Validate(url string) []error {
	var errs []error
	if err := ValidateURL(url); err != nil {
		errs = append(errs, err)
	}
	if s.ConnectTimeout < 0 || s.RetryInitial < 0 || s.RetryMax < 0 {
		errs = append(errs, errors.New("ollama timeouts must not be negative"))
	}
	return errs
}

// Retry is the retry policy s describes, defaults applied.
func (s Settings) Retry() Retry {
	return Retry{MaxRetries: s.MaxRetries, Initial: s.RetryInitial, Max: s.RetryMax}.WithDefaults()
}

// Client returns the HTTP client to use: s.HTTPClient, or a new one over a
// transport of ours, which the caller closes (owned is nil otherwise).
func (s Settings) Client() (client *http.Client, owned *http.Transport) {
	if s.HTTPClient != nil {
		return s.HTTPClient, nil
	}
	connect := s.ConnectTimeout
	if connect == 0 {
		connect = DefaultConnectTimeout
	}
	owned = NewTransport(connect)
	return &http.Client{Transport: owned}, owned
}
