package llm_test

import (
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/llmtest"
)

// BenchmarkChatRelayLatency measures how long a token takes from the moment
// the server flushed it to the moment onDelta sees it. Tokens are paced like
// a fast local model (1 ms apart) so the figure is relay latency, not queueing.
func BenchmarkChatRelayLatency(b *testing.B) {
	const tokens = 32
	srv := llmtest.New(b)
	var mu sync.Mutex
	emitted := make([]time.Time, tokens)
	srv.OnEmit(func(i int, at time.Time) {
		mu.Lock()
		emitted[i] = at
		mu.Unlock()
	})
	script := llmtest.Script{Tokens: make([]string, tokens), TokenDelay: time.Millisecond}
	for i := range script.Tokens {
		script.Tokens[i] = "tok "
	}
	srv.Handle(func(api.ChatRequest) llmtest.Script { return script })
	o, err := llm.NewOllama(llm.OllamaConfig{URL: srv.URL, Model: llmtest.ChatModel}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()

	received := make([]time.Time, tokens)
	var total time.Duration
	var n int
	for b.Loop() {
		i := 0
		_, err := o.Chat(b.Context(), llm.Request{Messages: userTurn("go")}, func(llm.Delta) error {
			received[i] = time.Now()
			i++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		for k := range tokens {
			total += received[k].Sub(emitted[k])
			n++
		}
		mu.Unlock()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(n), "µs/token")
}
