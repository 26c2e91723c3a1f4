package tracing

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
)

// HeaderTraceParent is the W3C Trace Context header. It travels with a job from
// the request that enqueued it — in its outbox row, then as a NATS message header —
// so the worker's spans join the request's trace.
const HeaderTraceParent = "traceparent"

var traceContext = propagation.TraceContext{}

// TraceParent returns the traceparent of ctx's span, or "" when ctx carries none
// (tracing off, or work outside any trace).
func TraceParent(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	traceContext.Inject(ctx, carrier)
	return carrier.Get(HeaderTraceParent)
}

// WithTraceParent returns ctx carrying the remote span that traceparent names, so
// spans started from it continue that trace. A missing or malformed value leaves
// ctx as it is: the work starts a trace of its own.
func WithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return traceContext.Extract(ctx, propagation.MapCarrier{HeaderTraceParent: traceparent})
}

// Propagator is the W3C Trace Context propagator, for HTTP headers.
func Propagator() propagation.TextMapPropagator { return traceContext }
