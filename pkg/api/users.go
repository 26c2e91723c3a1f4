package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
)

func (s *Server) getMe(c echo.Context) error {
	me, err := s.deps.Users.Me(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, me)
}

func (s *Server) listKeys(c echo.Context) error {
	keys, err := s.deps.Users.Keys(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"keys": keys})
}

type createKeyRequest struct {
	Name       string   `json:"name"`
	Scopes     []string `json:"scopes"`
	GroupIDs   []string `json:"group_ids"`
	AllowedIPs []string `json:"allowed_ips"`
	ExpiresAt  *string  `json:"expires_at"`
}

// createKey makes a key for the caller; the body is optional (no body: a key with
// no limits of its own).
func (s *Server) createKey(c echo.Context) error {
	var req createKeyRequest
	if err := bindJSON(c, &req); err != nil && !emptyBody(err) {
		return err
	}
	kr := service.KeyRequest{Name: req.Name, Scopes: req.Scopes, GroupIDs: req.GroupIDs, AllowedIPs: req.AllowedIPs}
	if req.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
		if err != nil {
			return &service.Error{Code: service.CodeInvalid, Message: "expires_at: must be an RFC 3339 time like 2030-01-31T12:00:00Z",
				Fields: []service.FieldError{{Field: "expires_at", Message: "must be an RFC 3339 time like 2030-01-31T12:00:00Z"}}}
		}
		kr.ExpiresAt = &t
	}
	key, err := s.deps.Users.CreateKey(c.Request().Context(), principal(c), kr)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, key)
}

func (s *Server) revokeKey(c echo.Context) error {
	if err := s.deps.Users.RevokeKey(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type createUserRequest struct {
	Name    string `json:"name"`
	IsAdmin bool   `json:"is_admin"`
}

func (s *Server) createUser(c echo.Context) error {
	var req createUserRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	user, key, err := s.deps.Users.Create(c.Request().Context(), p, req.Name, req.IsAdmin)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"user": user, "key": key.Secret})
}

func (s *Server) listUsers(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	p := principal(c)
	page, err := s.deps.Users.List(c.Request().Context(), p, limit, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	users := page.Items
	if users == nil {
		users = []service.UserView{}
	}
	return c.JSON(http.StatusOK, map[string]any{"users": users, "next_cursor": page.Next})
}

func (s *Server) deleteUser(c echo.Context) error {
	p := principal(c)
	if err := s.deps.Users.Delete(c.Request().Context(), p, c.Param("id"), c.QueryParam("shared_documents")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// queryLimit reads ?limit= (1..200, default 50).
func queryLimit(c echo.Context) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return service.DefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > service.MaxLimit {
		return 0, &service.Error{Code: service.CodeInvalid, Message: "limit: must be a whole number from 1 to 200",
			Fields: []service.FieldError{{Field: "limit", Message: "must be a whole number from 1 to 200"}}}
	}
	return n, nil
}

// patchUser changes a user's admin flag and quota limits: absent fields stay, a
// quota of null returns to the configured default, 0 is unlimited.
func (s *Server) patchUser(c echo.Context) error {
	var raw map[string]json.RawMessage
	if err := bindJSON(c, &raw); err != nil {
		return err
	}
	var ch service.UserChange
	var fields []service.FieldError
	if v, ok := raw["is_admin"]; ok {
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			fields = append(fields, service.FieldError{Field: "is_admin", Message: "must be true or false"})
		} else {
			ch.IsAdmin = &b
		}
	}
	for _, q := range []struct {
		field string
		dst   *store.QuotaSetting
	}{{"quota_bytes", &ch.QuotaBytes}, {"quota_documents", &ch.QuotaDocuments}} {
		v, ok := raw[q.field]
		if !ok {
			continue
		}
		var n *int64
		if err := json.Unmarshal(v, &n); err != nil || (n != nil && *n < 0) {
			fields = append(fields, service.FieldError{Field: q.field, Message: "must be 0 (unlimited), a positive whole number, or null for the default"})
			continue
		}
		*q.dst = store.QuotaSetting{Set: true, Value: n}
	}
	if len(fields) > 0 {
		return &service.Error{Code: service.CodeInvalid, Message: fields[0].Field + ": " + fields[0].Message, Fields: fields}
	}
	p := principal(c)
	user, err := s.deps.Users.Update(c.Request().Context(), p, c.Param("id"), ch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, user)
}
