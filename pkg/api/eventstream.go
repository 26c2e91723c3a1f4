package api

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/turnevent"
)

// A turn's event stream mostly waits: a chat tab left open follows a queued or
// finished turn for hours. Held by net/http, each such stream keeps the
// connection's goroutine — its stack grown by the middleware frames under the
// handler — the connection's read and write buffers and a background reader.
// So on HTTP/1.x the stream leaves net/http once its turn is found: the
// connection is hijacked, the response head written by hand, and the stream
// runs on a goroutine of its own with a shallow stack, beside a reader that only
// notices the client going away. The body is delimited by closing the
// connection, which every HTTP/1 client and event-stream reader understands.
// HTTP/2 cannot hand a stream over, and there the handler keeps it.

// streamOut is where an event stream writes: every write is flushed to the
// client at once, within the write timeout.
type streamOut interface {
	write(b []byte) error
}

// responseOut writes through the handler's response.
type responseOut struct{ w *echo.Response }

func (o responseOut) write(b []byte) error {
	if _, err := o.w.Write(b); err != nil {
		return err
	}
	o.w.Flush()
	return nil
}

// connOut writes to a hijacked connection.
type connOut struct {
	conn    net.Conn
	timeout time.Duration
}

func (o connOut) write(b []byte) error {
	if err := o.conn.SetWriteDeadline(time.Now().Add(o.timeout)); err != nil {
		return err
	}
	_, err := o.conn.Write(b)
	return err
}

// detachStream takes an event stream's connection from net/http and writes the
// response head to it. detached is false when the connection cannot be taken
// (HTTP/2, or a writer that cannot hijack): the handler then streams as usual.
// A detached stream whose head could not be written has no conn: its client is
// gone.
func (s *Server) detachStream(c echo.Context) (conn net.Conn, detached bool) {
	if c.Request().ProtoMajor != 1 {
		return nil, false
	}
	resp := c.Response()
	// What the connection had read past the request is dropped with its
	// buffers: an event-stream client sends nothing more.
	conn, _, err := http.NewResponseController(resp).Hijack()
	if err != nil {
		return nil, false
	}
	// For the request's log line and metrics, which end here.
	resp.Status, resp.Committed = http.StatusOK, true
	h := resp.Header()
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set(echo.HeaderConnection, "close")
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.Write(&head)
	head.WriteString("\r\n")
	if err := (connOut{conn, s.limits.write}).write(head.Bytes()); err != nil {
		_ = conn.Close()
		return nil, true
	}
	return conn, true
}

// watchHangUp cancels the stream when its client closes the connection. The
// client has nothing more to say: anything it sends also ends the stream.
func watchHangUp(conn net.Conn, cancel context.CancelFunc) {
	var b [1]byte
	_, _ = conn.Read(b[:])
	cancel()
}

// pumpEvents writes a turn's events to out until the terminal event, the end of
// ctx or of the server, or a write that fails. Pings keep the stream alive while
// nothing happens. A stream of a turn that ended long ago may have no events
// left to replay; it closes after a few seconds.
func (s *Server) pumpEvents(ctx context.Context, out streamOut, events <-chan queue.Event, ended bool) {
	slot := s.keepAlive.join()
	defer s.keepAlive.leave()
	ping := s.keepAlive.due(slot)
	var idle <-chan time.Time
	if ended {
		idle = time.After(3 * time.Second)
	}
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case <-ping:
			ping = s.keepAlive.due(slot)
			if out.write(pingComment) != nil {
				return
			}
		case <-idle:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			// Events already waiting go out in the same write: under load that
			// saves syscalls, and a lone event still leaves at once.
			buf = appendEvent(buf[:0], ev)
			end := turnevent.IsTerminal(ev.Type)
			closed := false
		drain:
			for n := 1; !end && n < maxEventsPerWrite; n++ {
				select {
				case next, more := <-events:
					if !more {
						closed = true
						break drain
					}
					buf = appendEvent(buf, next)
					end = turnevent.IsTerminal(next.Type)
				default:
					break drain
				}
			}
			if out.write(buf) != nil || end || closed {
				return
			}
			if cap(buf) > maxKeptBuffer {
				buf = nil // a long replay's buffer is not kept for a stream that then idles
			}
		}
	}
}

// maxKeptBuffer is the largest write buffer an event stream keeps between writes.
const maxKeptBuffer = 4 << 10

// runDetached runs a hijacked event stream to its end, then closes the
// connection and releases the stream.
func (s *Server) runDetached(ctx context.Context, cancel context.CancelFunc, conn net.Conn, events <-chan queue.Event, ended bool, release func()) {
	defer release()
	defer cancel()
	defer conn.Close()
	// Out of the handler, a panic here would take the process down: the stream
	// ends instead, as recoverPanics ends a request.
	defer func() {
		if v := recover(); v != nil {
			s.logger.ErrorContext(ctx, "event stream panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	go watchHangUp(conn, cancel)
	started := time.Now()
	s.pumpEvents(ctx, connOut{conn, s.limits.write}, events, ended)
	s.logger.DebugContext(ctx, "event stream ended", "duration_ms", time.Since(started).Milliseconds())
}
