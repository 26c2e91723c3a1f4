package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/service"
)

// mountAudit adds the audit log route for admins. The admin group already hides it
// from everybody else with a 404 and records the attempt.
func (s *Server) mountAudit(admin *echo.Group) {
	admin.GET("/audit", s.listAudit)
}

// listAudit pages through the audit log newest first, filtered by actor, action and
// since (RFC 3339).
func (s *Server) listAudit(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.deps.Audit.List(c.Request().Context(), principal(c), service.AuditQuery{
		ActorID: c.QueryParam("actor"), Action: c.QueryParam("action"), Since: c.QueryParam("since"),
		Limit: limit, Cursor: c.QueryParam("cursor"),
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}
