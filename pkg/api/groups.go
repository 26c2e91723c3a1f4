package api

import "github.com/labstack/echo/v4"

// mountGroups adds the group and membership routes.
func (s *Server) mountGroups(v1 *echo.Group) {}
