package llm_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/metricstest"
)

func TestChatMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	metrics, err := llm.NewMetrics(reg)
	require.NoError(t, err)
	srv := llmtest.New(t)
	o := newOllama(t, srv.URL, func(c *llm.OllamaConfig) { c.Metrics = metrics })

	srv.Reply(llmtest.Script{
		Tokens:          []string{"one ", "two ", "three ", "four"},
		FirstTokenDelay: 20 * time.Millisecond, TokenDelay: 5 * time.Millisecond,
		Usage: llmtest.Usage{PromptTokens: 40, CompletionTokens: 4},
	})
	_, err = o.Chat(t.Context(), llm.Request{Messages: userTurn("count")}, nil)
	require.NoError(t, err)

	model := llmtest.ChatModel
	requests := func(model, outcome string) float64 {
		return metricstest.Value(t, reg, "yw_llm_requests_total", metricstest.Labels{"model": model, "outcome": outcome})
	}
	require.Equal(t, 1.0, requests(model, llm.OutcomeOK))
	require.Equal(t, 40.0, metricstest.Value(t, reg, "yw_llm_tokens_total", metricstest.Labels{"model": model, "kind": "prompt"}))
	require.Equal(t, 4.0, metricstest.Value(t, reg, "yw_llm_tokens_total", metricstest.Labels{"model": model, "kind": "completion"}))
	ttft := metricstest.Histogram(t, reg, "yw_llm_time_to_first_token_seconds", metricstest.Labels{"model": model})
	require.EqualValues(t, 1, ttft.GetSampleCount())
	require.GreaterOrEqual(t, ttft.GetSampleSum(), 0.02, "the first token came after the scripted delay")
	speed := metricstest.Histogram(t, reg, "yw_llm_tokens_per_second", metricstest.Labels{"model": model})
	require.EqualValues(t, 1, speed.GetSampleCount())
	require.Greater(t, speed.GetSampleSum(), 0.0)

	// A model the server lacks is counted under "other": a user may name any model.
	_, err = o.Chat(t.Context(), llm.Request{Model: "made-up-model", Messages: userTurn("hi")}, nil)
	require.ErrorIs(t, err, llm.ErrModelNotFound)
	require.Equal(t, 1.0, requests("other", llm.OutcomeModelNotFound))

	srv.FailNext("/api/chat", 10, http.StatusServiceUnavailable)
	_, err = o.Chat(t.Context(), llm.Request{Messages: userTurn("hi")}, nil)
	require.True(t, errors.Is(err, llm.ErrUnavailable), "got %v", err)
	require.Equal(t, 1.0, requests(model, llm.OutcomeUnavailable))
}
