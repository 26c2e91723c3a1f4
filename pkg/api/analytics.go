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
// This replica's route counts are saved first, so the report includes its latest
// requests rather than those of up to one flush interval ago. The admin group has
// already hidden the route from everybody else.
func (s *Server) getAnalytics(c echo.Context) error {
	if s.deps.RouteStats != nil {
		if err := s.deps.RouteStats.Flush(c.Request().Context()); err != nil {
			s.logger.WarnContext(c.Request().Context(), "route statistics not saved before the report", "error", err)
		}
	}
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
