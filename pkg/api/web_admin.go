package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// mountWebAdmin adds what the admin page needs beyond the core contract: a user's
// keys, and revoking one of them (a leaked key is an operator's emergency).
func (s *Server) mountWebAdmin(e *echo.Echo) {
	admin := e.Group("/v1/admin/users/:id/keys", s.authenticate, s.requireScope, s.rateLimit, s.requireAdmin)
	admin.GET("", s.listUserKeys)
	admin.DELETE("/:key_id", s.revokeUserKey)
}

func (s *Server) listUserKeys(c echo.Context) error {
	keys, err := s.deps.Users.ListKeysOf(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) revokeUserKey(c echo.Context) error {
	if err := s.deps.Users.RevokeKeyOf(c.Request().Context(), principal(c), c.Param("id"), c.Param("key_id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
