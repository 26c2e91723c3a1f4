package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ServeProbes serves /healthz, /readyz and /metrics for a worker program until ctx
// ends; readiness turns 503 as soon as shutdown begins.
func ServeProbes(ctx context.Context, l net.Listener, checks map[string]Check, reg *prometheus.Registry, logger *slog.Logger) error {
	var ready atomic.Bool
	ready.Store(true)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", func(c echo.Context) error {
		r := RunChecks(c.Request().Context(), checks)
		status := http.StatusOK
		if !ready.Load() {
			r.Status, status = "shutting_down", http.StatusServiceUnavailable
		} else if r.Status != "ok" {
			status = http.StatusServiceUnavailable
		}
		return c.JSON(status, r)
	})
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	logger.Info("probes listening", "addr", l.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	ready.Store(false)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}
