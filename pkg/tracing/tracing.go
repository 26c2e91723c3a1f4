// Package tracing sets up OpenTelemetry traces for every program: an OTLP/HTTP
// exporter when YW_OTEL_ENDPOINT names a collector, nothing at all otherwise. Spans
// are started from the context's span, so only the two places a trace can begin —
// an HTTP request and a job taken from NATS — need the provider; everything they
// call joins their trace through ctx. Trace context crosses the outbox and NATS as
// a W3C traceparent.
package tracing

import (
	"context"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Provider is a program's tracer provider and what must be flushed at exit.
type Provider struct {
	trace.TracerProvider
	shutdown func(context.Context) error
}

// New returns the provider of the program named program. With an empty endpoint
// tracing is off: spans cost a context lookup and nothing is exported. Otherwise
// spans are batched to the OTLP/HTTP collector at endpoint (http://collector:4318;
// a URL without a path gets the standard /v1/traces).
func New(endpoint, program string) (*Provider, error) {
	if endpoint == "" {
		return Off(), nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("parse otel endpoint: %w", err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	// The exporter connects lazily and retries in the background, so a collector
	// that is down never keeps a program from starting.
	exporter, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(u.String()))
	if err != nil {
		return nil, fmt.Errorf("create otlp exporter: %w", err)
	}
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(program))),
	)
	return &Provider{TracerProvider: sdk, shutdown: sdk.Shutdown}, nil
}

// Off is a provider that records nothing.
func Off() *Provider {
	return &Provider{TracerProvider: noop.NewTracerProvider()}
}

// Of wraps a provider built elsewhere (an in-memory one in tests); its owner shuts
// it down.
func Of(tp trace.TracerProvider) *Provider {
	if tp == nil {
		return Off()
	}
	return &Provider{TracerProvider: tp}
}

// Shutdown sends the spans still buffered and stops the exporter; ctx bounds the wait.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.shutdown == nil {
		return nil
	}
	if err := p.shutdown(ctx); err != nil {
		return fmt.Errorf("shut down tracing: %w", err)
	}
	return nil
}
