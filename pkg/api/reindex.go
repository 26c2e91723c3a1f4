package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/service"
)

// mountReindex adds the operator re-index job routes. The admin group already hides
// them from everybody else with a 404.
func (s *Server) mountReindex(admin *echo.Group) {
	admin.POST("/reindex", s.startReindex)
	admin.GET("/reindex", s.listReindex)
	admin.GET("/reindex/:id", s.getReindex)
	admin.POST("/reindex/:id/cancel", s.cancelReindex)
}

type startReindexRequest struct {
	Kind       string `json:"kind"`
	EmbedModel string `json:"embed_model"`
}

// startReindex queues a job; the reindexer runs it.
func (s *Server) startReindex(c echo.Context) error {
	var req startReindexRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	j, err := s.deps.Reindex.Start(c.Request().Context(), p, req.Kind, service.ReindexParams{EmbedModel: req.EmbedModel})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, j)
}

// listReindex pages through the jobs, newest first.
func (s *Server) listReindex(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	p := principal(c)
	page, err := s.deps.Reindex.List(c.Request().Context(), p, limit, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"jobs": page.Items, "next_cursor": page.Next})
}

// getReindex shows one job with its progress.
func (s *Server) getReindex(c echo.Context) error {
	p := principal(c)
	j, err := s.deps.Reindex.Get(c.Request().Context(), p, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, j)
}

// cancelReindex asks a job to stop; a running job stops at its next batch.
func (s *Server) cancelReindex(c echo.Context) error {
	p := principal(c)
	j, err := s.deps.Reindex.Cancel(c.Request().Context(), p, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, j)
}
