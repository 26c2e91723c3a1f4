package retrievalbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/apiserver"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/platform"
	"github.com/youworker/youworker/pkg/service"
)

// rig is the platform in this process, on a fresh database with embedded NATS and
// vector store, with the API served over loopback and the ingest worker running:
// what `api -dev` serves for documents and search.
type rig struct {
	p      *platform.Platform
	users  *service.Users
	base   string
	client *http.Client
	// userID and key are the searching user's, who also owns the corpus.
	userID, key string
}

// startRig opens the platform with env on top of the benchmark's settings; the
// platform and its database go with tb's cleanups.
func startRig(ctx context.Context, tb testing.TB, env map[string]string, getenv func(string) string) (*rig, error) {
	_, dbURL := pgtest.NewDB(tb)
	all := map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": tb.TempDir(),
		"YW_DEV_NATS_PORT": "0", "YW_DEV_QDRANT_ADDR": "127.0.0.1:0",
		"YW_RATE_LIMIT_RPS": "1000000", "YW_RATE_LIMIT_BURST": "1000000",
		"YW_LOG_LEVEL": "error",
	}
	// The retrieval settings pass through, so they can be tuned against the table.
	for _, name := range []string{"YW_LOG_LEVEL", "YW_SEARCH_FUSION", "YW_SEARCH_RRF_K", "YW_SEARCH_DENSE_WEIGHT", "YW_SEARCH_LANGUAGE", "YW_BM25_K1", "YW_BM25_B"} {
		if v := getenv(name); v != "" {
			all[name] = v
		}
	}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := config.Load(func(k string) string { return all[k] })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return nil, err
	}
	logger := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	a, err := app.Open(ctx, cfg, logger, app.Options{Program: "retrieval-bench", Dev: true, Relay: true, Ingest: true})
	if err != nil {
		return nil, err
	}
	srv, err := apiserver.New(a)
	if err != nil {
		a.Close()
		return nil, err
	}
	users := a.Services.Users
	user, key, err := users.Create(ctx, access.System, "searcher", false)
	if err != nil {
		a.Close()
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return a.Run(gctx, l, srv.Serve) })
	tb.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			fmt.Fprintln(os.Stderr, "shutdown:", err)
		}
		srv.Close()
		a.Close()
	})
	return &rig{
		p: a.Platform, users: users, base: "http://" + l.Addr().String(),
		client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
		userID: user.ID, key: key.Secret,
	}, nil
}

// statusError is an answer with an unexpected status.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %s", e.status, e.body) }

// do sends a JSON request as the holder of key and decodes a JSON answer of status want.
func (r *rig) do(ctx context.Context, method, path, key string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return r.send(req, want, out)
}

func (r *rig) send(req *http.Request, want int, out any) error {
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, &statusError{resp.StatusCode, string(data)})
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// document is the part of the API's Document the benchmark reads.
type document struct {
	ID         string `json:"id"`
	Filename   string `json:"filename"`
	Status     string `json:"status"`
	ChunkCount int    `json:"chunk_count"`
	Error      *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// upload posts one file through POST /v1/documents as the holder of key, with
// the optional form fields (group_id, private).
func (r *rig) upload(ctx context.Context, key, name string, data []byte, fields map[string]string) (document, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			return document{}, err
		}
	}
	part, err := w.CreateFormFile("file", name)
	if err != nil {
		return document{}, err
	}
	if _, err := part.Write(data); err != nil {
		return document{}, err
	}
	if err := w.Close(); err != nil {
		return document{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+"/v1/documents", &body)
	if err != nil {
		return document{}, err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	var out struct {
		Documents []document `json:"documents"`
	}
	if err := r.send(req, http.StatusAccepted, &out); err != nil {
		return document{}, err
	}
	if len(out.Documents) != 1 {
		return document{}, fmt.Errorf("upload %s: %d documents in the answer", name, len(out.Documents))
	}
	return out.Documents[0], nil
}

// waitDocuments polls each document until it is ready or failed.
func (r *rig) waitDocuments(ctx context.Context, key string, ids []string, timeout time.Duration) (map[string]document, error) {
	out := make(map[string]document, len(ids))
	deadline := time.Now().Add(timeout)
	for {
		pending := 0
		for _, id := range ids {
			if _, ok := out[id]; ok {
				continue
			}
			var d document
			if err := r.do(ctx, http.MethodGet, "/v1/documents/"+id, key, nil, http.StatusOK, &d); err != nil {
				return nil, err
			}
			if d.Status == "ready" || d.Status == "failed" {
				out[id] = d
				continue
			}
			pending++
		}
		if pending == 0 {
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d documents still processing after %s", pending, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond): // polling interval, as a client would
		}
	}
}

// hit is one passage of a search answer.
type hit struct {
	DocumentID string   `json:"document_id"`
	Filename   string   `json:"filename"`
	Matched    *matched `json:"matched"`
}

// matched says which retrievers found a hit, at what rank; absent from servers
// that predate hybrid retrieval.
type matched struct {
	Dense   *int `json:"dense"`
	Lexical *int `json:"lexical"`
}

// search runs POST /v1/search; an empty mode leaves the server's default.
func (r *rig) search(ctx context.Context, text, mode string, limit int) ([]hit, error) {
	body := map[string]any{"query": text, "limit": limit}
	if mode != "" {
		body["mode"] = mode
	}
	var out struct {
		Hits []hit `json:"hits"`
	}
	err := r.do(ctx, http.MethodPost, "/v1/search", r.key, body, http.StatusOK, &out)
	return out.Hits, err
}
