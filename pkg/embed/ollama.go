package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/youworker/youworker/pkg/ollamahttp"
	"github.com/youworker/youworker/pkg/tracing"

	"github.com/cenkalti/backoff/v4"
	"github.com/ollama/ollama/api"
	"go.opentelemetry.io/otel/attribute"
)

// Defaults applied by NewOllama to zero fields of OllamaConfig.
const (
	DefaultBatchSize = 16
	DefaultTimeout   = 2 * time.Minute
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
	ollamahttp.Settings
}

// Validate reports every configuration problem at once.
func (c OllamaConfig) Validate() error {
	errs := c.Settings.Validate(c.URL)
	if c.Model == "" {
		errs = append(errs, errors.New("ollama embedding model is required"))
	}
	if c.BatchSize < 0 {
		errs = append(errs, errors.New("batch size must not be negative"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("ollama embed timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Ollama embeds through an Ollama server's /api/embed. Its dimension is
// learnt by Probe (or the first Embed). It is safe for concurrent use.
type Ollama struct {
	cfg    OllamaConfig
	client *api.Client
	owned  *http.Transport
	// http and embedURL serve /api/embed without api.Client, which reads each
	// response whole before decoding it, doubling the work on the hot path.
	// direct is false when requests must be signed for ollama.com, which only
	// api.Client does.
	http     *http.Client
	embedURL string
	direct   bool
	log      *slog.Logger
	name     string
	retry    ollamahttp.Retry

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
	o := &Ollama{cfg: cfg, log: logger.With("component", "embed.ollama"), name: "ollama:" + modelName(cfg.Model),
		retry: cfg.Retry()}
	var httpClient *http.Client
	httpClient, o.owned = cfg.Client()
	o.client = api.NewClient(base, httpClient)
	o.http = httpClient
	o.embedURL = base.JoinPath("/api/embed").String()
	o.direct = !ollamahttp.SignedRequests(base)
	return o, nil
}

func withDefaults(cfg OllamaConfig) OllamaConfig {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
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
func (o *Ollama) Embed(ctx context.Context, texts []string) (_ [][]float32, err error) {
	ctx, span := tracing.Start(ctx, "embed", attribute.String("embed.model", o.cfg.Model), attribute.Int("embed.texts", len(texts)))
	defer tracing.End(span, &err)
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
	b := o.retry.BackOff()
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
		vecs, err := o.request(ctx, input)
		if err == nil {
			return o.accept(vecs, len(batch))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ollama embed: %w", ctx.Err())
		}
		if !ollamahttp.Transient(err) {
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
func (o *Ollama) accept(vecs [][]float32, n int) ([][]float32, error) {
	if len(vecs) != n {
		return nil, fmt.Errorf("ollama embed: got %d vectors for %d texts", len(vecs), n)
	}
	dim := len(vecs[0])
	if dim == 0 {
		return nil, errors.New("ollama embed: empty vector")
	}
	for i, v := range vecs {
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
	return vecs, nil
}

// embedRequest and embedResponse are the parts of /api/embed's wire format the
// embedder uses; decoding skips the rest.
type (
	embedRequest struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	embedResponse struct {
		Embeddings vectors `json:"embeddings"`
	}
)

// vectors decodes a JSON array of number arrays without reflection: with
// encoding/json's generic path, decoding dominates the cost of a request
// once vectors have hundreds of dimensions.
type vectors [][]float32

// UnmarshalJSON parses b, which encoding/json has already checked is valid
// JSON, so only the shape needs checking here.
func (v *vectors) UnmarshalJSON(b []byte) error {
	i := skipSpace(b, 0)
	if strings.HasPrefix(string(b[i:]), "null") {
		*v = nil
		return nil
	}
	if i >= len(b) || b[i] != '[' {
		return errors.New("embeddings: not an array")
	}
	var out [][]float32
	dim := 0 // capacity for the next row: rows share a dimension
	for i = skipSpace(b, i+1); i < len(b) && b[i] != ']'; {
		if b[i] != '[' {
			return fmt.Errorf("embeddings: vector %d is not an array", len(out))
		}
		row := make([]float32, 0, dim)
		for i = skipSpace(b, i+1); i < len(b) && b[i] != ']'; {
			j := i
			for j < len(b) && strings.IndexByte("+-0123456789.eE", b[j]) >= 0 {
				j++
			}
			f, err := strconv.ParseFloat(string(b[i:j]), 32)
			if err != nil {
				return fmt.Errorf("embeddings: vector %d: %w", len(out), err)
			}
			row = append(row, float32(f))
			if i = skipSpace(b, j); i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
			}
		}
		out = append(out, row)
		dim = len(row)
		if i = skipSpace(b, i+1); i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	*v = out
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// requestBuffers recycles encoded request bodies: a batch of chunk texts is
// tens of kilobytes, sent many times a second while ingesting.
var requestBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// pooledBody returns its buffer to requestBuffers when the transport closes
// it, the only point at which nothing reads the body any more.
type pooledBody struct {
	*bytes.Reader
	buf  *bytes.Buffer
	once sync.Once
}

func (b *pooledBody) Close() error {
	b.once.Do(func() { requestBuffers.Put(b.buf) })
	return nil
}

// maxErrorBody bounds what is read of an error response.
const maxErrorBody = 64 << 10

// request makes one /api/embed call. The response is decoded as it arrives,
// straight into float32 vectors; errors are api's types, so transient and
// classify treat both paths alike.
func (o *Ollama) request(ctx context.Context, input []string) ([][]float32, error) {
	if !o.direct {
		resp, err := o.client.Embed(ctx, &api.EmbedRequest{Model: o.cfg.Model, Input: input})
		if err != nil {
			return nil, err
		}
		return resp.Embeddings, nil
	}
	buf := requestBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(embedRequest{Model: o.cfg.Model, Input: input}); err != nil {
		requestBuffers.Put(buf)
		return nil, fmt.Errorf("encode request: %w", err)
	}
	body := &pooledBody{Reader: bytes.NewReader(buf.Bytes()), buf: buf}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.embedURL, body)
	if err != nil {
		_ = body.Close()
		return nil, err
	}
	req.ContentLength = int64(buf.Len())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := o.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= http.StatusBadRequest {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, statusError(resp, msg)
	}
	var out embedResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	// Drain what follows the object so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return out.Embeddings, nil
}

// statusError builds the error api.Client returns for a failed response.
func statusError(resp *http.Response, body []byte) error {
	if resp.StatusCode == http.StatusUnauthorized {
		e := api.AuthorizationError{StatusCode: resp.StatusCode}
		_ = json.Unmarshal(body, &e)
		return e
	}
	e := api.StatusError{StatusCode: resp.StatusCode}
	if json.Unmarshal(body, &e) != nil {
		e.ErrorMessage = string(body) // not JSON: the body is the message
	}
	return e
}

// transient reports whether a failed request may succeed if repeated.
func classify(op, model string, err error) error {
	if ollamahttp.ModelNotFound(err) {
		return fmt.Errorf("%w: %s %q: %w", ErrModelNotFound, op, model, err)
	}
	if ollamahttp.Transient(err) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
