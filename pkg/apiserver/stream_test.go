package apiserver_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging"
)

// streamPlatform is `api -dev` served over TLS, so that one server answers
// event streams both over HTTP/1.1, where they leave net/http, and over HTTP/2,
// where the handler keeps them.
type streamPlatform struct {
	base    string
	key     string
	roots   *x509.CertPool
	release chan struct{} // closing it lets the held turns' model answer
}

// streamAnswer is what the model says to every turn.
var streamAnswer = []string{"Streams ", "leave ", "the ", "server's ", "handler."}

func startStreaming(t *testing.T) *streamPlatform {
	t.Helper()
	p := &streamPlatform{release: make(chan struct{})}
	model := llmtest.New(t)
	model.Handle(func(req api.ChatRequest) llmtest.Script {
		if strings.Contains(req.Messages[len(req.Messages)-1].Content, "hold") {
			<-p.release
		}
		return llmtest.Script{Tokens: streamAnswer, TokenDelay: 5 * time.Millisecond}
	})
	t.Cleanup(func() {
		select {
		case <-p.release:
		default:
			close(p.release)
		}
	})
	cfg := devConfig(t, model.URL, llmtest.ChatModel)
	cert, roots := selfSigned(t)
	p.roots = roots
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tl := tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	p.key = servePlatform(t, cfg, logging.New(io.Discard, slog.LevelError, "json"), app.DevOptions, "streamer", tl)
	p.base = "https://" + l.Addr().String()
	return p
}

// client speaks HTTP/2 when h2, else HTTP/1.1 only.
func (p *streamPlatform) client(h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.roots}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr}
}

// ask posts content in a new session and returns the turn's id.
func (p *streamPlatform) ask(t *testing.T, content string) string {
	t.Helper()
	c := p.client(false)
	var sess struct {
		ID string `json:"id"`
	}
	p.do(t, c, "POST", "/v1/chat/sessions", `{}`, http.StatusCreated, &sess)
	var posted struct {
		Turn struct {
			ID string `json:"id"`
		} `json:"turn"`
	}
	p.do(t, c, "POST", "/v1/chat/sessions/"+sess.ID+"/messages", fmt.Sprintf(`{"content":%q,"tools":false}`, content), http.StatusAccepted, &posted)
	return posted.Turn.ID
}

func (p *streamPlatform) do(t *testing.T, c *http.Client, method, path, body string, want int, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, p.base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+p.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, want, resp.StatusCode, string(data))
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out))
	}
}

// follow opens the turn's event stream.
func (p *streamPlatform) follow(t *testing.T, c *http.Client, turnID string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", p.base+"/v1/chat/turns/"+turnID+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := c.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp
}

// readStream reads an event stream to its end: the event types in order and
// the text of the tokens.
func readStream(t *testing.T, body io.Reader) (types []string, text string) {
	t.Helper()
	var b strings.Builder
	require.NoError(t, apitest.ReadEvents(body, func(e apitest.Event) bool {
		types = append(types, e.Type)
		if e.Type == "token" {
			var d struct {
				Text string `json:"text"`
			}
			require.NoError(t, json.Unmarshal([]byte(e.Data), &d))
			b.WriteString(d.Text)
		}
		return true
	}))
	return types, b.String()
}

func TestEventStreamsOverHTTP1AndHTTP2(t *testing.T) {
	p := startStreaming(t)
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			turn := p.ask(t, "tell me about streams")
			resp := p.follow(t, p.client(h2), turn)
			defer resp.Body.Close()
			if h2 {
				require.Equal(t, 2, resp.ProtoMajor)
			} else {
				// Detached from net/http: a body delimited by the connection's end.
				require.Equal(t, 1, resp.ProtoMajor)
				require.True(t, resp.Close, "the connection closes when the stream ends")
				require.Equal(t, int64(-1), resp.ContentLength)
				require.Empty(t, resp.TransferEncoding)
			}
			// The middlewares' headers go out either way.
			require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
			require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			require.NotEmpty(t, resp.Header.Get("Date"))
			types, text := readStream(t, resp.Body)
			require.Equal(t, strings.Join(streamAnswer, ""), text)
			require.Equal(t, "turn.completed", types[len(types)-1], "the stream ends after the terminal event: %v", types)
		})
	}
}

func TestDetachedStreamsEndWhenTheirClientHangsUp(t *testing.T) {
	p := startStreaming(t)
	c := p.client(false)
	turn := p.ask(t, "hold the answer")
	// The user's streams are capped (16 by default): streams whose clients hung
	// up must free their places, or the next ones would be refused.
	for range 40 {
		ctx, cancel := context.WithCancel(t.Context())
		req, err := http.NewRequestWithContext(ctx, "GET", p.base+"/v1/chat/turns/"+turn+"/events", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+p.key)
		resp, err := c.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		cancel()
		_ = resp.Body.Close()
		require.Eventually(t, func() bool { return p.openStreams(t) == 0 }, 10*time.Second, 10*time.Millisecond,
			"a stream outlived its client")
	}
	// A held stream still gets the whole answer once the model speaks.
	resp := p.follow(t, c, turn)
	defer resp.Body.Close()
	close(p.release)
	types, text := readStream(t, resp.Body)
	require.Equal(t, strings.Join(streamAnswer, ""), text)
	require.Equal(t, "turn.completed", types[len(types)-1])
	require.Eventually(t, func() bool { return p.openStreams(t) == 0 }, 10*time.Second, 10*time.Millisecond)
}

// openStreams reads yw_http_streams_open from the metrics.
func (p *streamPlatform) openStreams(t *testing.T) int {
	t.Helper()
	resp, err := p.client(false).Get(p.base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "yw_http_streams_open "); ok {
			var n float64
			_, err := fmt.Sscan(v, &n)
			require.NoError(t, err)
			return int(n)
		}
	}
	t.Fatal("no yw_http_streams_open in the metrics")
	return 0
}

// selfSigned is a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
