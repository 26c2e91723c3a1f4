package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// mountDataRights adds what people may do with their own data: take it all with
// them, erase their chat history, delete their account; and the same for admins on
// anyone's (account deletion is DELETE /v1/admin/users/{id}).
func (s *Server) mountDataRights(v1, admin *echo.Group) {
	v1.GET("/me/export", s.exportData)
	v1.DELETE("/me/chat/sessions", s.purgeChats)
	v1.DELETE("/me", s.deleteMe)
	admin.GET("/users/:id/export", s.exportData)
	admin.DELETE("/users/:id/chat/sessions", s.purgeChats)
}

// deleteMe deletes the caller's account. The answer is 202: the account is gone at
// once, the purge of its documents' vectors and bytes follows through the queue.
func (s *Server) deleteMe(c echo.Context) error {
	var req struct {
		SharedDocuments string `json:"shared_documents"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if err := s.deps.Users.DeleteSelf(c.Request().Context(), principal(c), req.SharedDocuments); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}

// exportData streams a zip of everything the caller (or, on the admin route, user
// :id) owns. Once the first byte is
// out a failure can no longer become a problem response: the connection is cut, so
// the client sees a broken download rather than a truncated archive that looks
// whole.
func (s *Server) exportData(c echo.Context) error {
	p := principal(c)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/zip")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="youworker-export-%s.zip"`, time.Now().UTC().Format("2006-01-02")))
	h.Set("Cache-Control", "no-store")
	err := s.deps.Data.Export(c.Request().Context(), p, c.Param("id"), c.Response())
	if err == nil {
		return nil
	}
	if !c.Response().Committed {
		h.Del(echo.HeaderContentType) // the problem sets its own
		h.Del(echo.HeaderContentDisposition)
		h.Del("Cache-Control")
		return err
	}
	s.logger.ErrorContext(c.Request().Context(), "export cut short", "error", err)
	panic(http.ErrAbortHandler) // net/http closes the connection without a stack trace
}

// purgeChats deletes every chat of the caller (or, on the admin route, of user :id).
func (s *Server) purgeChats(c echo.Context) error {
	if err := s.deps.Data.PurgeChats(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
