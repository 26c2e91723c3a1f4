package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/service"
)

// Upload bounds beyond the per-file size limit.
const (
	maxFilesPerUpload = 20
	maxFieldBytes     = 4096
)

func (s *Server) mountDocuments(v1 *echo.Group) {
	if s.deps.Documents == nil {
		return
	}
	v1.POST("/documents", s.uploadDocuments)
	v1.GET("/documents", s.listDocuments)
	v1.GET("/documents/:id", s.getDocument)
	v1.GET("/documents/:id/content", s.getDocumentContent)
	v1.PATCH("/documents/:id", s.patchDocument)
	v1.DELETE("/documents/:id", s.deleteDocument)
	v1.POST("/documents/:id/retry", s.retryDocument)
	if s.deps.Search != nil {
		v1.POST("/search", s.search)
	}
}

// uploadDocuments streams each file part to the ingestion service as it arrives, so
// no file is ever held whole in memory; nothing is stored unless every part passes.
func (s *Server) uploadDocuments(c echo.Context) error {
	r := c.Request()
	ctx := r.Context()
	limit := s.deps.Config.MaxUploadBytes
	r.Body = http.MaxBytesReader(c.Response(), r.Body, limit*maxFilesPerUpload+1<<20)
	mt, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if mt != echo.MIMEMultipartForm {
		return service.Errorf(service.CodeUnsupported, "send the files as multipart/form-data with parts named \"file\"")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return service.Errorf(service.CodeInvalid, "the multipart body cannot be read: %v", err)
	}
	var staged []*service.StagedFile
	defer func() {
		for _, f := range staged {
			f.Discard()
		}
	}()
	var opts service.UploadOptions
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				return service.Errorf(service.CodeTooLarge, "the upload is larger than allowed")
			}
			return service.Errorf(service.CodeInvalid, "the multipart body is malformed: %v", err)
		}
		switch part.FormName() {
		case "file":
			if len(staged) == maxFilesPerUpload {
				return &service.Error{Code: service.CodeInvalid, Message: fmt.Sprintf("file: at most %d files per upload", maxFilesPerUpload),
					Fields: []service.FieldError{{Field: "file", Message: fmt.Sprintf("at most %d files", maxFilesPerUpload)}}}
			}
			f, err := s.deps.Documents.Stage(ctx, part.FileName(), part)
			if err != nil {
				return err
			}
			staged = append(staged, f)
		case "group_id", "private", "tags":
			value, err := readField(part)
			if err != nil {
				return err
			}
			if err := setUploadOption(&opts, part.FormName(), value); err != nil {
				return err
			}
		}
		_ = part.Close()
	}
	docs, err := s.deps.Documents.CommitUpload(ctx, principal(c), staged, opts)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"documents": docs})
}

func readField(part io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
	if err != nil {
		return "", service.Errorf(service.CodeInvalid, "a form field cannot be read")
	}
	if len(b) > maxFieldBytes {
		return "", service.Errorf(service.CodeInvalid, "a form field is longer than %d bytes", maxFieldBytes)
	}
	return strings.TrimSpace(string(b)), nil
}

func setUploadOption(o *service.UploadOptions, name, value string) error {
	switch name {
	case "group_id":
		o.GroupID = value
	case "private":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return &service.Error{Code: service.CodeInvalid, Message: "private: must be true or false",
				Fields: []service.FieldError{{Field: "private", Message: "must be true or false"}}}
		}
		o.Private = b
	case "tags":
		o.Tags = append(o.Tags, strings.Split(value, ",")...)
	}
	return nil
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
