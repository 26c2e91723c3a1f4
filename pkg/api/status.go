package api

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Overall values of StatusReport.Status.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
)

// Defaults of StatusConfig.
const (
	DefaultStatusTTL     = 5 * time.Second
	DefaultStatusTimeout = 2 * time.Second
)

// Component is the state of something whose absence degrades answers without taking
// a replica out of service: the chat model, the embedding model, an MCP server.
// Detail is a short sentence users may read; it never carries a URL, a secret or a
// raw error.
type Component struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Components are the parts /v1/status reports, under the names API.md gives them.
type Components struct {
	LLM      Component `json:"llm"`
	Embedder Component `json:"embedder"`
	// MCP is keyed by server name; empty (never null) when none is configured.
	MCP map[string]Component `json:"mcp"`
}

// StatusReport is the body of GET /v1/status.
type StatusReport struct {
	// Status is StatusOK, or StatusDegraded when any component is not ok.
	Status     string     `json:"status"`
	Components Components `json:"components"`
}

// Probe finds out the state of one component. It must return soon after ctx ends,
// and put in Detail only words fit for users.
type Probe func(ctx context.Context) Component

// StatusProbes are the probes behind /v1/status. A nil LLM or Embedder probe
// reports that component as not checked by this process.
type StatusProbes struct {
	LLM      Probe
	Embedder Probe
	MCP      map[string]Probe
}

// StatusConfig tunes how often the probes run.
type StatusConfig struct {
	// TTL is how long a report is served before the probes run again
	// (DefaultStatusTTL), so polling clients never reach the model server directly.
	TTL time.Duration
	// Timeout bounds each probe (DefaultStatusTimeout); one that has not answered
	// by then counts as down.
	Timeout time.Duration
}

// Status answers /v1/status from the last probe run while it is fresh. When it is
// stale the next request runs the probes again, and requests arriving meanwhile
// wait for that run instead of starting their own: at most one run is in flight.
type Status struct {
	probes StatusProbes
	cfg    StatusConfig
	now    func() time.Time

	mu      sync.Mutex
	last    StatusReport
	at      time.Time     // when last was probed; zero before the first run
	running chan struct{} // closed when the run in flight ends; nil when none
}

// NewStatus returns the cached status of probes. The probes log what they find;
// Status only serves it. A zero Status has no probes.
func NewStatus(probes StatusProbes, cfg StatusConfig) *Status {
	return &Status{probes: probes, cfg: cfg}
}

// Report returns the current report, running the probes when the last report is
// older than the TTL. It fails only when ctx ends while it waits for a run.
func (s *Status) Report(ctx context.Context) (StatusReport, error) {
	if s == nil {
		return notChecked(), nil
	}
	s.mu.Lock()
	if !s.at.IsZero() && s.clock().Sub(s.at) < orDefaultDuration(s.cfg.TTL, DefaultStatusTTL) {
		r := s.last
		s.mu.Unlock()
		return r, nil
	}
	if running := s.running; running != nil {
		s.mu.Unlock()
		select {
		case <-running:
			return s.Report(ctx) // fresh now, unless that run failed to finish
		case <-ctx.Done():
			return StatusReport{}, ctx.Err()
		}
	}
	done := make(chan struct{})
	s.running = done
	s.mu.Unlock()

	var r StatusReport
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.Status != "" {
			s.last, s.at = r, s.clock()
		}
		s.running = nil
		close(done) // even if a probe panicked, so waiters never hang
	}()
	// This request runs the probes for everyone waiting. A client hanging up must
	// not record every component as down, so the run ignores the request's
	// cancellation; Timeout still bounds it.
	r = s.probe(context.WithoutCancel(ctx))
	return r, nil
}

// clock is the time source (tests replace it).
func (s *Status) clock() time.Time {
	if s.now == nil {
		return time.Now()
	}
	return s.now()
}

func orDefaultDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// probe runs every probe at once, each under the timeout.
func (s *Status) probe(ctx context.Context) StatusReport {
	run := func(p Probe, c *Component) {
		if p == nil {
			*c = Component{OK: true, Detail: "not checked by this server"}
			return
		}
		pctx, cancel := context.WithTimeout(ctx, orDefaultDuration(s.cfg.Timeout, DefaultStatusTimeout))
		defer cancel()
		*c = p(pctx)
	}
	var comps Components
	mcp := make([]Component, len(s.probes.MCP))
	names := make([]string, 0, len(s.probes.MCP))
	for name := range s.probes.MCP {
		names = append(names, name)
	}
	sort.Strings(names)
	var wg sync.WaitGroup
	wg.Go(func() { run(s.probes.LLM, &comps.LLM) })
	wg.Go(func() { run(s.probes.Embedder, &comps.Embedder) })
	for i, name := range names {
		wg.Go(func() { run(s.probes.MCP[name], &mcp[i]) })
	}
	wg.Wait()
	comps.MCP = make(map[string]Component, len(names))
	for i, name := range names {
		comps.MCP[name] = mcp[i]
	}
	return newReport(comps)
}

// newReport derives the overall status from the components.
func newReport(c Components) StatusReport {
	r := StatusReport{Status: StatusOK, Components: c}
	if r.Components.MCP == nil {
		r.Components.MCP = map[string]Component{}
	}
	ok := c.LLM.OK && c.Embedder.OK
	for _, m := range c.MCP {
		ok = ok && m.OK
	}
	if !ok {
		r.Status = StatusDegraded
	}
	return r
}

// notChecked is the report of a server built without probes (tests, tools).
func notChecked() StatusReport {
	none := Component{OK: true, Detail: "not checked by this server"}
	return newReport(Components{LLM: none, Embedder: none})
}

// getStatus serves GET /v1/status to any signed-in user.
func (s *Server) getStatus(c echo.Context) error {
	r, err := s.deps.Status.Report(c.Request().Context())
	if err != nil {
		return err
	}
	// Browsers poll this; a cached copy must never hide a recovery or an outage.
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, r)
}
