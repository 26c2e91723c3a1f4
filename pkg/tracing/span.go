package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// scope names YouWorker's own instrumentation in every span it records.
const scope = "github.com/youworker/youworker"

// Tracer is the tracer of tp, for the spans that begin a trace or continue one
// from a message: HTTP requests and jobs. nil is tracing off.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return Off().Tracer(scope)
	}
	return tp.Tracer(scope)
}

// Start starts a span as a child of ctx's span, on that span's provider, so code
// below the HTTP handlers and the job handlers needs no provider of its own. Work
// outside any recording span gets ctx and its span back unchanged: nothing is
// recorded and almost nothing is spent when tracing is off. Attributes must never
// carry keys, document text, prompts or queries.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		// Tracing off, or not sampled: a child would record nothing either, and
		// handing back the parent spares the allocations on hot paths.
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(scope).Start(ctx, name, trace.WithAttributes(attrs...))
}

// End ends span, marking it failed when *err is not nil. Deferred with a pointer
// to the function's named error, it sees the error the function returns.
func End(span trace.Span, err *error) {
	if err != nil && *err != nil {
		Fail(span, *err)
	}
	span.End()
}

// Fail records err on span and marks the span failed.
func Fail(span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
