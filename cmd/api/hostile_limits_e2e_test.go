package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// burstResult is one request of a burst: status and body.
type burstResult struct {
	status int
	body   string
}

// burst sends n requests built by mk at the same instant and returns their answers.
func burst(t *testing.T, n int, mk func(i int) *http.Request) []burstResult {
	t.Helper()
	out := make([]burstResult, n)
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = mk(i)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for i, req := range reqs {
		wg.Go(func() {
			<-start
			resp, err := client.Do(req)
			if err != nil {
				out[i] = burstResult{body: err.Error()}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			out[i] = burstResult{status: resp.StatusCode, body: string(b)}
		})
	}
	close(start)
	wg.Wait()
	return out
}

func jsonRequest(t *testing.T, base, method, path, key string, body any) *http.Request {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(method, base+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	return req
}

// openStream opens a turn's event stream and returns the response (the caller closes it).
func openStream(ctx context.Context, t *testing.T, base, key, turnID string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/chat/turns/"+turnID+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

// acceptedTurns returns the turns a burst of posted messages created, requiring
// every other answer to be 429 too_many_turns.
func acceptedTurns(t *testing.T, results []burstResult) []string {
	t.Helper()
	var turns []string
	for _, r := range results {
		if r.status != http.StatusAccepted {
			requireProblemCode(t, r, http.StatusTooManyRequests, "too_many_turns")
			continue
		}
		var posted struct {
			Turn chatTurn `json:"turn"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.body), &posted))
		turns = append(turns, posted.Turn.ID)
	}
	return turns
}

func requireProblemCode(t *testing.T, r burstResult, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.status, r.body)
	require.Contains(t, r.body, `"code":"`+code+`"`)
}

// TestTurnAndStreamCapsHoldUnderBursts: a burst of messages from one user gets
// exactly the running-turn cap accepted; a burst of event streams gets exactly the
// stream cap, slots come back when streams end, and a live stream is not cut by the
// write timeout while it keeps delivering.
func TestTurnAndStreamCapsHoldUnderBursts(t *testing.T) {
	t.Parallel()
	// Every turn streams a token every 250 ms for 6 s, then stays running.
	llm := llmtest.New(t)
	llm.Handle(func(api.ChatRequest) llmtest.Script {
		tokens := make([]string, 24)
		for i := range tokens {
			tokens[i] = "tick "
		}
		return llmtest.Script{Tokens: tokens, TokenDelay: 250 * time.Millisecond, Stall: true}
	})
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-" + randomHex(12)
	const turnCap, streamCap = 4, 3
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error",
		"YW_OLLAMA_URL": llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel,
		"YW_RATE_LIMIT_RPS": "1000", "YW_RATE_LIMIT_BURST": "1000",
		"YW_MAX_TURNS_PER_USER": "4", "YW_MAX_STREAMS_PER_USER": "3", "YW_HTTP_WRITE_TIMEOUT": "1s"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")
	bob := newUser(t, c, admin, "bob")

	// Twelve messages at the same instant, each to its own session.
	sessions := make([]string, 12)
	for i := range sessions {
		var s struct {
			ID string `json:"id"`
		}
		c.Do("POST", "/v1/chat/sessions", alice, nil, http.StatusCreated, &s)
		sessions[i] = s.ID
	}
	results := burst(t, len(sessions), func(i int) *http.Request {
		return jsonRequest(t, base, "POST", "/v1/chat/sessions/"+sessions[i]+"/messages", alice, map[string]any{"content": "at once"})
	})
	turns := acceptedTurns(t, results)
	require.Len(t, turns, turnCap, "exactly the cap is accepted: %v", results)
	// The contract documents the refusal.
	c.Do("POST", "/v1/chat/sessions/"+sessions[0]+"/messages", alice, map[string]any{"content": "one more"}, http.StatusTooManyRequests, nil)

	t.Run("a stream outlives the write timeout while it delivers", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp := openStream(ctx, t, base, alice, turns[0])
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		opened := time.Now()
		outlived := false
		sc := bufio.NewScanner(resp.Body)
		for !outlived && sc.Scan() {
			outlived = sc.Text() == "event: token" && time.Since(opened) > 2*time.Second
		}
		require.True(t, outlived, "tokens kept coming on one connection for over twice the write timeout (%v)", sc.Err())
	})

	t.Run("streams per user", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var bobTurn string
		var s struct {
			ID string `json:"id"`
		}
		c.Do("POST", "/v1/chat/sessions", bob, nil, http.StatusCreated, &s)
		var posted struct {
			Turn chatTurn `json:"turn"`
		}
		c.Do("POST", "/v1/chat/sessions/"+s.ID+"/messages", bob, map[string]any{"content": "stream me"}, http.StatusAccepted, &posted)
		bobTurn = posted.Turn.ID

		// Ten streams at once: exactly the cap opens, the rest are refused.
		var mu sync.Mutex
		var open []*http.Response
		var refused []burstResult
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 10 {
			wg.Go(func() {
				<-start
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/chat/turns/"+bobTurn+"/events", nil)
				req.Header.Set("Authorization", "Bearer "+bob)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if resp.StatusCode == http.StatusOK {
					open = append(open, resp)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				refused = append(refused, burstResult{status: resp.StatusCode, body: string(b)})
			})
		}
		close(start)
		wg.Wait()
		require.Len(t, open, streamCap)
		require.Len(t, refused, 10-streamCap)
		for _, r := range refused {
			requireProblemCode(t, r, http.StatusTooManyRequests, "too_many_streams")
		}
		// Through the contract checker too, and waiting for a turn counts as a stream.
		c.Do("GET", "/v1/chat/turns/"+bobTurn+"/events", bob, nil, http.StatusTooManyRequests, nil)
		c.Do("POST", "/v1/chat/send", bob, map[string]any{"content": "wait for me"}, http.StatusTooManyRequests, nil)
		// Another user is not affected.
		resp := openStream(ctx, t, base, alice, turns[1])
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()

		// A stream that ends gives its slot back.
		open[0].Body.Close()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp := openStream(ctx, t, base, bob, bobTurn)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			require.True(t, time.Now().Before(deadline), "the slot of a closed stream must come back")
			time.Sleep(20 * time.Millisecond) // polling interval
		}
		for _, r := range open[1:] {
			r.Body.Close()
		}
		// Every slot comes back: the metric of open streams drops to zero.
		for deadline := time.Now().Add(10 * time.Second); ; {
			resp, err := http.Get(base + "/metrics")
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), "\nyw_http_streams_open 0\n") {
				break
			}
			require.True(t, time.Now().Before(deadline), "streams still counted open")
			time.Sleep(20 * time.Millisecond) // polling interval
		}
	})
}
