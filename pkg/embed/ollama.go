package embed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/ollama/ollama/api"
)

// Defaults applied by NewOllama to zero fields of OllamaConfig.
const (
	DefaultBatchSize      = 16
	DefaultTimeout        = 2 * time.Minute
	DefaultConnectTimeout = 5 * time.Second
	DefaultMaxRetries     = 3
	DefaultRetryInitial   = 250 * time.Millisecond
	DefaultRetryMax       = 5 * time.Second
)

// probeText is embedded once to learn the model's dimension.
const probeText = "dimension probe"

// OllamaConfig configures the Ollama embedder.
type OllamaConfig struct {
	// URL is the Ollama base URL, for example http://127.0.0.1:11434.
	URL string
	// Model is the embedding model, for example nomic-embed-text.
	Model string
	// BatchSize is the number of texts per /api/embed request.
	BatchSize int
	// Timeout bounds each request (one batch), including its retries' waits.
	Timeout time.Duration
	// ConnectTimeout bounds establishing a TCP connection.
	ConnectTimeout time.Duration
	// MaxRetries is the number of retries of a failed batch: 0 means
	// DefaultMaxRetries, negative means none.
	MaxRetries int
	// RetryInitial and RetryMax bound the exponential backoff between retries.
	RetryInitial, RetryMax time.Duration
	// HTTPClient replaces the default client (then ConnectTimeout is unused).
	HTTPClient *http.Client
}

// Validate reports every configuration problem at once.
func (c OllamaConfig) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("ollama url is required"))
	} else if u, err := url.Parse(c.URL); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, fmt.Errorf("ollama url %q is not an absolute URL", c.URL))
	}
	if c.Model == "" {
		errs = append(errs, errors.New("ollama embedding model is required"))
	}
	if c.BatchSize < 0 {
		errs = append(errs, errors.New("batch size must not be negative"))
	}
	if c.Timeout < 0 || c.ConnectTimeout < 0 || c.RetryInitial < 0 || c.RetryMax < 0 {
		errs = append(errs, errors.New("ollama timeouts must not be negative"))
	}
	return errors.Join(errs...)
}

// Ollama embeds through an Ollama server's /api/embed. Its dimension is
// learnt by Probe (or the first Embed). It is safe for concurrent use.
type Ollama struct {
	cfg    OllamaConfig
	client *api.Client
	owned  *http.Transport
	log    *slog.Logger
	name   string

	mu  sync.Mutex
	dim int
}

var (
	_ Embedder = (*Ollama)(nil)
	_ Checker  = (*Ollama)(nil)
)

// NewOllama returns an embedder for cfg. It does not contact the server; call
// Probe before relying on Identity.
func NewOllama(cfg OllamaConfig, logger *slog.Logger) (*Ollama, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ollama embed config: %w", err)
	}
	cfg = withDefaults(cfg)
	base, _ := url.Parse(cfg.URL) // validated above
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := &Ollama{cfg: cfg, log: logger.With("component", "embed.ollama"), name: "ollama:" + modelName(cfg.Model)}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		o.owned = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: cfg.ConnectTimeout,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}
		httpClient = &http.Client{Transport: o.owned}
	}
	o.client = api.NewClient(base, httpClient)
	return o, nil
}

func withDefaults(cfg OllamaConfig) OllamaConfig {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.RetryInitial == 0 {
		cfg.RetryInitial = DefaultRetryInitial
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	if cfg.RetryMax < cfg.RetryInitial {
		cfg.RetryMax = cfg.RetryInitial
	}
	return cfg
}

// modelName drops the implicit ":latest" tag so "nomic-embed-text" and
// "nomic-embed-text:latest" give the same identity.
func modelName(m string) string { return strings.TrimSuffix(m, ":latest") }

// Close releases idle connections of the client NewOllama built.
func (o *Ollama) Close() error {
	if o.owned != nil {
		o.owned.CloseIdleConnections()
	}
	return nil
}

// Identity returns the model's identity; Dim is 0 until Probe or Embed has
// succeeded once.
func (o *Ollama) Identity() Identity {
	o.mu.Lock()
	defer o.mu.Unlock()
	return Identity{Name: o.name, Dim: o.dim}
}

// Probe embeds a short text to learn the dimension (and prove the model
// works). Later calls return at once.
func (o *Ollama) Probe(ctx context.Context) error {
	if o.Identity().Dim > 0 {
		return nil
	}
	_, err := o.Embed(ctx, []string{probeText})
	return err
}

// Check verifies that the server answers and has the model.
func (o *Ollama) Check(ctx context.Context) error {
	if _, err := o.client.Show(ctx, &api.ShowRequest{Model: o.cfg.Model}); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("ollama show: %w", ctx.Err())
		}
		return classify("ollama show", o.cfg.Model, err)
	}
	return nil
}

