// Package apitest is an HTTP client for end-to-end tests that checks every response
// against the served OpenAPI document, so the contract cannot drift from the code.
// Production code never imports it.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api"
)

// Client talks to one running API.
type Client struct {
	t      testing.TB
	base   string
	http   *http.Client
	router routers.Router
}

// Response is what Send returns: status, headers and the body as text.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// NewClient returns a client for the API at base (like http://127.0.0.1:1234).
func NewClient(t testing.TB, base string) *Client {
	t.Helper()
	raw, err := api.OpenAPI()
	require.NoError(t, err, "openapi fragments must merge")
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	require.NoError(t, err, "openapi.json must load")
	require.NoError(t, doc.Validate(context.Background()), "openapi.json must be valid")
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &Client{t: t, base: base, http: &http.Client{}, router: router}
}

// Request builds a request with an optional bearer key and JSON body.
func (c *Client) Request(method, path, key string, body any) *http.Request {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return req
}

// Do sends a JSON request, requires the status, validates the response against the
// contract and decodes the body into out (when not nil).
func (c *Client) Do(method, path, key string, body any, wantStatus int, out any) Response {
	c.t.Helper()
	return c.Send(c.Request(method, path, key, body), wantStatus, out)
}

// Send sends req; see Do.
func (c *Client) Send(req *http.Request, wantStatus int, out any) Response {
	c.t.Helper()
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	require.Equal(c.t, wantStatus, resp.StatusCode, "%s %s: %s", req.Method, req.URL.Path, body)
	c.validate(req, reqBody, resp, body)
	if out != nil && len(body) > 0 {
		require.NoError(c.t, json.Unmarshal(body, out), "%s %s: %s", req.Method, req.URL.Path, body)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

func (c *Client) validate(req *http.Request, reqBody []byte, resp *http.Response, body []byte) {
	c.t.Helper()
	if resp.StatusCode >= 400 {
		require.Equal(c.t, "application/problem+json", resp.Header.Get("Content-Type"), "errors are problem+json: %s", body)
		var p api.Problem
		require.NoError(c.t, json.Unmarshal(body, &p))
		require.Equal(c.t, resp.StatusCode, p.Status)
		require.NotEmpty(c.t, p.Code)
		require.NotEmpty(c.t, p.CorrelationID)
	}
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		// Unknown routes answer 404/405 problems, checked above.
		require.True(c.t, resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed,
			"%s %s is not in openapi.json: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeRequestBody: true}}
	ct := resp.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "text/event-stream") {
		return
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(body)
	require.NoError(c.t, openapi3filter.ValidateResponse(context.Background(), out),
		"%s %s → %d does not match openapi.json: %s", req.Method, req.URL.Path, resp.StatusCode, body)
}

// File is one part of a multipart upload.
type File struct {
	Name string
	Data []byte
}

// Upload posts files (and form fields) as multipart/form-data to path.
func (c *Client) Upload(path, key string, files []File, fields map[string]string, wantStatus int, out any) Response {
	c.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		require.NoError(c.t, w.WriteField(k, v))
	}
	for _, f := range files {
		part, err := w.CreateFormFile("file", f.Name)
		require.NoError(c.t, err)
		_, err = part.Write(f.Data)
		require.NoError(c.t, err)
	}
	require.NoError(c.t, w.Close())
	req, err := http.NewRequest(http.MethodPost, c.base+path, &body)
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", w.FormDataContentType())
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return c.Send(req, wantStatus, out)
}
