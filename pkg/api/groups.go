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
//
// Adding a member invites them by default: the invitee sees the invitation under
// /v1/me/invitations and accepts or declines it; the group's admins list and withdraw
// pending ones.
func (s *Server) mountGroups(v1 *echo.Group) {
	v1.POST("/groups", s.createGroup)
	v1.GET("/groups", s.listGroups)
	v1.GET("/groups/:id", s.getGroup)
	v1.PATCH("/groups/:id", s.updateGroup)
	v1.DELETE("/groups/:id", s.deleteGroup)
	v1.POST("/groups/:id/members", s.addMember)
	v1.PATCH("/groups/:id/members/:user_id", s.setMemberRole)
	v1.DELETE("/groups/:id/members/:user_id", s.removeMember)
	v1.GET("/groups/:id/invitations", s.listGroupInvitations)
	v1.DELETE("/groups/:id/invitations/:inv", s.withdrawInvitation)
	v1.GET("/me/invitations", s.listMyInvitations)
	v1.POST("/me/invitations/:id/accept", s.acceptInvitation)
	v1.POST("/me/invitations/:id/decline", s.declineInvitation)
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

// addMember invites a user, named by user_id or name, into a group (202 with the
// invitation), or adds them at once where adds are direct (201 with the member);
// group admins (403 for other members).
func (s *Server) addMember(c echo.Context) error {
	var req addMemberRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	added, err := s.deps.Groups.AddMember(c.Request().Context(), principal(c), c.Param("id"),
		service.MemberRequest{UserID: req.UserID, Name: req.Name, Role: req.Role})
	if err != nil {
		return err
	}
	if added.Invitation != nil {
		return c.JSON(http.StatusAccepted, map[string]any{"invitation": added.Invitation})
	}
	return c.JSON(http.StatusCreated, added.Member)
}

// listGroupInvitations shows the pending invitations of a group; group admins (403
// for other members).
func (s *Server) listGroupInvitations(c echo.Context) error {
	invs, err := s.deps.Groups.GroupInvitations(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"invitations": invs})
}

// withdrawInvitation drops a pending invitation of a group; group admins (403 for
// other members).
func (s *Server) withdrawInvitation(c echo.Context) error {
	if err := s.deps.Groups.WithdrawInvitation(c.Request().Context(), principal(c), c.Param("id"), c.Param("inv")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// listMyInvitations shows the invitations waiting for the caller.
func (s *Server) listMyInvitations(c echo.Context) error {
	invs, err := s.deps.Groups.MyInvitations(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"invitations": invs})
}

// acceptInvitation makes the caller a member as invited; somebody else's invitation
// is 404.
func (s *Server) acceptInvitation(c echo.Context) error {
	m, err := s.deps.Groups.AcceptInvitation(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

// declineInvitation drops an invitation of the caller; somebody else's is 404.
func (s *Server) declineInvitation(c echo.Context) error {
	if err := s.deps.Groups.DeclineInvitation(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
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
