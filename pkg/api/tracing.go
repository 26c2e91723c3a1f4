package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/youworker/youworker/pkg/tracing"
)

// untraced are the probe and scrape routes: called every few seconds by machines,
// their traces would bury the ones people look for.
var untraced = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// trace records a server span per request, named by its route template, and puts
// it in the request context: every log line of the request gets its trace id, and
// the jobs the request enqueues carry it to the workers. A caller's traceparent is
// continued. Attributes come from closed sets plus the user id: never a key, a
// query or anything else the client wrote.
func (s *Server) trace(next echo.HandlerFunc) echo.HandlerFunc {
	tracer := tracing.Tracer(s.deps.TracerProvider)
	return func(c echo.Context) error {
		r := c.Request()
		method, route := methodLabel(r.Method), s.routeLabel(c)
		if untraced[route] {
			return next(c)
		}
		ctx := tracing.Propagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route)))
		defer span.End()
		if !span.IsRecording() {
			return next(c) // tracing off: no attributes to collect
		}
		c.SetRequest(r.WithContext(ctx))
		err := next(c)
		if err != nil {
			c.Error(err) // writes the response, so the span sees the status sent
		}
		status := c.Response().Status
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if p := principal(c); p.UserID != "" {
			span.SetAttributes(attribute.String("enduser.id", p.UserID))
		}
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		return nil
	}
}
