package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// CheckResult is one readiness probe's outcome. It never carries URLs or secrets.
type CheckResult struct {
	OK        bool  `json:"ok"`
	LatencyMS int64 `json:"latency_ms"`
}

// Readiness is the /readyz body.
type Readiness struct {
	Status string                 `json:"status"`
	Checks map[string]CheckResult `json:"checks"`
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	r := RunChecks(c.Request().Context(), s.deps.Checks)
	status := http.StatusOK
	if !s.ready.Load() {
		r.Status = "shutting_down"
		status = http.StatusServiceUnavailable
	} else if r.Status != "ok" {
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, r)
}

// RunChecks runs every probe at once, each bounded to two seconds.
func RunChecks(ctx context.Context, checks map[string]Check) Readiness {
	r := Readiness{Status: "ok", Checks: make(map[string]CheckResult, len(checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			start := time.Now()
			err := check(cctx)
			res := CheckResult{OK: err == nil, LatencyMS: time.Since(start).Milliseconds()}
			mu.Lock()
			defer mu.Unlock()
			r.Checks[name] = res
			if err != nil {
				r.Status = "unavailable"
			}
		}()
	}
	wg.Wait()
	return r
}
