package pdf

import (
	"errors"
	"fmt"
)

// Kind says what is wrong with a document, in the terms the user is told.
type Kind int

// Kinds of failure. The parse package maps each to its error code.
const (
	// KindCorrupt: not a PDF, or too damaged to read any page.
	KindCorrupt Kind = iota + 1
	// KindEmpty: the file has no bytes.
	KindEmpty
	// KindEncrypted: the file needs a password, or a security handler we do not have.
	KindEncrypted
	// KindTooLarge: the file, its pages, its text or a decoded stream is over a limit.
	KindTooLarge
)

// Error is a failure of the document, with a message safe to show the user.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// overBudget carries a failure of the Budget through the reader, so that it
// can tell running out of budget from a broken object. Extract hands the
// Budget's error back unwrapped.
type overBudget struct{ err error }

func (o overBudget) Error() string { return o.err.Error() }
func (o overBudget) Unwrap() error { return o.err }

// stopsDocument reports whether err ends the whole document rather than the
// stream or object it came from: the budget is spent, or a stream is a bomb.
// Anything else (an unknown filter, damaged data) leaves the rest of the page
// readable.
func stopsDocument(err error) bool {
	var o overBudget
	var e *Error
	return errors.As(err, &o) || (errors.As(err, &e) && e.Kind == KindTooLarge)
}

// exposed turns an error of the reader into what Extract returns: the
// Budget's own error as it came, anything else unchanged.
func exposed(err error) error {
	var o overBudget
	if errors.As(err, &o) {
		return o.err
	}
	return err
}
