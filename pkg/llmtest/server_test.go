package llmtest_test

import (
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/youworker/youworker/pkg/llmtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func client(t *testing.T, s *llmtest.Server) *api.Client {
	t.Helper()
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return api.NewClient(u, &http.Client{Transport: tr})
}

func TestChatStreamWireFormat(t *testing.T) {
	t.Parallel()
	s := llmtest.New(t)
	var mu sync.Mutex
	var emitted []int
	var times []time.Time
	s.OnEmit(func(i int, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		emitted = append(emitted, i)
		times = append(times, at)
	})
	s.Reply(llmtest.Script{
		Thinking: []string{"hmm"}, Tokens: []string{"a", "b"},
		ToolCalls: []llmtest.ToolCall{{Name: "t", Arguments: map[string]any{"k": "v"}}},
		Usage:     llmtest.Usage{PromptTokens: 7, CompletionTokens: 4}, DoneReason: "stop",
	})

	var chunks []api.ChatResponse
	err := client(t, s).Chat(t.Context(), &api.ChatRequest{Model: llmtest.ChatModel,
		Messages: []api.Message{{Role: "user", Content: "hi"}}}, func(r api.ChatResponse) error {
		chunks = append(chunks, r)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, chunks, 5)
	require.Equal(t, "hmm", chunks[0].Message.Thinking)
	require.Equal(t, "a", chunks[1].Message.Content)
	require.Equal(t, "b", chunks[2].Message.Content)
	require.Len(t, chunks[3].Message.ToolCalls, 1)
	v, ok := chunks[3].Message.ToolCalls[0].Function.Arguments.Get("k")
	require.True(t, ok)
	require.Equal(t, "v", v)
	last := chunks[4]
	require.True(t, last.Done)
	require.Equal(t, "stop", last.DoneReason)
	require.Equal(t, 7, last.PromptEvalCount)
	require.Equal(t, 4, last.EvalCount)
	mu.Lock()
	require.Equal(t, []int{0, 1, 2, 3}, emitted)
	for i := 1; i < len(times); i++ {
		require.False(t, times[i].Before(times[i-1]), "emission times are in order")
	}
	mu.Unlock()

	got := s.ChatRequests()
	require.Len(t, got, 1)
	require.Equal(t, "hi", got[0].Messages[0].Content)
}

func TestChatHandlerSeesRequest(t *testing.T) {
	t.Parallel()
	s := llmtest.New(t)
	s.Handle(func(req api.ChatRequest) llmtest.Script {
		return llmtest.Text("echo: " + req.Messages[len(req.Messages)-1].Content)
	})
	stream := false
	var resp api.ChatResponse
	err := client(t, s).Chat(t.Context(), &api.ChatRequest{Model: llmtest.ChatModel, Stream: &stream,
		Messages: []api.Message{{Role: "user", Content: "ping"}}}, func(r api.ChatResponse) error {
		resp = r
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "echo: ping", resp.Message.Content)
	require.True(t, resp.Done)
}

func TestErrorsAndMetadataEndpoints(t *testing.T) {
	t.Parallel()
	s := llmtest.New(t)
	c := client(t, s)

	_, err := c.Show(t.Context(), &api.ShowRequest{Model: "ghost"})
	var se api.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusNotFound, se.StatusCode)
	require.Equal(t, "model 'ghost' not found", se.ErrorMessage)

	s.FailNext("/api/tags", 1, http.StatusInternalServerError)
	_, err = c.List(t.Context())
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusInternalServerError, se.StatusCode)
	list, err := c.List(t.Context())
	require.NoError(t, err)
	require.Len(t, list.Models, 3, "the chat, embedding and vision models")

	s.RemoveModel(llmtest.ChatModel)
	_, err = c.Show(t.Context(), &api.ShowRequest{Model: llmtest.ChatModel})
	require.ErrorAs(t, err, &se)

	version, err := c.Version(t.Context())
	require.NoError(t, err)
	require.Equal(t, llmtest.Version, version)
	require.NoError(t, c.Heartbeat(t.Context()))

	res, err := http.Get(s.URL + "/")
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, "Ollama is running", string(body))
	http.DefaultClient.CloseIdleConnections()
}

func TestEmbedEndpoint(t *testing.T) {
	t.Parallel()
	s := llmtest.New(t)
	s.SetEmbedDim(5)
	resp, err := client(t, s).Embed(t.Context(), &api.EmbedRequest{Model: llmtest.EmbedModel, Input: []string{"a b", "c"}})
	require.NoError(t, err)
	require.Equal(t, [][]float32{llmtest.Vector("a b", 5), llmtest.Vector("c", 5)}, resp.Embeddings)
	require.Equal(t, llmtest.EmbedModel, resp.Model)
	require.Equal(t, 3, resp.PromptEvalCount, "one token per word")
	require.Equal(t, [][]string{{"a b", "c"}}, s.EmbedInputs())
}

// A server limited to n parallel embeddings answers no more than n at once, each
// taking the embed delay once it has its slot: a fixed capacity of n per delay.
func TestParallelLimitsEmbedCapacity(t *testing.T) {
	t.Parallel()
	s := llmtest.New(t)
	s.SetParallel("/api/embed", 2)
	s.SetEmbedDelay(40 * time.Millisecond)
	c := client(t, s)
	start := time.Now()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := c.Embed(t.Context(), &api.EmbedRequest{Model: llmtest.EmbedModel, Input: "a b"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, 2, s.MaxConcurrent("/api/embed"))
	require.GreaterOrEqual(t, time.Since(start), 120*time.Millisecond, "six requests, two at a time, 40 ms each")
}
