package api

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/service"
)

// codeRequestTimeout answers a request whose body did not arrive in time.
const codeRequestTimeout service.Code = "request_timeout"

// httpLimits are the server's time and size limits, defaults filled in.
type httpLimits struct {
	readHeader, read, uploadRead, write, idle time.Duration
	maxHeaderBytes                            int
}

func limitsOf(cfg config.Config) httpLimits {
	l := httpLimits{readHeader: cfg.HTTPReadHeaderTimeout, read: cfg.HTTPReadTimeout, uploadRead: cfg.HTTPUploadReadTimeout,
		write: cfg.HTTPWriteTimeout, idle: cfg.HTTPIdleTimeout, maxHeaderBytes: cfg.HTTPMaxHeaderBytes}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&l.readHeader, 10 * time.Second}, {&l.read, 30 * time.Second}, {&l.uploadRead, 15 * time.Minute},
		{&l.write, time.Minute}, {&l.idle, 2 * time.Minute}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if l.maxHeaderBytes <= 0 {
		l.maxHeaderBytes = 64 << 10
	}
	return l
}

// deadlines bounds the time a client may take, per request rather than per
// connection, because one size does not fit: an upload of 100 MiB needs minutes to
// arrive where a JSON body needs seconds, and an event stream must outlive any
// fixed write timeout.
//
//   - The request body must arrive within the read timeout (the upload read timeout
//     for uploads), counted from when the handler starts. A body that is late gets
//     408 and the connection is closed. Once the body is read to its end the
//     deadline is lifted: net/http then watches the idle connection to notice a
//     client going away, and an expired deadline there would cancel the request.
//   - Each write to the client (headers, body, flush) must complete within the
//     write timeout; a response may take as long as it likes in total, as long as
//     the client keeps reading. A client that stops reading is cut off.
func (s *Server) deadlines(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, resp := c.Request(), c.Response()
		rc := http.NewResponseController(resp.Writer)
		// Deadlines live on the connection: lift what the previous request on it left.
		if err := rc.SetWriteDeadline(time.Time{}); err == nil {
			resp.Writer = &deadlineWriter{ResponseWriter: resp.Writer, rc: rc, timeout: s.limits.write}
		}
		var body *deadlineBody
		if r.Body != nil && r.Body != http.NoBody {
			timeout := s.limits.read
			if isUpload(r) {
				timeout = s.limits.uploadRead
			}
			if err := rc.SetReadDeadline(time.Now().Add(timeout)); err == nil {
				body = &deadlineBody{ReadCloser: r.Body, rc: rc}
				r.Body = body
			}
		}
		err := next(c)
		if body != nil && body.timedOut.Load() && !resp.Committed {
			// Whatever the handler made of the failed read, the answer is the same,
			// and the unread rest of the body makes the connection unusable.
			resp.Header().Set(echo.HeaderConnection, "close")
			s.logger.DebugContext(r.Context(), "request body too slow", "route", s.routeLabel(c), "error", err)
			return service.Errorf(codeRequestTimeout, "the request body did not arrive within %s; send it faster or in smaller parts", timeoutOf(r, s.limits))
		}
		return err
	}
}

func timeoutOf(r *http.Request, l httpLimits) time.Duration {
	if isUpload(r) {
		return l.uploadRead
	}
	return l.read
}

// deadlineBody notes a read that ran out of time and lifts the read deadline once
// the body has been read to its end.
type deadlineBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	timedOut atomic.Bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		_ = b.rc.SetReadDeadline(time.Time{})
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			b.timedOut.Store(true)
			return n, errBodyTimeout
		}
	}
	return n, err
}

// errBodyTimeout replaces the network error of a late body, so no handler can pass
// connection details on to the client.
var errBodyTimeout = errors.New("request body read timed out")

// deadlineWriter gives every write to the client its own deadline.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (w *deadlineWriter) extend() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout)) }

func (w *deadlineWriter) WriteHeader(code int) {
	w.extend()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.extend()
	return w.ResponseWriter.Write(b)
}

// Flush and Unwrap keep streaming, hijacking and http.ResponseController working
// through the wrapper.
func (w *deadlineWriter) Flush() {
	w.extend()
	_ = w.rc.Flush()
}

func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
