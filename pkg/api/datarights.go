package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// mountDataRights adds what people may do with their own data: take it all with
// them, and erase their chat history.
func (s *Server) mountDataRights(v1 *echo.Group) {
	v1.GET("/me/export", s.exportMine)
	v1.DELETE("/me/chat/sessions", s.purgeMyChats)
	v1.DELETE("/me", s.deleteMe)
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

// exportMine streams a zip of everything the caller owns. Once the first byte is
// out a failure can no longer become a problem response: the connection is cut, so
// the client sees a broken download rather than a truncated archive that looks
// whole.
func (s *Server) exportMine(c echo.Context) error {
	p := principal(c)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/zip")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="youworker-export-%s.zip"`, time.Now().UTC().Format("2006-01-02")))
	h.Set("Cache-Control", "no-store")
	err := s.deps.Data.Export(c.Request().Context(), p, c.Response())
	if err == nil {
		return nil
	}
	if !c.Response().Committed {
		h.Del(echo.HeaderContentDisposition)
		h.Del("Cache-Control")
		return err
	}
	s.logger.ErrorContext(c.Request().Context(), "export cut short", "error", err)
	panic(http.ErrAbortHandler) // net/http closes the connection without a stack trace
}

// purgeMyChats deletes every chat of the caller.
func (s *Server) purgeMyChats(c echo.Context) error {
	if err := s.deps.Data.PurgeChats(c.Request().Context(), principal(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
