package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/service"
)

// mountGroups adds the group and membership routes.
//
// Visibility follows the rule for everything a caller may not see: somebody who is not
// a member of a group gets 404 for every route about it, exactly as for a group that
// does not exist (a malformed id included). A member who is not a group admin already
// sees the group, so the admin-only routes (PATCH and DELETE of the group, adding
// members, changing roles, removing somebody else) answer them 403 forbidden instead.
// Leaving (DELETE of one's own membership) is open to every member.
func (s *Server) mountGroups(v1 *echo.Group) {
	v1.POST("/groups", s.createGroup)
	v1.GET("/groups", s.listGroups)
	v1.GET("/groups/:id", s.getGroup)
	v1.PATCH("/groups/:id", s.updateGroup)
	v1.DELETE("/groups/:id", s.deleteGroup)
	v1.POST("/groups/:id/members", s.addMember)
	v1.PATCH("/groups/:id/members/:user_id", s.setMemberRole)
	v1.DELETE("/groups/:id/members/:user_id", s.removeMember)
}

type createGroupRequest struct {
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

// createGroup makes a group with the caller as its admin; any user may.
func (s *Server) createGroup(c echo.Context) error {
	var req createGroupRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	g, err := s.deps.Groups.Create(c.Request().Context(), principal(c), req.Name, req.Description)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, g)
}

// listGroups answers the caller's own groups.
func (s *Server) listGroups(c echo.Context) error {
	groups, err := s.deps.Groups.List(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"groups": groups})
}

// getGroup shows a group with its members; members only (404 for anybody else).
func (s *Server) getGroup(c echo.Context) error {
	g, err := s.deps.Groups.Get(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, g)
}

type updateGroupRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// updateGroup renames or re-describes a group; group admins (403 for other members).
func (s *Server) updateGroup(c echo.Context) error {
	var req updateGroupRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	g, err := s.deps.Groups.Update(c.Request().Context(), principal(c), c.Param("id"),
		service.GroupChange{Name: req.Name, Description: req.Description})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, g)
}

// deleteGroup removes a group and returns its documents to their owners alone; group
// admins (403 for other members).
func (s *Server) deleteGroup(c echo.Context) error {
	if err := s.deps.Groups.Delete(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type addMemberRequest struct {
	UserID *string `json:"user_id"`
	Name   *string `json:"name"`
	Role   string  `json:"role"`
}

// addMember puts a user, named by user_id or name, into a group; group admins (403
// for other members).
func (s *Server) addMember(c echo.Context) error {
	var req addMemberRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	m, err := s.deps.Groups.AddMember(c.Request().Context(), principal(c), c.Param("id"),
		service.MemberRequest{UserID: req.UserID, Name: req.Name, Role: req.Role})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, m)
}

type setRoleRequest struct {
	Role string `json:"role"`
}

// setMemberRole changes a member's role; group admins (403 for other members).
func (s *Server) setMemberRole(c echo.Context) error {
	var req setRoleRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	m, err := s.deps.Groups.SetRole(c.Request().Context(), principal(c), c.Param("id"), c.Param("user_id"), req.Role)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// removeMember takes a member out of a group: group admins may remove anybody (403
// for other members), and every member may remove themself, which is leaving.
func (s *Server) removeMember(c echo.Context) error {
	if err := s.deps.Groups.RemoveMember(c.Request().Context(), principal(c), c.Param("id"), c.Param("user_id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
