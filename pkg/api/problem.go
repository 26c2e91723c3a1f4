package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type          string               `json:"type"`
	Title         string               `json:"title"`
	Status        int                  `json:"status"`
	Detail        string               `json:"detail"`
	Code          string               `json:"code"`
	CorrelationID string               `json:"correlation_id"`
	Errors        []service.FieldError `json:"errors"`
}

var statusOfCode = map[service.Code]int{
	service.CodeInvalid:         http.StatusBadRequest,
	service.CodeNotFound:        http.StatusNotFound,
	service.CodeConflict:        http.StatusConflict,
	service.CodeForbidden:       http.StatusForbidden,
	service.CodeUnauthenticated: http.StatusUnauthorized,
	service.CodeTooLarge:        http.StatusRequestEntityTooLarge,
	service.CodeUnsupported:     http.StatusUnsupportedMediaType,
	service.CodeRateLimited:     http.StatusTooManyRequests,
	service.CodeUnavailable:     http.StatusServiceUnavailable,
	service.CodeScopeDenied:     http.StatusForbidden,
	service.CodeAddressDenied:   http.StatusForbidden,

	service.CodeQuotaExceeded:  http.StatusRequestEntityTooLarge,
	service.CodeStorageFull:    http.StatusInsufficientStorage,
	service.CodeTooManyUploads: http.StatusTooManyRequests,

	service.CodeEmailDomain:     http.StatusForbidden,
	service.CodeEmailUnverified: http.StatusForbidden,
	service.CodeManaged:         http.StatusConflict,

	service.CodeOriginalUnavailable: http.StatusNotFound,

	service.CodeTooManyTurns:   http.StatusTooManyRequests,
	service.CodeTooManyStreams: http.StatusTooManyRequests,
	codeRequestTimeout:         http.StatusRequestTimeout,
}

var codeOfStatus = map[int]service.Code{
	http.StatusBadRequest:            service.CodeInvalid,
	http.StatusNotFound:              service.CodeNotFound,
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusConflict:              service.CodeConflict,
	http.StatusForbidden:             service.CodeForbidden,
	http.StatusUnauthorized:          service.CodeUnauthenticated,
	http.StatusRequestEntityTooLarge: service.CodeTooLarge,
	http.StatusUnsupportedMediaType:  service.CodeUnsupported,
	http.StatusTooManyRequests:       service.CodeRateLimited,
	http.StatusServiceUnavailable:    service.CodeUnavailable,
}

// errorHandler is the one place that turns errors into problem+json. Internal errors
// become a generic 500 whose details go only to the log, with the correlation id.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := Problem{Status: http.StatusInternalServerError, Errors: []service.FieldError{}}
	var se *service.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &se):
		p.Status = statusOfCode[se.Code]
		if p.Status == 0 {
			p.Status = http.StatusBadRequest
		}
		p.Code, p.Detail = string(se.Code), se.Message
		if se.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(se.RetryAfter.Seconds()))))
		}
		if se.Fields != nil {
			p.Errors = se.Fields
		}
	case errors.Is(err, store.ErrNotFound):
		p.Status, p.Code, p.Detail = http.StatusNotFound, string(service.CodeNotFound), "not found"
	case store.Unavailable(err):
		// The database restarting or failing over: the request is fine, and
		// worth sending again in a moment (to this replica or another).
		p.Status, p.Code = http.StatusServiceUnavailable, string(service.CodeUnavailable)
		p.Detail = "the database cannot be reached right now; try again shortly"
		c.Response().Header().Set("Retry-After", "2")
		s.logger.WarnContext(c.Request().Context(), "request failed: database unavailable", "method", c.Request().Method, "path", c.Path(), "error", err)
	case errors.As(err, &he):
		p.Status = he.Code
		p.Code = string(codeOfStatus[he.Code])
		// Only a plain message is meant for people; anything else (an error value)
		// may carry internals, and goes to the log below instead.
		if msg, ok := he.Message.(string); ok {
			p.Detail = msg
		} else {
			p.Detail = http.StatusText(he.Code)
			s.logger.InfoContext(c.Request().Context(), "request refused", "status", he.Code, "error", err)
		}
		if he.Code == http.StatusRequestEntityTooLarge {
			p.Detail = "the request body is larger than allowed"
		}
	}
	ctx := c.Request().Context()
	if p.Status >= 500 && p.Status != http.StatusServiceUnavailable && p.Status != http.StatusInsufficientStorage {
		s.logger.ErrorContext(ctx, "request failed", "method", c.Request().Method, "path", c.Path(), "error", err)
		p.Code, p.Detail = "internal", "an internal error occurred; quote the correlation id when reporting it"
	}
	if p.Code == "" {
		p.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(p.Status), " ", "_"))
	}
	p.Title = http.StatusText(p.Status)
	p.Type = "https://youworker.dev/problems/" + p.Code
	p.CorrelationID = logging.CorrelationID(ctx)
	if p.Status == http.StatusTooManyRequests && c.Response().Header().Get("Retry-After") == "" {
		c.Response().Header().Set("Retry-After", "1")
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(c.Response()).Encode(p)
}

// bindJSON decodes the request body into v, naming the field at fault on a type error.
func bindJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct != "" && !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return service.Errorf(service.CodeUnsupported, "send the body as application/json")
	}
	dec := json.NewDecoder(c.Request().Body)
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return errEmptyBody
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return &service.Error{Code: service.CodeInvalid, Message: fmt.Sprintf("%s: must be %s", field, jsonKind(typeErr.Type.Kind().String())),
			Fields: []service.FieldError{{Field: field, Message: "must be " + jsonKind(typeErr.Type.Kind().String())}}}
	}
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return service.Errorf(service.CodeTooLarge, "the request body is larger than %d bytes", maxErr.Limit)
	}
	if err != nil {
		return &service.Error{Code: service.CodeInvalid, Message: "the request body is not valid JSON",
			Fields: []service.FieldError{{Field: "body", Message: "not valid JSON"}}}
	}
	return nil
}

// errEmptyBody is bindJSON's answer to a request without a body.
var errEmptyBody = &service.Error{Code: service.CodeInvalid, Message: "the request body is empty; send a JSON object",
	Fields: []service.FieldError{{Field: "body", Message: "required"}}}

// emptyBody reports whether err says the request had no body, for routes whose body
// is optional.
func emptyBody(err error) bool { return err == errEmptyBody }

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int32", "int64", "float64", "uint", "uint64":
		return "a number"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value of the right type"
	}
	return "a value of the right type"
}
