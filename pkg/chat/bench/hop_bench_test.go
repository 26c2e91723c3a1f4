package bench_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// httpHop measures one loopback HTTP stream hop of the kind a token crosses
// twice besides JetStream (model → agent worker, API → browser): a handler
// writes a timestamped line and flushes, a client reads it. Set beside the
// JetStream floor, it shows what the relay's path costs at the least.
type httpHop struct {
	srv    *httptest.Server
	client *http.Client
}

func newHTTPHop(tb testing.TB, k int) *httpHop {
	srv := httptest.NewServer(http.HandlerFunc(serveTicks))
	tb.Cleanup(srv.Close)
	return &httpHop{srv: srv, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * k, MaxIdleConns: 2 * k}}}
}

// serveTicks writes ?n= lines (0: until the client leaves), one every ?every=,
// each the time it was written in Unix nanoseconds.
func serveTicks(w http.ResponseWriter, r *http.Request) {
	n, err1 := strconv.Atoi(r.URL.Query().Get("n"))
	every, err2 := time.ParseDuration(r.URL.Query().Get("every"))
	if err1 != nil || err2 != nil || every <= 0 {
		http.Error(w, "n and every are required", http.StatusBadRequest)
		return
	}
	flusher := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	tick := time.NewTicker(every)
	defer tick.Stop()
	var line []byte
	for i := 0; n == 0 || i < n; i++ {
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
		line = strconv.AppendInt(line[:0], time.Now().UnixNano(), 10)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return
		}
		flusher.Flush()
	}
}

// read follows one stream of n lines (0: until ctx ends), recording each
// line's latency.
func (h *httpHop) read(ctx context.Context, n int, every time.Duration, record func(time.Duration)) error {
	url := fmt.Sprintf("%s/?n=%d&every=%s", h.srv.URL, n, every)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	got := 0
	for sc.Scan() {
		at := time.Now()
		sent, err := strconv.ParseInt(sc.Text(), 10, 64)
		if err != nil {
			return fmt.Errorf("tick line %q: %w", sc.Text(), err)
		}
		record(at.Sub(time.Unix(0, sent)))
		got++
	}
	if n > 0 && got != n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("tick stream: %d of %d lines (%v)", got, n, sc.Err())
	}
	return nil
}

// floor runs k streams of o.tokens lines at o.interval at once: the relay's
// load shape, with nothing else running.
func (h *httpHop) floor(ctx context.Context, k int, o options) (samples, error) {
	var mu sync.Mutex
	lat := make(samples, 0, k*o.tokens)
	g, gctx := errgroup.WithContext(ctx)
	for range k {
		g.Go(func() error {
			return h.read(gctx, o.tokens, o.interval, func(d time.Duration) {
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			})
		})
	}
	return lat, g.Wait()
}

// probe follows a few endless streams until stop, which returns their latencies.
func (h *httpHop) probe(ctx context.Context, streams int, every time.Duration) (stop func() (samples, error)) {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var lat samples
	var g errgroup.Group
	for range streams {
		g.Go(func() error {
			err := h.read(ctx, 0, every, func(d time.Duration) {
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			})
			if ctx.Err() != nil {
				return nil // stopped
			}
			return err
		})
	}
	return func() (samples, error) {
		cancel()
		err := g.Wait()
		return lat, err
	}
}
