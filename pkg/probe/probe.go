// Package probe is how a process tells its orchestrator whether it runs and whether
// it can serve: readiness checks run at once, each with its own deadline, and a
// small server with /healthz, /readyz and /metrics for the worker programs. The API
// answers the same /healthz and /readyz on its own router.
package probe

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness probe; it must not return URLs or secrets in its error.
type Check func(ctx context.Context) error

// checkTimeout bounds each check, so one hung dependency cannot hold /readyz past
// the orchestrator's own probe timeout.
const checkTimeout = 2 * time.Second

// Result is one check's outcome. It never carries the error: errors may name hosts.
type Result struct {
	OK        bool  `json:"ok"`
	LatencyMS int64 `json:"latency_ms"`
}

// Readiness is the /readyz body.
type Readiness struct {
	Status string            `json:"status"`
	Checks map[string]Result `json:"checks"`
}

// Readiness statuses.
const (
	StatusOK           = "ok"
	StatusUnavailable  = "unavailable"
	StatusShuttingDown = "shutting_down"
)

// Run runs every check at once.
func Run(ctx context.Context, checks map[string]Check) Readiness {
	r := Readiness{Status: StatusOK, Checks: make(map[string]Result, len(checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			start := time.Now()
			err := check(cctx)
			res := Result{OK: err == nil, LatencyMS: time.Since(start).Milliseconds()}
			mu.Lock()
			defer mu.Unlock()
			r.Checks[name] = res
			if err != nil {
				r.Status = StatusUnavailable
			}
		})
	}
	wg.Wait()
	return r
}

// Ready answers /readyz: the checks' outcome, or shutting_down once draining began
// so the orchestrator takes the process out of rotation before it stops.
func Ready(ctx context.Context, checks map[string]Check, draining bool) (Readiness, int) {
	r := Run(ctx, checks)
	switch {
	case draining:
		r.Status = StatusShuttingDown
		return r, http.StatusServiceUnavailable
	case r.Status != StatusOK:
		return r, http.StatusServiceUnavailable
	}
	return r, http.StatusOK
}

// Serve serves /healthz, /readyz and /metrics until ctx ends; readiness turns 503 as
// soon as shutdown begins.
func Serve(ctx context.Context, l net.Listener, checks map[string]Check, reg *prometheus.Registry, logger *slog.Logger) error {
	var draining atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": StatusOK})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		body, code := Ready(r.Context(), checks, draining.Load())
		writeJSON(w, code, body)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	logger.Info("probes listening", "addr", l.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	draining.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
