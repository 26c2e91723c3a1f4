package llm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/ollama/ollama/api"
)

// The client library reserves an 8 MB line buffer for every streamed call,
// allocated when the first chunk arrives: at a hundred concurrent turns that
// is most of the CPU and memory of starting them. Chunks are a few hundred
// bytes, so /api/chat is streamed here with a small buffer that grows only
// for a long line, up to the library's limit.
const (
	lineBufSize = 4 << 10
	maxLineSize = 8 << 20
	// maxErrorBody bounds what is read of an error response.
	maxErrorBody = 64 << 10
)

// errLineTooLong is not transient: the same answer would overflow again.
var errLineTooLong = fmt.Errorf("ollama chat: stream line longer than %d bytes", maxLineSize)

// chatChunk is one NDJSON line of /api/chat: a piece of the answer, or an
// error the server reports in the stream.
type chatChunk struct {
	api.ChatResponse
	Error string `json:"error,omitempty"`
}

// streamChat posts body (an encoded api.ChatRequest) to /api/chat and calls
// fn for each chunk. Failures look like the library's: api.StatusError or
// api.AuthorizationError for an error status, a plain error for an error
// line in the stream, and errIncomplete (wrapping the cause) when reading
// breaks off, so retries and error mapping are unchanged.
func (o *Ollama) streamChat(ctx context.Context, body []byte, fn func(*api.ChatResponse) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.chatURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/x-ndjson")
	req.Header.Set("User-Agent", "youworker")
	resp, err := o.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= http.StatusBadRequest {
		return statusError(resp)
	}

	r := bufio.NewReaderSize(resp.Body, lineBufSize)
	var long []byte // a line that did not fit the reader's buffer
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long)+len(line) > maxLineSize {
				return errLineTooLong
			}
			long = append(long, line...)
			continue
		}
		if long != nil {
			if len(long)+len(line) > maxLineSize {
				return errLineTooLong
			}
			line = append(long, line...)
			long = nil
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			if perr := decodeChunk(line, fn); perr != nil {
				return perr
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return nil // the caller checks for the done chunk
		default:
			return fmt.Errorf("%w: %w", errIncomplete, err)
		}
	}
}

func decodeChunk(line []byte, fn func(*api.ChatResponse) error) error {
	// Nearly every chunk is a piece of text. Decoding it into the library's
	// whole response (a timestamp to parse, metrics, tool calls) was the
	// largest cost of relaying a token; a chunk that is anything more — the
	// last one, tool calls, an error — is decoded in full.
	var t textChunk
	if err := json.Unmarshal(line, &t); err == nil && t.plain() {
		return fn(&api.ChatResponse{Message: api.Message{Role: t.Message.Role, Content: t.Message.Content, Thinking: t.Message.Thinking}})
	}
	var c chatChunk
	if err := json.Unmarshal(line, &c); err != nil {
		// Ollama sometimes writes a bare error message instead of JSON.
		return errors.New(string(line))
	}
	if c.Error != "" {
		return errors.New(c.Error)
	}
	return fn(&c.ChatResponse)
}

// textChunk is the part of a chunk that a piece of text needs. Fields it
// does not name are skipped by the decoder, unread.
type textChunk struct {
	Message struct {
		Role      string          `json:"role"`
		Content   string          `json:"content"`
		Thinking  string          `json:"thinking"`
		ToolCalls json.RawMessage `json:"tool_calls"`
		Images    json.RawMessage `json:"images"`
	} `json:"message"`
	Done  bool            `json:"done"`
	Error json.RawMessage `json:"error"`
}

// plain reports whether the chunk is only text: not the last, no tool calls,
// no pictures, no error.
func (t *textChunk) plain() bool {
	return !t.Done && isNull(t.Error) && isNull(t.Message.ToolCalls) && isNull(t.Message.Images)
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// statusError reads an error response into the library's error types, which
// transient and notFound understand.
func statusError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	body = bytes.TrimSpace(body)
	if i := bytes.IndexByte(body, '\n'); i >= 0 {
		body = body[:i] // the library reports the first line
	}
	var e struct {
		Error     string `json:"error"`
		SigninURL string `json:"signin_url"`
	}
	if len(body) > 0 && json.Unmarshal(body, &e) != nil {
		return api.StatusError{StatusCode: resp.StatusCode, Status: resp.Status, ErrorMessage: string(body)}
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return api.AuthorizationError{StatusCode: resp.StatusCode, Status: resp.Status, SigninURL: e.SigninURL}
	}
	return api.StatusError{StatusCode: resp.StatusCode, Status: resp.Status, ErrorMessage: e.Error}
}
