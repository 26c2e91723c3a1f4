package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/probe"
)

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": probe.StatusOK})
}

func (s *Server) readyz(c echo.Context) error {
	body, code := probe.Ready(c.Request().Context(), s.deps.Checks, !s.ready.Load())
	return c.JSON(code, body)
}
