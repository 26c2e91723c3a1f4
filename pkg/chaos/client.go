package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// client talks to the API replicas as a user would: any replica, and another one
// when the first does not answer.
type client struct {
	bases []string
	key   string
	hc    *http.Client // requests with a body to read whole
	sse   *http.Client // event streams: no overall timeout
}

func newClient(bases []string, key string) *client {
	tr := &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second, ResponseHeaderTimeout: 30 * time.Second}
	return &client{bases: bases, key: key, hc: &http.Client{Transport: tr, Timeout: 60 * time.Second},
		sse: &http.Client{Transport: tr}}
}

func (c *client) withKey(key string) *client {
	d := *c
	d.key = key
	return &d
}

// base picks a replica at random.
func (c *client) base() string { return c.bases[rand.IntN(len(c.bases))] }

// errUnavailable is a request that did not reach a replica that could answer:
// refused, cut, timed out, or answered 502/503/504. Whether it took effect is
// unknown.
var errUnavailable = errors.New("no replica answered")

// apiError is an answer with a problem status.
type apiError struct {
	Status int
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail) }

// do sends one request to one replica and decodes a 2xx answer into out.
func (c *client) do(ctx context.Context, base, method, path string, body any, out any) error {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case *multipartBody:
		rd, ctype = bytes.NewReader(b.data), b.ctype
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd, ctype = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", errUnavailable, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%w: %s %s: read: %v", errUnavailable, method, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout:
		return fmt.Errorf("%w: %s %s: %d %s", errUnavailable, method, path, resp.StatusCode, data)
	case resp.StatusCode >= 300:
		e := &apiError{Status: resp.StatusCode}
		_ = json.Unmarshal(data, e)
		if e.Code == "" {
			e.Detail = string(data)
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

// retryable is an error after which the same request may be sent again: a
// replica down, or the platform saying so itself (a database restarting gives
// 500s for a moment, and 429 asks to come back).
func retryable(err error) bool {
	if errors.Is(err, errUnavailable) {
		return true
	}
	var ae *apiError
	return errors.As(err, &ae) && (ae.Status == http.StatusInternalServerError || ae.Status == http.StatusTooManyRequests ||
		ae.Status == http.StatusConflict && strings.Contains(ae.Detail, "retry"))
}

// call sends an idempotent request to replicas until one answers for good or ctx
// ends, pausing between tries.
func (c *client) call(ctx context.Context, method, path string, body, out any) error {
	pause := 100 * time.Millisecond
	for {
		err := c.do(ctx, c.base(), method, path, body, out)
		if err == nil || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(pause):
		}
		pause = min(pause*2, 2*time.Second)
	}
}

// multipartBody is an encoded upload form.
type multipartBody struct {
	data  []byte
	ctype string
}

func uploadForm(filename string, content []byte) *multipartBody {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	part, _ := w.CreateFormFile("file", filename)
	_, _ = part.Write(content)
	_ = w.Close()
	return &multipartBody{data: buf.Bytes(), ctype: w.FormDataContentType()}
}

// sseEvent is one event of a turn's stream.
type sseEvent struct {
	ID   uint64
	Type string
	Data string
}

// stream reads a turn's events from one replica after the given id, calling
// onEvent for each, until the stream ends. It returns nil after a terminal
// event, errStreamEnded when the replica closed the stream early, or the
// transport error.
func (c *client) stream(ctx context.Context, base, turnID string, after uint64, onEvent func(sseEvent) (stop bool)) (terminal bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/chat/turns/"+turnID+"/events", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if after > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(after, 10))
	}
	resp, err := c.sse.Do(req)
	if err != nil {
		return false, fmt.Errorf("%w: events: %v", errUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return false, fmt.Errorf("%w: events: %d %s", errUnavailable, resp.StatusCode, data)
		}
		return false, &apiError{Status: resp.StatusCode, Detail: string(data)}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Type != "" {
				ev := cur
				cur = sseEvent{}
				if isTerminal(ev.Type) {
					onEvent(ev)
					return true, nil
				}
				if onEvent(ev) {
					return false, nil
				}
			}
		case strings.HasPrefix(line, "id: "):
			cur.ID, _ = strconv.ParseUint(strings.TrimPrefix(line, "id: "), 10, 64)
		case strings.HasPrefix(line, "event: "):
			cur.Type = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Data = strings.TrimPrefix(line, "data: ")
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("%w: events: %v", errUnavailable, err)
	}
	return false, nil
}

func isTerminal(typ string) bool {
	return typ == "turn.completed" || typ == "turn.failed" || typ == "turn.cancelled"
}