// Embed embeds texts in batches of BatchSize, in order, retrying each batch
// on transient failures. Vectors are L2-normalised.
func (o *Ollama) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += o.cfg.BatchSize {
		end := min(start+o.cfg.BatchSize, len(texts))
		vecs, err := o.embedBatch(ctx, texts[start:end])
		if err != nil {
			return nil, fmt.Errorf("embed texts %d-%d of %d: %w", start, end-1, len(texts), err)
		}
		out = append(out, vecs...)
	}
	return out, nil
}

func (o *Ollama) embedBatch(ctx context.Context, batch []string) ([][]float32, error) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	b := backoff.WithMaxRetries(backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(o.cfg.RetryInitial),
		backoff.WithMaxInterval(o.cfg.RetryMax),
		backoff.WithMaxElapsedTime(0),
	), uint64(o.cfg.MaxRetries))
	// Ollama rejects an empty input string with some models; a space embeds
	// the same "nothing" and keeps positions aligned.
	input := make([]string, len(batch))
	for i, t := range batch {
		if strings.TrimSpace(t) == "" {
			t = " "
		}
		input[i] = t
	}
	for attempt := 1; ; attempt++ {
		resp, err := o.client.Embed(ctx, &api.EmbedRequest{Model: o.cfg.Model, Input: input})
		if err == nil {
			return o.accept(resp, len(batch))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ollama embed: %w", ctx.Err())
		}
		if !transient(err) {
			return nil, classify("ollama embed", o.cfg.Model, err)
		}
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			return nil, fmt.Errorf("%w: ollama embed failed after %d attempts: %w", ErrUnavailable, attempt, err)
		}
		o.log.WarnContext(ctx, "ollama embed failed, retrying",
			"error", err, "attempt", attempt, "retry_in", wait, "batch", len(batch))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("ollama embed: %w", ctx.Err())
		}
	}
}

// accept checks the response's shape against the batch and the known
// dimension, records the dimension on first use and normalises in place.
func (o *Ollama) accept(resp *api.EmbedResponse, n int) ([][]float32, error) {
	if len(resp.Embeddings) != n {
		return nil, fmt.Errorf("ollama embed: got %d vectors for %d texts", len(resp.Embeddings), n)
	}
	dim := len(resp.Embeddings[0])
	if dim == 0 {
		return nil, errors.New("ollama embed: empty vector")
	}
	for i, v := range resp.Embeddings {
		if len(v) != dim {
			return nil, fmt.Errorf("ollama embed: vector %d has %d dimensions, vector 0 has %d", i, len(v), dim)
		}
		normalize(v)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.dim == 0:
		o.dim = dim
	case o.dim != dim:
		return nil, fmt.Errorf("ollama embed: model %q now returns %d dimensions, was %d", o.cfg.Model, dim, o.dim)
	}
	return resp.Embeddings, nil
}

// transient reports whether a failed request may succeed if repeated.
func transient(err error) bool {
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

func classify(op, model string, err error) error {
	var se api.StatusError
	if errors.As(err, &se) && (se.StatusCode == http.StatusNotFound ||
		(se.StatusCode < 500 && strings.Contains(strings.ToLower(se.ErrorMessage), "not found"))) {
		return fmt.Errorf("%w: %s %q: %w", ErrModelNotFound, op, model, err)
	}
	if transient(err) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
