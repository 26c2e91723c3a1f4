package job

import (
	"errors"
	"fmt"
	"time"
)

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string {
	if e.err == nil {
		return "permanent failure"
	}
	return "permanent: " + e.err.Error()
}

func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so the queue terminates the message instead of retrying
// it (and copies it to the dead-letter stream). Use it for input that will
// never be valid: a missing document, an unparsable payload, an unsupported
// file. Permanent(nil) still marks a failure, so a handler cannot turn it
// into a success by accident.
func Permanent(err error) error {
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// retryAfterError asks for a redelivery after a fixed delay.
type retryAfterError struct {
	delay time.Duration
	err   error
}

func (e *retryAfterError) Error() string {
	msg := fmt.Sprintf("retry after %s", e.delay)
	if e.err == nil {
		return msg
	}
	return msg + ": " + e.err.Error()
}

func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter wraps err so the queue redelivers the message after d rather
// than after its own exponential backoff; use it when the handler knows when
// a dependency will be back (a rate limit, a model still loading). The
// redelivery still counts toward the delivery limit. A negative d is treated
// as zero.
func RetryAfter(d time.Duration, err error) error {
	if d < 0 {
		d = 0
	}
	return &retryAfterError{delay: d, err: err}
}

// RetryDelay returns the delay requested with RetryAfter, if err (or an error
// it wraps) carries one. A Permanent error never has a retry delay, even when
// it wraps a RetryAfter, because never retrying wins.
func RetryDelay(err error) (time.Duration, bool) {
	if IsPermanent(err) {
		return 0, false
	}
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.delay, true
	}
	return 0, false
}
