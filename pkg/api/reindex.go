package api

import "github.com/labstack/echo/v4"

// mountReindex adds the operator re-index job routes.
func (s *Server) mountReindex(admin *echo.Group) {}
