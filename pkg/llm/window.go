package llm

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"
)

// How long a model's context window, once read, is trusted: a model pulled again
// under the same name may have another, and reading it costs a request per turn
// otherwise.
const windowTTL = 5 * time.Minute

// showTimeout bounds reading a model's metadata, so a server that hangs delays a
// turn by that at most (the turn then fits the configured window).
const showTimeout = 10 * time.Second

// windowCache remembers the context window of each model for windowTTL.
type windowCache struct {
	mu      sync.Mutex
	entries map[string]windowEntry
}

type windowEntry struct {
	tokens int
	at     time.Time
}

func (c *windowCache) get(model string, now time.Time) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[model]
	if !ok || now.Sub(e.at) > windowTTL {
		return 0, false
	}
	return e.tokens, true
}

func (c *windowCache) put(model string, tokens int, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]windowEntry{}
	}
	c.entries[model] = windowEntry{tokens: tokens, at: now}
}

// ContextWindow reads the context length the model was trained for from its
// metadata (`/api/show`: model_info "<architecture>.context_length"), remembered
// for a few minutes. 0 means the metadata does not say. Failures are not
// remembered: the next turn asks again.
func (o *Ollama) ContextWindow(ctx context.Context, model string) (int, error) {
	if model == "" {
		model = o.cfg.Model
	}
	now := time.Now()
	if n, ok := o.windows.get(model, now); ok {
		return n, nil
	}
	ctx, cancel := context.WithTimeout(ctx, showTimeout)
	defer cancel()
	resp, err := o.client.Show(ctx, &api.ShowRequest{Model: model})
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("%w: ollama show %q: %w", ErrUnavailable, model, ctx.Err())
		}
		return 0, classify("ollama show", model, err)
	}
	n := ContextLength(resp.ModelInfo)
	o.windows.put(model, n, now)
	return n, nil
}

// ContextLength finds the context length in a model's metadata, whatever its
// architecture prefix ("llama.context_length", "qwen2.context_length"); 0 when
// there is none.
func ContextLength(info map[string]any) int {
	arch, _ := info["general.architecture"].(string)
	if n := toInt(info[arch+".context_length"]); arch != "" && n > 0 {
		return n
	}
	for k, v := range info {
		if strings.HasSuffix(k, ".context_length") {
			if n := toInt(v); n > 0 {
				return n
			}
		}
	}
	return 0
}

func toInt(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int:
		return n
	case int64:
		return int(n)
	}
	return 0
}
