package llm

import (
	"encoding/json"
	"testing"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"
)

// A text chunk takes a short cut; every chunk must still read as the library
// reads it.
func TestDecodeChunkReadsEveryChunkAsTheLibraryDoes(t *testing.T) {
	lines := []string{
		`{"model":"m","created_at":"2026-12-07T02:01:39.123456789Z","message":{"role":"assistant","content":"t0042 "},"done":false}`,
		`{"model":"m","created_at":"2026-12-07T02:01:39Z","message":{"role":"assistant","content":"","thinking":"hmm \"quoted\" \u00e9"},"done":false}`,
		`{"model":"m","created_at":"2026-12-07T02:01:39Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"current_time","arguments":{"zone":"UTC"}}}]},"done":false}`,
		`{"model":"m","created_at":"2026-12-07T02:01:39Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":12,"eval_count":34}`,
		`{"model":"m","message":{"role":"assistant","content":"x","images":null},"done":false,"error":null}`,
	}
	for _, line := range lines {
		var want api.ChatResponse
		require.NoError(t, json.Unmarshal([]byte(line), &want))
		var got *api.ChatResponse
		require.NoError(t, decodeChunk([]byte(line), func(c *api.ChatResponse) error { got = c; return nil }))
		require.Equal(t, want.Message.Content, got.Message.Content, line)
		require.Equal(t, want.Message.Thinking, got.Message.Thinking, line)
		require.Equal(t, want.Message.ToolCalls, got.Message.ToolCalls, line)
		require.Equal(t, want.Done, got.Done, line)
		require.Equal(t, want.DoneReason, got.DoneReason, line)
		require.Equal(t, want.EvalCount, got.EvalCount, line)
		require.Equal(t, want.PromptEvalCount, got.PromptEvalCount, line)
	}
	err := decodeChunk([]byte(`{"error":"model \"x\" not found"}`), func(*api.ChatResponse) error { return nil })
	require.EqualError(t, err, `model "x" not found`)
	err = decodeChunk([]byte(`upstream broke`), func(*api.ChatResponse) error { return nil })
	require.EqualError(t, err, `upstream broke`)
}

// BenchmarkDecodeChunk is the cost of reading one streamed token.
func BenchmarkDecodeChunk(b *testing.B) {
	line := []byte(`{"model":"llama3.2:latest","created_at":"2026-12-07T02:01:39.123456789Z","message":{"role":"assistant","content":"t0042 "},"done":false}`)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_ = decodeChunk(line, func(c *api.ChatResponse) error { n += len(c.Message.Content); return nil })
	}
}
