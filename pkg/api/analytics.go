package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/service"
)

// mountAnalytics adds the usage reports: everybody's for admins (the admin group
// hides it from everybody else with a 404), and each caller's own.
func (s *Server) mountAnalytics(v1, admin *echo.Group) {
	admin.GET("/analytics", s.getAnalytics)
	v1.GET("/me/usage", s.getMyUsage)
}

// getAnalytics reports the platform's usage over from..to (dates or RFC 3339 times).
func (s *Server) getAnalytics(c echo.Context) error {
	rep, err := s.deps.Analytics.Platform(c.Request().Context(), principal(c), usageQuery(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rep)
}

// getMyUsage reports the caller's own usage over from..to.
func (s *Server) getMyUsage(c echo.Context) error {
	rep, err := s.deps.Analytics.Mine(c.Request().Context(), principal(c), usageQuery(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rep)
}

func usageQuery(c echo.Context) service.UsageQuery {
	return service.UsageQuery{From: c.QueryParam("from"), To: c.QueryParam("to")}
}
