package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	streams  prometheus.Gauge
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yw_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "yw_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"method", "route"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yw_http_requests_in_flight", Help: "HTTP requests being served (event streams over HTTP/1 only until their head is sent).",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yw_http_streams_open", Help: "Event streams open on this process.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.inflight, m.streams)
	return m
}

// Every label value comes from a closed set, whatever the client sends: a series
// lives as long as the process, so one label value taken from a request (a made-up
// method, a path) would let any client grow /metrics and this process's memory
// without bound.
const (
	labelOther     = "other"
	labelUnmatched = "unmatched"
)

// methodLabel is the request method when it is one of HTTP's standard methods.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return labelOther
}

// statusLabels are the status codes labelled by number; any other is labelled by
// its class ("2xx" ... "5xx").
var statusLabels = func() map[int]string {
	m := map[int]string{}
	for _, code := range []int{200, 201, 202, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 406,
		408, 409, 410, 411, 412, 413, 414, 415, 416, 422, 428, 429, 431, 499, 500, 501, 502, 503, 504} {
		m[code] = strconv.Itoa(code)
	}
	return m
}()

func statusLabel(code int) string {
	if l, ok := statusLabels[code]; ok {
		return l
	}
	if code >= 100 && code < 600 {
		return strconv.Itoa(code/100) + "xx"
	}
	return labelOther
}

// routeLabel is the route template that served the request, or "unmatched" when
// no route did (an unknown path, or a group's catch-all).
func (s *Server) routeLabel(c echo.Context) string {
	if _, ok := s.routeLabels[c.Path()]; ok {
		return c.Path()
	}
	return labelUnmatched
}

// collectRouteLabels fixes the closed set of route labels: the templates of every
// registered route, not the catch-alls Echo adds for group middleware.
func collectRouteLabels(e *echo.Echo) map[string]struct{} {
	labels := map[string]struct{}{}
	for _, r := range e.Routes() {
		if r.Method != echo.RouteNotFound {
			labels[r.Path] = struct{}{}
		}
	}
	return labels
}

// observe logs and measures every request, with labels from closed sets only.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		s.metrics.inflight.Inc()
		defer s.metrics.inflight.Dec()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		method, route := methodLabel(c.Request().Method), s.routeLabel(c)
		status := c.Response().Status
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(method, route, statusLabel(status)).Inc()
		s.metrics.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
		s.countRoute(c, method, route, status, elapsed)
		// One line per request at info: with the correlation id the context adds, it
		// joins a request to the jobs it caused in the log store; the user id (never a
		// key) tells operators who was active.
		// Probes and scrapes come every few seconds and say nothing about users.
		level := s.logger.InfoContext
		switch {
		case status >= 500:
			level = s.logger.WarnContext
		case route == "/healthz" || route == "/readyz" || route == "/metrics":
			level = s.logger.DebugContext
		}
		attrs := []any{"method", method, "route", route, "status", status,
			"duration_ms", elapsed.Milliseconds(), "client_ip", c.RealIP()}
		if p := principal(c); p.UserID != "" {
			attrs = append(attrs, "user_id", p.UserID)
		}
		level(c.Request().Context(), "request", attrs...)
		return nil
	}
}

// countRoute adds a request to the route statistics of the usage analytics: the
// API's routes and the UI's sign-in ones. Probes, scrapes, the UI's files and
// unknown paths say nothing about the API's speed, and an event stream lasts as
// long as the client watches, so none of them is counted.
func (s *Server) countRoute(c echo.Context, method, route string, status int, elapsed time.Duration) {
	if s.deps.RouteStats == nil {
		return
	}
	if !strings.HasPrefix(route, "/v1/") && !strings.HasPrefix(route, "/ui/") {
		return
	}
	if strings.HasPrefix(c.Response().Header().Get(echo.HeaderContentType), "text/event-stream") {
		return
	}
	s.deps.RouteStats.Observe(method, route, status, elapsed)
}

func (s *Server) metricsHandler() echo.HandlerFunc {
	h := promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{})
	return echo.WrapHandler(h)
}
