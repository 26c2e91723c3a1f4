package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/service"
)

// Upload bounds beyond the per-file size limit. Everything but file content is
// bounded while the body streams in, so a client can make the API hold no more
// than these few kilobytes of its form however large the request.
const (
	maxFilesPerUpload = 20
	// maxFormFields bounds the parts of an upload that are not files.
	maxFormFields = 8
	// maxFieldBytes bounds one form field: room for the most tags allowed.
	maxFieldBytes = 9 << 10
	// maxFormBytes bounds the form fields of an upload together.
	maxFormBytes = 16 << 10
	// maxFormOverhead bounds what the body may spend on anything but file
	// content: fields, part headers, boundaries, and the multipart reader's
	// read-ahead (4 KiB) past a file's end.
	maxFormOverhead = maxFormBytes + maxFilesPerUpload*(2<<10) + 8<<10
)

func (s *Server) mountDocuments(v1 *echo.Group) {
	v1.POST("/documents", s.uploadDocuments)
	v1.GET("/documents", s.listDocuments)
	v1.GET("/documents/:id", s.getDocument)
	v1.GET("/documents/:id/content", s.getDocumentContent)
	v1.PATCH("/documents/:id", s.patchDocument)
	v1.DELETE("/documents/:id", s.deleteDocument)
	v1.POST("/documents/:id/retry", s.retryDocument)
	v1.POST("/documents/:id/refetch", s.refetchDocument)
	v1.POST("/search", s.search)
}

// uploadDocuments streams each file part to the ingestion service as it arrives, so
// no file is ever held whole in memory; nothing is stored unless every part passes.
// Form fields are checked one by one as they arrive, and the first bad one ends the
// request without reading the rest of the body.
func (s *Server) uploadDocuments(c echo.Context) error {
	r := c.Request()
	ctx := r.Context()
	mt, params, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if mt == echo.MIMEApplicationJSON {
		return s.addURLs(c)
	}
	if mt != echo.MIMEMultipartForm {
		return service.Errorf(service.CodeUnsupported, "send the files as multipart/form-data with parts named \"file\", or URLs as JSON {\"urls\": [...]}")
	}
	if params["boundary"] == "" {
		return malformedUpload("the multipart/form-data Content-Type names no boundary")
	}
	p := principal(c)
	release, err := s.deps.Documents.BeginUpload(p)
	if err != nil {
		return err
	}
	defer release()
	limit := s.deps.Config.MaxUploadBytes
	body := &formBudget{r: http.MaxBytesReader(c.Response(), r.Body, limit*maxFilesPerUpload+1<<20), left: maxFormOverhead}
	mr := multipart.NewReader(body, params["boundary"])
	var staged []*service.StagedFile
	defer func() {
		for _, f := range staged {
			f.Discard()
		}
	}()
	form := service.NewUploadForm(p)
	fields, fieldBytes := 0, 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return uploadReadError(err, body, "")
		}
		name := part.FormName()
		if name == "file" {
			if len(staged) == maxFilesPerUpload {
				return tooMany("file", fmt.Sprintf("at most %d files per upload", maxFilesPerUpload))
			}
			f, err := s.deps.Documents.Stage(ctx, part.FileName(), fileContent{part: part, body: body})
			if err != nil {
				if body.exceeded {
					return uploadReadError(err, body, "file")
				}
				return err
			}
			staged = append(staged, f)
			continue
		}
		if fields++; fields > maxFormFields {
			return tooMany(fieldName(name), fmt.Sprintf("at most %d form fields besides the files", maxFormFields))
		}
		value, err := readField(part, fieldName(name), min(maxFieldBytes, maxFormBytes-fieldBytes), body)
		if err != nil {
			return err
		}
		fieldBytes += len(value)
		if err := form.Add(name, value); err != nil {
			return err
		}
	}
	docs, err := s.deps.Documents.CommitUpload(ctx, p, staged, form.Options())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"documents": docs})
}

// formBudget is the request body with a budget for what is not file content: it
// fails reads once the budget is spent, and file content read through
// fileContent gives back what it takes.
type formBudget struct {
	r        io.Reader
	left     int64
	exceeded bool
}

var errFormBudget = errors.New("upload form overhead over budget")

func (b *formBudget) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.exceeded = true
		return 0, errFormBudget
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// fileContent reads a file part, returning its bytes to the form budget.
type fileContent struct {
	part io.Reader
	body *formBudget
}

func (f fileContent) Read(p []byte) (int, error) {
	n, err := f.part.Read(p)
	f.body.left += int64(n)
	return n, err
}

// readField reads one form field of at most limit bytes.
func readField(part io.Reader, name string, limit int, body *formBudget) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, int64(limit)+1))
	if err != nil {
		return "", uploadReadError(err, body, name)
	}
	if len(b) > limit {
		if limit < maxFieldBytes {
			return "", tooLarge(name, fmt.Sprintf("the form fields of an upload may take at most %d bytes together", maxFormBytes))
		}
		return "", tooLarge(name, fmt.Sprintf("longer than %d bytes", maxFieldBytes))
	}
	return string(b), nil
}

// fieldName names a form part in an error; a part without a name is the body's.
func fieldName(name string) string {
	if name == "" {
		return "body"
	}
	return name
}

