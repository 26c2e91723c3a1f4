// Package service holds the business rules of YouWorker. HTTP handlers, the CLI and
// the workers all call these services; none of the rules live in the entry points.
package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/youworker/youworker/pkg/access"
)

// Code is a stable machine word for a class of failure; the API maps each to a status.
type Code string

// Error codes. They appear as the "code" of problem+json responses.
const (
	CodeInvalid         Code = "validation_failed"
	CodeNotFound        Code = "not_found"
	CodeConflict        Code = "conflict"
	CodeForbidden       Code = "forbidden"
	CodeUnauthenticated Code = "unauthenticated"
	CodeTooLarge        Code = "payload_too_large"
	CodeUnsupported     Code = "unsupported_media_type"
	CodeRateLimited     Code = "rate_limited"
	CodeUnavailable     Code = "unavailable"
	// CodeScopeDenied refuses a request the caller's API key was not given the
	// scope for (access.ErrScopeDenied).
	CodeScopeDenied Code = "scope_denied"
	// CodeAddressDenied refuses a request from a client address outside the
	// deployment's or the key's allow-list.
	CodeAddressDenied Code = "address_denied"
)

// FieldError names an input field and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a failure the caller can act on: a code, a message safe to show, and
// for validation failures the fields at fault.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// RetryAfter, for a limit, is when trying again can succeed (zero: soon).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf builds an *Error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err when it is an *Error, else "".
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// validation gathers field errors so that all of them are reported at once.
type validation struct{ fields []FieldError }

func (v *validation) add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validation) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msg := v.fields[0].Field + ": " + v.fields[0].Message
	if len(v.fields) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(v.fields)-1)
	}
	return &Error{Code: CodeInvalid, Message: msg, Fields: v.fields}
}

// denied translates the refusal of an access rule into the error this service has
// always given for it, so HTTP statuses do not depend on which rule refused:
// access.ErrForbidden becomes forbidden when the caller may know the thing exists
// (forbidden not nil), and every other refusal becomes notFound. nil stays nil.
func denied(err error, notFound, forbidden error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, access.ErrForbidden) && forbidden != nil:
		return forbidden
	default:
		return notFound
	}
}
