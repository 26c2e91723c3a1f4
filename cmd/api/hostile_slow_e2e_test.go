package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// slowClient is a raw connection that sends its request a little at a time.
type slowClient struct {
	conn   net.Conn
	done   chan struct{}
	closed chan struct{}
}

// dialSlow connects and sends head at once, then body in chunks of size bytes,
// one chunk per interval, until it is all sent or the server stops reading.
func dialSlow(t *testing.T, base string, head, body []byte, size int, interval time.Duration) *slowClient {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	sc := &slowClient{conn: conn, done: make(chan struct{}), closed: make(chan struct{})}
	t.Cleanup(func() {
		close(sc.done)
		conn.Close()
		<-sc.closed
	})
	go func() {
		defer close(sc.closed)
		if _, err := conn.Write(head); err != nil {
			return
		}
		tick := time.NewTicker(interval) // the pace of a slow client, not synchronisation
		defer tick.Stop()
		for len(body) > 0 {
			select {
			case <-sc.done:
				return
			case <-tick.C:
			}
			n := min(size, len(body))
			if _, err := conn.Write(body[:n]); err != nil {
				return
			}
			body = body[n:]
		}
	}()
	return sc
}

// awaitEnd reads everything the server sends until it closes the connection, and
// returns it with the time that took; it fails when the server has not closed the
// connection within limit.
func (sc *slowClient) awaitEnd(t *testing.T, limit time.Duration) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	require.NoError(t, sc.conn.SetReadDeadline(start.Add(limit)))
	got, err := io.ReadAll(sc.conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		require.Failf(t, "the server did not close the connection", "within %s; got %q", limit, got)
	}
	// Any other error is a reset: the server hung up too.
	return string(got), time.Since(start)
}

// response reads the server's answer, without waiting for the connection to end.
func (sc *slowClient) response(t *testing.T, limit time.Duration) (*http.Response, string) {
	t.Helper()
	require.NoError(t, sc.conn.SetReadDeadline(time.Now().Add(limit)))
	resp, err := http.ReadResponse(bufio.NewReader(sc.conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// requireServed checks that an ordinary client is served promptly meanwhile.
func requireServed(t *testing.T, c *apitest.Client, key string) {
	t.Helper()
	start := time.Now()
	c.Do("GET", "/v1/me", key, nil, http.StatusOK, nil)
	require.Less(t, time.Since(start), 2*time.Second)
}

func parseResponse(t *testing.T, raw string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	require.NoError(t, err, "a response: %q", raw)
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// TestSlowClientsAreCutOffWhileOthersAreServed: a client that sends its headers a
// byte at a time, or trickles its body, is cut off after the read timeouts, while
// everyone else keeps being served. An upload may take longer than a JSON body.
func TestSlowClientsAreCutOffWhileOthersAreServed(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-" + randomHex(12)
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error",
		"YW_HTTP_READ_HEADER_TIMEOUT": "1s", "YW_HTTP_READ_TIMEOUT": "1s", "YW_HTTP_UPLOAD_READ_TIMEOUT": "5s"})
	c := apitest.NewClient(t, base)
	key := newUser(t, c, admin, "alice")

	t.Run("headers byte by byte", func(t *testing.T) {
		t.Parallel()
		head := []byte("GET /healthz HTTP/1.1\r\n")
		trickle := []byte("Host: slow.example\r\nX-Pad: " + strings.Repeat("a", 4000) + "\r\n\r\n")
		var clients []*slowClient
		for range 20 {
			clients = append(clients, dialSlow(t, base, head, trickle, 1, 50*time.Millisecond))
		}
		requireServed(t, c, key)
		for _, sc := range clients {
			got, took := sc.awaitEnd(t, 5*time.Second)
			require.NotContains(t, got, "200 OK", "the request never completed")
			t.Logf("cut off after %s", took.Round(100*time.Millisecond))
		}
		requireServed(t, c, key)
	})

	t.Run("JSON body trickled", func(t *testing.T) {
		t.Parallel()
		body := []byte(`{"title":"` + strings.Repeat("t", 60) + `"}`)
		head := fmt.Appendf(nil, "POST /v1/chat/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", key, len(body))
		sc := dialSlow(t, base, head, body, 1, 100*time.Millisecond) // 7 s to send it all
		requireServed(t, c, key)
		got, took := sc.awaitEnd(t, 5*time.Second)
		resp, text := parseResponse(t, got)
		require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, text)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		require.Contains(t, text, `"code":"request_timeout"`)
		require.Less(t, took, 4*time.Second)
		var sessions struct {
			Sessions []any `json:"sessions"`
		}
		c.Do("GET", "/v1/chat/sessions", key, nil, http.StatusOK, &sessions)
		require.Empty(t, sessions.Sessions, "nothing was created")
	})

	upload := func(name, text string) (head, body []byte) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		part, err := mw.CreateFormFile("file", name)
		require.NoError(t, err)
		_, _ = part.Write([]byte(text))
		require.NoError(t, mw.Close())
		head = fmt.Appendf(nil, "POST /v1/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: %s\r\nContent-Length: %d\r\n\r\n", key, mw.FormDataContentType(), buf.Len())
		return head, buf.Bytes()
	}

	t.Run("upload slower than a JSON body may be", func(t *testing.T) {
		t.Parallel()
		head, body := upload("slow.txt", strings.Repeat("A slow but steady upload. ", 40))
		// About 2.5 s in all: beyond the read timeout, within the upload's.
		chunk := len(body)/25 + 1
		sc := dialSlow(t, base, head, body, chunk, 100*time.Millisecond)
		start := time.Now()
		resp, text := sc.response(t, 15*time.Second)
		require.Equal(t, http.StatusAccepted, resp.StatusCode, text)
		require.Greater(t, time.Since(start), 2*time.Second, "the upload took longer than the read timeout")
	})

	t.Run("upload that never arrives", func(t *testing.T) {
		t.Parallel()
		head, body := upload("stuck.txt", strings.Repeat("x", 4000))
		sc := dialSlow(t, base, head, body, 1, 100*time.Millisecond)
		requireServed(t, c, key)
		got, took := sc.awaitEnd(t, 10*time.Second)
		resp, text := parseResponse(t, got)
		require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, text)
		require.Contains(t, text, `"code":"request_timeout"`)
		require.GreaterOrEqual(t, took, 4*time.Second, "an upload gets its longer timeout")
		// The failed read is reported in words, never with the connection's details.
		for _, internal := range []string{"i/o timeout", "127.0.0.1", "tcp", "multipart"} {
			require.NotContains(t, text, internal)
		}
	})
}