// uploadReadError turns a failure to read the multipart body into a problem that
// says what the client can fix, never the parser's own words.
func uploadReadError(err error, body *formBudget, field string) error {
	var maxErr *http.MaxBytesError
	switch {
	case body.exceeded:
		return tooLarge(fieldName(field), fmt.Sprintf("the form fields and part headers of an upload may take at most %d bytes", maxFormOverhead))
	case errors.As(err, &maxErr):
		return service.Errorf(service.CodeTooLarge, "the upload is larger than allowed")
	}
	return malformedUpload("the upload is not well-formed multipart/form-data")
}

func malformedUpload(msg string) error {
	return &service.Error{Code: service.CodeInvalid, Message: msg, Fields: []service.FieldError{{Field: "body", Message: msg}}}
}

func tooLarge(field, msg string) error {
	return &service.Error{Code: service.CodeTooLarge, Message: field + ": " + msg, Fields: []service.FieldError{{Field: field, Message: msg}}}
}

func tooMany(field, msg string) error {
	return &service.Error{Code: service.CodeInvalid, Message: field + ": " + msg, Fields: []service.FieldError{{Field: field, Message: msg}}}
}

func (s *Server) listDocuments(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.deps.Documents.List(c.Request().Context(), principal(c), service.ListOptions{
		Status: c.QueryParam("status"), GroupID: c.QueryParam("group_id"), Limit: limit, Cursor: c.QueryParam("cursor"),
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"documents": page.Items, "next_cursor": page.Next})
}

func (s *Server) getDocument(c echo.Context) error {
	doc, err := s.deps.Documents.Get(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, doc)
}

// getDocumentContent returns the original bytes as an attachment, sandboxed so an
// uploaded HTML file can never run in the API's origin.
func (s *Server) getDocumentContent(c echo.Context) error {
	doc, rc, err := s.deps.Documents.Content(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	defer rc.Close()
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": doc.Filename}))
	h.Set("Content-Length", strconv.FormatInt(doc.SizeBytes, 10))
	return c.Stream(http.StatusOK, doc.MIME, rc)
}

func (s *Server) patchDocument(c echo.Context) error {
	var raw map[string]json.RawMessage
	if err := bindJSON(c, &raw); err != nil {
		return err
	}
	var ch service.SharingChange
	var fields []service.FieldError
	if v, ok := raw["group_id"]; ok {
		var g *string
		if err := json.Unmarshal(v, &g); err != nil {
			fields = append(fields, service.FieldError{Field: "group_id", Message: "must be a group id or null"})
		} else {
			empty := ""
			if g == nil {
				g = &empty
			}
			ch.GroupID = g
		}
	}
	if v, ok := raw["private"]; ok {
		var p bool
		if err := json.Unmarshal(v, &p); err != nil {
			fields = append(fields, service.FieldError{Field: "private", Message: "must be true or false"})
		} else {
			ch.Private = &p
		}
	}
	if len(fields) > 0 {
		return &service.Error{Code: service.CodeInvalid, Message: fields[0].Field + ": " + fields[0].Message, Fields: fields}
	}
	doc, err := s.deps.Documents.UpdateSharing(c.Request().Context(), principal(c), c.Param("id"), ch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, doc)
}

func (s *Server) deleteDocument(c echo.Context) error {
	if err := s.deps.Documents.Delete(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}

// urlsRequest is the JSON body of POST /v1/documents that adds documents from URLs.
type urlsRequest struct {
	URLs    []string `json:"urls"`
	GroupID *string  `json:"group_id"`
	Private *bool    `json:"private"`
	Tags    []string `json:"tags"`
}

// addURLs records documents to fetch from URLs; the ingest worker fetches them.
func (s *Server) addURLs(c echo.Context) error {
	var req urlsRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	form := service.NewUploadForm(p)
	if req.GroupID != nil {
		if err := form.Add("group_id", *req.GroupID); err != nil {
			return err
		}
	}
	if req.Private != nil {
		if err := form.Add("private", strconv.FormatBool(*req.Private)); err != nil {
			return err
		}
	}
	if len(req.Tags) > service.MaxTags {
		return tooMany("tags", fmt.Sprintf("at most %d tags", service.MaxTags))
	}
	for _, t := range req.Tags {
		if strings.Contains(t, ",") {
			return &service.Error{Code: service.CodeInvalid, Message: "tags: a tag may not contain a comma",
				Fields: []service.FieldError{{Field: "tags", Message: "a tag may not contain a comma"}}}
		}
		if err := form.Add("tags", t); err != nil {
			return err
		}
	}
	docs, err := s.deps.Documents.SubmitURLs(c.Request().Context(), p, service.URLRequest{URLs: req.URLs, UploadOptions: form.Options()})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"documents": docs})
}

func (s *Server) refetchDocument(c echo.Context) error {
	doc, err := s.deps.Documents.Refetch(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, doc)
}

func (s *Server) retryDocument(c echo.Context) error {
	doc, err := s.deps.Documents.Retry(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, doc)
}

func (s *Server) search(c echo.Context) error {
	var req service.SearchRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	hits, err := s.deps.Search.Search(c.Request().Context(), principal(c), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"hits": hits})
}
