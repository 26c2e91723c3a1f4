package main

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/pgtest"
)

// metricsShape reads /metrics and returns its size and how many HTTP series it has.
func metricsShape(t *testing.T, base string) (size int, series int) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20) // lines of the old, unbounded labels were huge
	for sc.Scan() {
		line := sc.Text()
		size += len(line) + 1
		if strings.HasPrefix(line, "yw_http_") {
			series++
		}
	}
	require.NoError(t, sc.Err())
	return size, series
}

// junkRound sends requests no route expects: made-up methods (small, and huge),
// made-up and huge paths, and real paths with the wrong method. tag makes every
// round's junk different from the last.
func junkRound(t *testing.T, base, tag string) {
	t.Helper()
	client := &http.Client{}
	send := func(method, path string) {
		req, err := http.NewRequest(method, base+path, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		if err != nil {
			return // a huge request line may be cut off before an answer
		}
		resp.Body.Close()
		require.NotEqual(t, http.StatusInternalServerError, resp.StatusCode)
	}
	for i := range 20 {
		junk := tag + randomHex(4) + strings.Repeat("X", i)
		send("JUNK"+junk, "/healthz")
		send("BREW"+junk+strings.Repeat("M", 2<<10), "/v1/me")
		send("HUGE"+junk+strings.Repeat("H", 200<<10), "/healthz")
		send("GET", "/no/such/"+junk)
		send("GET", "/"+strings.Repeat("p", 8<<10)+junk)
		send("GET", "/v1/no-such-route/"+junk)
		send("GET", "/assets/"+junk+".js")
		send("DELETE", "/healthz?x="+junk)
		send("PUT", "/metrics/"+junk)
		send("get", "/healthz") // methods are case-sensitive: not GET
	}
}

// TestHostileMethodsAndPathsDoNotGrowMetrics: every label of the HTTP metrics comes
// from a closed set, so junk a client makes up adds no series, however much of it
// there is and however large.
func TestHostileMethodsAndPathsDoNotGrowMetrics(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	// A generous rate limit, so rounds do not differ by when the bucket ran dry.
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_LOG_LEVEL": "error",
		"YW_RATE_LIMIT_RPS": "100000", "YW_RATE_LIMIT_BURST": "100000"})

	// The first round creates the series junk can reach at all (method "other",
	// route "unmatched", the 404 and 405 statuses, ...), and the first read of
	// /metrics its own.
	metricsShape(t, base)
	junkRound(t, base, "a")
	sizeBefore, seriesBefore := metricsShape(t, base)
	for _, round := range []string{"b", "c", "d"} {
		junkRound(t, base, round)
	}
	sizeAfter, seriesAfter := metricsShape(t, base)
	t.Logf("/metrics after one round of junk: %d bytes, %d HTTP series; after four: %d bytes, %d HTTP series",
		sizeBefore, seriesBefore, sizeAfter, seriesAfter)
	require.Equal(t, seriesBefore, seriesAfter, "junk must not add series")
	require.InDelta(t, sizeBefore, sizeAfter, 512, "only counter values change")
	require.Less(t, sizeAfter, 256<<10, "/metrics stays small")

	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body := new(strings.Builder)
	_, err = bufio.NewReader(resp.Body).WriteTo(body)
	require.NoError(t, err)
	text := body.String()
	for _, want := range []string{
		`yw_http_requests_total{method="other",route="/healthz",status="405"}`,
		`yw_http_requests_total{method="GET",route="unmatched",status="404"}`,
		`yw_http_requests_total{method="DELETE",route="/healthz",status="405"}`,
	} {
		require.True(t, strings.Contains(text, want), "/metrics has %s", want)
	}
	for _, junk := range []string{"JUNK", "BREW", "/no/such/", `method="get"`, "pppppppp"} {
		require.False(t, strings.Contains(text, junk), "/metrics names %s", junk)
	}
}
