package service

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/youworker/youworker/pkg/access"
)

// Bounds of an upload's tags.
const (
	MaxTags     = 32
	MaxTagRunes = 64
)

// UploadForm takes the form fields of an upload one at a time, as they arrive,
// and checks each at once, so a bad field is refused before the rest of the
// request is read and nothing grows with what a client sends beyond the bounds.
type UploadForm struct {
	p    access.Principal
	opts UploadOptions
	seen map[string]bool
	tags map[string]bool
}

// NewUploadForm starts the form of an upload by p.
func NewUploadForm(p access.Principal) *UploadForm {
	return &UploadForm{p: p, seen: map[string]bool{}, tags: map[string]bool{}}
}

// Add checks and records one field. tags may come in several fields (each comma
// separated); group_id and private at most once. Other names are ignored.
func (f *UploadForm) Add(name, value string) error {
	value = strings.TrimSpace(value)
	switch name {
	case "group_id", "private":
		if f.seen[name] {
			return fieldError(CodeInvalid, name, "given more than once")
		}
		f.seen[name] = true
	}
	switch name {
	case "group_id":
		if value == "" {
			return nil
		}
		if _, err := uuid.Parse(value); err != nil || access.CanShareWithGroup(f.p, value) != nil {
			// Not a member looks exactly like a group that does not exist.
			return fieldError(CodeNotFound, "group_id", "no such group")
		}
		f.opts.GroupID = value
	case "private":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fieldError(CodeInvalid, "private", "must be true or false")
		}
		f.opts.Private = b
	case "tags":
		if !utf8.ValidString(value) {
			return fieldError(CodeInvalid, "tags", "must be UTF-8 text")
		}
		for t := range strings.SplitSeq(value, ",") {
			if t = strings.TrimSpace(t); t == "" || f.tags[t] {
				continue
			}
			if utf8.RuneCountInString(t) > MaxTagRunes || strings.IndexFunc(t, unicode.IsControl) >= 0 {
				return fieldError(CodeInvalid, "tags", fmt.Sprintf("each tag must be at most %d printable characters", MaxTagRunes))
			}
			if len(f.tags) == MaxTags {
				return fieldError(CodeInvalid, "tags", fmt.Sprintf("at most %d tags", MaxTags))
			}
			f.tags[t] = true
			f.opts.Tags = append(f.opts.Tags, t)
		}
	}
	return nil
}

// Options are the fields taken so far.
func (f *UploadForm) Options() UploadOptions { return f.opts }

func fieldError(code Code, field, msg string) *Error {
	return &Error{Code: code, Message: field + ": " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
}
