package llm

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/youworker/youworker/pkg/promreg"
)

// Outcomes of a chat call, the "outcome" label of yw_llm_requests_total.
const (
	OutcomeOK            = "ok"
	OutcomeUnavailable   = "unavailable"
	OutcomeModelNotFound = "model_not_found"
	OutcomeCanceled      = "canceled"
	OutcomeError         = "error"
)

// modelOther labels a call for a model that is neither the configured one nor one
// the server answered with: a user may name any model, and one label value per
// made-up name would grow /metrics without bound.
const modelOther = "other"

// Metrics measures chat calls: what operators ask of a model server (is it
// answering, how long until the first token, how fast it writes, how many
// tokens it spends). A nil *Metrics records nothing.
type Metrics struct {
	requests   *prometheus.CounterVec
	firstToken *prometheus.HistogramVec
	speed      *prometheus.HistogramVec
	tokens     *prometheus.CounterVec
}

// NewMetrics builds the collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yw_llm_requests_total",
			Help: "Chat model calls, by model and outcome (ok, unavailable, model_not_found, canceled, error).",
		}, []string{"model", "outcome"}),
		firstToken: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "yw_llm_time_to_first_token_seconds",
			Help:    "Time from a chat call to its first streamed token (retries included), by model.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12), // 50ms .. ~100s, a cold model load included
		}, []string{"model"}),
		speed: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "yw_llm_tokens_per_second",
			Help:    "Completion tokens per second of one chat call, from its first token to its end, by model.",
			Buckets: []float64{1, 2, 5, 10, 15, 20, 30, 50, 75, 100, 150, 250},
		}, []string{"model"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yw_llm_tokens_total",
			Help: "Tokens the chat model read (kind=prompt) and wrote (kind=completion), by model.",
		}, []string{"model", "kind"}),
	}
	if err := promreg.Register(reg, "chat model", m.requests, m.firstToken, m.speed, m.tokens); err != nil {
		return nil, err
	}
	return m, nil
}

// callTimer follows one chat call: it notes the first token as the stream
// delivers it and records the call when it ends.
type callTimer struct {
	m     *Metrics
	start time.Time
	first time.Time
}

func (m *Metrics) startCall() *callTimer { return &callTimer{m: m, start: time.Now()} }

// token notes that a piece of the answer arrived; only the first one counts.
func (c *callTimer) token() {
	if c.first.IsZero() {
		c.first = time.Now()
	}
}

// done records the call. model must already be a bounded label value.
func (c *callTimer) done(model string, resp Response, err error) {
	if c.m == nil {
		return
	}
	c.m.requests.WithLabelValues(model, outcomeOf(err)).Inc()
	if !c.first.IsZero() {
		c.m.firstToken.WithLabelValues(model).Observe(c.first.Sub(c.start).Seconds())
	}
	if err != nil {
		return
	}
	c.m.tokens.WithLabelValues(model, "prompt").Add(float64(resp.Usage.PromptTokens))
	c.m.tokens.WithLabelValues(model, "completion").Add(float64(resp.Usage.CompletionTokens))
	// A call that wrote a single token, or none, says nothing about speed.
	if gen := time.Since(c.first); !c.first.IsZero() && resp.Usage.CompletionTokens > 1 && gen > 0 {
		c.m.speed.WithLabelValues(model).Observe(float64(resp.Usage.CompletionTokens) / gen.Seconds())
	}
}

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, ErrModelNotFound):
		return OutcomeModelNotFound
	case errors.Is(err, ErrUnavailable):
		return OutcomeUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return OutcomeCanceled
	}
	return OutcomeError
}

// observe wraps onDelta so the timer sees the first piece of the answer.
func (c *callTimer) observe(onDelta func(Delta) error) func(Delta) error {
	return func(d Delta) error {
		c.token()
		if onDelta == nil {
			return nil
		}
		return onDelta(d)
	}
}
