package service

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// ModelsConfig says which chat models users may choose.
type ModelsConfig struct {
	// Allowed are the chat models the operator allows, the default first.
	Allowed []string
	// Installed lists the models the model server has (names with their tags);
	// nil when there is no model server and every allowed model is built in.
	Installed func(ctx context.Context) ([]string, error)
	// TTL is how long a listing of the model server is used (default 10 s), so
	// users opening the chat never reach it directly.
	TTL time.Duration
}

// Models is the allow-list of chat models: a message may name only one of them,
// so nobody loads a model the operator did not choose (and evicts the one
// everybody uses).
type Models struct {
	cfg ModelsConfig
	log *slog.Logger

	mu        sync.Mutex
	installed map[string]bool // normalised names; nil until listed
	listedAt  time.Time
	listing   chan struct{} // closed when the listing in flight ends
}

// Model is a chat model users may choose.
type Model struct {
	Name string `json:"name"`
	// Default is the model of messages that name none.
	Default bool `json:"default"`
	// Available says whether the model server has it now.
	Available bool `json:"available"`
}

// NewModels returns the allow-list of cfg.
func NewModels(cfg ModelsConfig, logger *slog.Logger) *Models {
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Second
	}
	return &Models{cfg: cfg, log: logger.With("component", "models")}
}

// Default is the model messages use when they name none.
func (m *Models) Default() string { return m.cfg.Allowed[0] }

// Allowed reports whether users may choose name: one of the allowed models,
// with or without Ollama's default tag (":latest").
func (m *Models) Allowed(name string) bool {
	return slices.ContainsFunc(m.cfg.Allowed, func(a string) bool { return normaliseModel(a) == normaliseModel(name) })
}

// List returns the allowed models and whether the model server has each. A
// server that does not answer has none of them.
func (m *Models) List(ctx context.Context) ([]Model, error) {
	installed, err := m.listInstalled(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Model, len(m.cfg.Allowed))
	for i, name := range m.cfg.Allowed {
		out[i] = Model{Name: name, Default: i == 0, Available: installed == nil || installed[normaliseModel(name)]}
	}
	return out, nil
}

// listInstalled returns the models of the model server (nil without one), as
// listed at most TTL ago; callers arriving while it is listed wait for that
// listing. It fails only when ctx ends while waiting.
func (m *Models) listInstalled(ctx context.Context) (map[string]bool, error) {
	if m.cfg.Installed == nil {
		return nil, nil
	}
	m.mu.Lock()
	if m.installed != nil && time.Since(m.listedAt) < m.cfg.TTL {
		defer m.mu.Unlock()
		return m.installed, nil
	}
	if wait := m.listing; wait != nil {
		m.mu.Unlock()
		select {
		case <-wait:
			return m.listInstalled(ctx)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	done := make(chan struct{})
	m.listing = done
	m.mu.Unlock()

	installed := map[string]bool{}
	// A listing serves everybody waiting: the caller hanging up must not end it.
	names, err := m.cfg.Installed(context.WithoutCancel(ctx))
	listedAt := time.Now()
	if err != nil {
		m.log.WarnContext(ctx, "the model server did not list its models: every chat model shows as unavailable", "error", err)
		// Asked again soon: the server may be back in a moment.
		listedAt = listedAt.Add(min(5*time.Second, m.cfg.TTL) - m.cfg.TTL)
	}
	for _, n := range names {
		installed[normaliseModel(n)] = true
	}
	m.mu.Lock()
	m.installed, m.listedAt, m.listing = installed, listedAt, nil
	m.mu.Unlock()
	close(done)
	return installed, nil
}

// normaliseModel maps "name" and "name:latest" to the same name, as Ollama does.
func normaliseModel(name string) string {
	name = strings.TrimSpace(name)
	if !strings.Contains(name, ":") {
		return name + ":latest"
	}
	return name
}
