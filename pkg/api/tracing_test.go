package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/logging"
)

func TestEachRequestIsASpanNamedByItsRoute(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	cfg, err := config.Load(func(string) string { return "" })
	require.NoError(t, err)
	cfg.DataDir = t.TempDir()
	srv := New(Deps{Config: cfg, Logger: logging.Discard(), Registry: prometheus.NewRegistry(), TracerProvider: tp})

	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req := httptest.NewRequest(http.MethodGet, "/v1/me?q=secret-query", nil)
	req.Header.Set("traceparent", caller)
	srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
	srv.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))

	spans := rec.Ended()
	require.Len(t, spans, 1, "probes are not traced")
	span := spans[0]
	require.Equal(t, "GET /v1/me", span.Name())
	require.Equal(t, trace.SpanKindServer, span.SpanKind())
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", span.SpanContext().TraceID().String(), "a caller's trace is continued")
	require.Equal(t, "00f067aa0ba902b7", span.Parent().SpanID().String())
	require.Contains(t, span.Attributes(), attribute.Int("http.response.status_code", http.StatusUnauthorized))
	require.Contains(t, span.Attributes(), attribute.String("http.route", "/v1/me"))
	for _, kv := range span.Attributes() {
		require.NotContains(t, kv.Value.Emit(), "secret-query", "no query string in a span")
	}
}
