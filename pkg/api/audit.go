package api

import "github.com/labstack/echo/v4"

// mountAudit adds the audit log route for admins.
func (s *Server) mountAudit(admin *echo.Group) {}
