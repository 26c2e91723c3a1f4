package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"
)

// health serves /healthz (the process runs) and /readyz (its dependencies answer).
type health struct {
	checks map[string]func(context.Context) error
	ready  atomic.Bool
}

func newHealth(checks map[string]func(context.Context) error) *health {
	h := &health{checks: checks}
	h.ready.Store(true)
	return h
}

type checkResult struct {
	OK        bool  `json:"ok"`
	LatencyMS int64 `json:"latency_ms"`
}

func (h *health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	case "/readyz":
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		status, code := "ok", http.StatusOK
		results := map[string]checkResult{}
		for name, check := range h.checks {
			start := time.Now()
			err := check(ctx)
			results[name] = checkResult{OK: err == nil, LatencyMS: time.Since(start).Milliseconds()}
			if err != nil {
				status, code = "unavailable", http.StatusServiceUnavailable
			}
		}
		if !h.ready.Load() {
			status, code = "shutting_down", http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"status": status, "checks": results})
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
