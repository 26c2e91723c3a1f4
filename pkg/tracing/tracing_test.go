package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestWithoutAnEndpointNothingIsRecorded(t *testing.T) {
	t.Parallel()
	p, err := New("", "api")
	require.NoError(t, err)
	require.Nil(t, p.shutdown, "no exporter, nothing to flush")
	ctx, span := Tracer(p).Start(context.Background(), "request")
	require.False(t, span.IsRecording())
	require.Empty(t, TraceParent(ctx), "no trace context travels with jobs")
	_, child := Start(ctx, "child")
	require.False(t, child.IsRecording())
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestSpansAreSentToTheCollectorOnShutdown(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var paths []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(collector.Close)

	p, err := New(collector.URL, "ingest-worker")
	require.NoError(t, err)
	_, span := Tracer(p).Start(context.Background(), "job")
	require.True(t, span.IsRecording())
	span.End()
	require.NoError(t, p.Shutdown(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"/v1/traces"}, paths, "the OTLP/HTTP traces path is added to a bare collector URL")
}

func TestStartContinuesTheContextsTraceAndTraceParentCarriesIt(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, root := Tracer(tp).Start(context.Background(), "request")
	traceparent := TraceParent(ctx)
	root.End()

	// Elsewhere, later: a worker continues the trace from the header alone.
	worker := WithTraceParent(context.Background(), traceparent)
	_, child := Start(worker, "ingest.parse")
	child.End()
	spans := rec.Ended()
	require.Len(t, spans, 1, "a remote parent gives Start no provider: the worker's consumer span must come first")

	_, consumer := Tracer(tp).Start(worker, "process jobs.ingest")
	consumer.End()
	spans = rec.Ended()
	require.Len(t, spans, 2)
	require.Equal(t, root.SpanContext().TraceID(), spans[1].SpanContext().TraceID())
	require.Equal(t, root.SpanContext().SpanID(), spans[1].Parent().SpanID())

	require.Equal(t, context.Background(), WithTraceParent(context.Background(), ""), "no header, no trace")
	_, orphan := Tracer(tp).Start(WithTraceParent(context.Background(), "garbage"), "process jobs.ingest")
	orphan.End()
	require.False(t, rec.Ended()[2].Parent().IsValid(), "a malformed header starts a trace of its own")
}
