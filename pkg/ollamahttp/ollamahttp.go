// Package ollamahttp holds what the chat and embedding adapters both need to talk to
// an Ollama server over HTTP: the transport, the URL check, whether requests must
// go through the official client because they have to be signed, the retry policy,
// and which failures are worth retrying or mean the model does not exist.
package ollamahttp

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/ollama/ollama/envconfig"
)

// NewTransport returns a transport whose connect timeout is connect. It sets no
// response timeout: loading a model can take minutes.
func NewTransport(connect time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: connect,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
}

// ValidateURL reports whether raw is an absolute Ollama base URL.
func ValidateURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("ollama url is required")
	}
	if u, err := url.Parse(raw); err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("ollama url %q is not an absolute URL", raw)
	}
	return nil
}

// SignedRequests reports whether requests to base must be signed, which only the
// official client does: ollama.com, or a local key configured for it.
func SignedRequests(base *url.URL) bool {
	return envconfig.UseAuth() || base.Hostname() == "ollama.com"
}
