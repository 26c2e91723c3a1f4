package api

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/service"
)

// mountWebAdmin adds what the admin page needs beyond the core contract: a user's
// keys, and revoking one of them (a leaked key is an operator's emergency).
func (s *Server) mountWebAdmin(e *echo.Echo) {
	admin := e.Group("/v1/admin/users/:id/keys", s.authenticate, s.rateLimit, s.requireAdmin)
	admin.GET("", s.listUserKeys)
	admin.DELETE("/:key_id", s.revokeUserKey)
}

// targetUser resolves the :id path parameter to an existing user, else 404.
func (s *Server) targetUser(c echo.Context) (access.Principal, error) {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		return access.Principal{}, service.Errorf(service.CodeNotFound, "user not found")
	}
	me, err := s.deps.Users.Me(c.Request().Context(), access.Principal{UserID: id})
	if err != nil {
		return access.Principal{}, err
	}
	return access.Principal{UserID: me.ID, Name: me.Name, IsAdmin: me.IsAdmin}, nil
}

func (s *Server) listUserKeys(c echo.Context) error {
	target, err := s.targetUser(c)
	if err != nil {
		return err
	}
	keys, err := s.deps.Users.Keys(c.Request().Context(), target)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) revokeUserKey(c echo.Context) error {
	target, err := s.targetUser(c)
	if err != nil {
		return err
	}
	keyID := c.Param("key_id")
	if _, err := uuid.Parse(keyID); err != nil {
		return service.Errorf(service.CodeNotFound, "key not found")
	}
	ctx := c.Request().Context()
	if err := s.deps.Users.RevokeKey(ctx, target, keyID); err != nil {
		return err
	}
	// The service records the revocation under the key's owner; this names the admin.
	if s.deps.Audit != nil {
		admin := principal(c)
		s.deps.Audit.Record(ctx, nil, &admin, "admin.key.revoke", "api_key", keyID, service.OutcomeSuccess,
			map[string]any{"user_id": target.UserID})
	}
	return c.NoContent(http.StatusNoContent)
}
