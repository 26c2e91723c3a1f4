package api

import (
	"github.com/labstack/echo/v4"
)

// mountWeb serves the web UI.
func (s *Server) mountWeb(e *echo.Echo) {}

// sessionKey returns the API key behind a web UI session cookie, or "" when the
// request carries none. A cookie-authenticated write without a valid CSRF token is
// an error.
func (s *Server) sessionKey(c echo.Context) (string, error) { return "", nil }
