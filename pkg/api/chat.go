package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/service"
)

// pingEvery keeps idle event streams alive through proxies.
const pingEvery = 15 * time.Second

// pingComment is the keep-alive an event stream sends; clients ignore comments.
var pingComment = []byte(": ping\n\n")

func (s *Server) mountChat(v1 *echo.Group) {
	v1.POST("/chat/sessions", s.createSession)
	v1.GET("/chat/sessions", s.listSessions)
	v1.GET("/chat/sessions/:id", s.getSession)
	v1.PATCH("/chat/sessions/:id", s.updateSession)
	v1.DELETE("/chat/sessions/:id", s.deleteSession)
	v1.POST("/chat/sessions/:id/messages", s.postMessage)
	v1.GET("/chat/turns/:id", s.getTurn)
	v1.GET("/chat/turns/:id/events", s.turnEvents)
	v1.POST("/chat/turns/:id/cancel", s.cancelTurn)
	v1.POST("/chat/send", s.sendAndWait)
	v1.GET("/chat/search", s.searchChats)
	v1.POST("/chat/turns/:id/feedback", s.turnFeedback)
	v1.GET("/chat/sessions/:id/export", s.exportSession)
}

type newSessionRequest struct {
	Title string         `json:"title"`
	Scope *service.Scope `json:"scope"`
}

func (s *Server) createSession(c echo.Context) error {
	var req newSessionRequest
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	sess, err := s.deps.Chat.CreateScopedSession(c.Request().Context(), principal(c), req.Title, req.Scope)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, sess)
}

func (s *Server) listSessions(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.deps.Chat.ListSessions(c.Request().Context(), principal(c), limit, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"sessions": page.Items, "next_cursor": page.Next})
}

func (s *Server) getSession(c echo.Context) error {
	sess, err := s.deps.Chat.GetSession(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sess)
}

// sessionPatch is PATCH /v1/chat/sessions/{id}: a title, a scope, or both; a
// null scope removes the chat's scope.
type sessionPatch struct {
	Title *string         `json:"title"`
	Scope json.RawMessage `json:"scope"`
}

func (s *Server) updateSession(c echo.Context) error {
	var req sessionPatch
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	u := service.SessionUpdate{Title: req.Title}
	switch raw := bytes.TrimSpace(req.Scope); {
	case len(raw) == 0:
	case string(raw) == "null":
		u.ClearScope = true
	default:
		u.Scope = &service.Scope{}
		if err := json.Unmarshal(raw, u.Scope); err != nil {
			return &service.Error{Code: service.CodeInvalid, Message: "scope: must be an object of document_ids and group_ids",
				Fields: []service.FieldError{{Field: "scope", Message: "must be an object of document_ids and group_ids"}}}
		}
	}
	sess, err := s.deps.Chat.UpdateSession(c.Request().Context(), principal(c), c.Param("id"), u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sess)
}

func (s *Server) deleteSession(c echo.Context) error {
	if err := s.deps.Chat.DeleteSession(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) postMessage(c echo.Context) error {
	var req service.SubmitRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	msg, turn, err := s.deps.Chat.Submit(c.Request().Context(), principal(c), c.Param("id"), req)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/v1/chat/turns/"+turn.ID)
	return c.JSON(http.StatusAccepted, map[string]any{"message": msg, "turn": turn})
}

func (s *Server) getTurn(c echo.Context) error {
	turn, err := s.deps.Chat.GetTurn(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, turn)
}

func (s *Server) cancelTurn(c echo.Context) error {
	turn, err := s.deps.Chat.Cancel(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, turn)
}

type sendRequest struct {
	service.SubmitRequest
	SessionID string `json:"session_id"`
}

// sendAndWait is the synchronous convenience: submit, wait for the turn to end, return it.
func (s *Server) sendAndWait(c echo.Context) error {
	var req sendRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	// Waiting follows the turn's events like a stream does, and counts as one;
	// taken before the turn is created, so a refusal leaves nothing behind.
	release, err := s.OpenStream(c)
	if err != nil {
		return err
	}
	defer release()
	ctx := c.Request().Context()
	p := principal(c)
	var turn service.Turn
	if req.SessionID == "" {
		// The session is made with the turn, so a refused question leaves none.
		req.SessionID, _, turn, err = s.deps.Chat.SubmitInNewSession(ctx, p, req.SubmitRequest)
	} else {
		_, turn, err = s.deps.Chat.Submit(ctx, p, req.SessionID, req.SubmitRequest)
	}
	if err != nil {
		return err
	}
	turn, err = s.deps.Chat.WaitTurn(ctx, p, turn.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"session_id": req.SessionID, "turn": turn})
}

// turnEvents streams a turn's events as server-sent events. The event id is the
// stream sequence, so a client that reconnects with Last-Event-ID (or ?after=) to any
// replica gets exactly the events it has not seen. The stream closes after the
// terminal event; a client that disconnects does not stop the turn. Each user has a
// bounded number of streams open at once (see OpenStream).
func (s *Server) turnEvents(c echo.Context) error {
	after, err := lastEventID(c)
	if err != nil {
		return err
	}
	release, err := s.OpenStream(c)
	if err != nil {
		return err
	}
	// The stream may outlive its handler (see detachStream): its context keeps
	// the request's values, and ends with the request only until then.
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.Request().Context()))
	stopFollowing := context.AfterFunc(c.Request().Context(), cancel)
	turn, events, err := s.deps.Chat.Events(ctx, principal(c), c.Param("id"), after)
	if err != nil {
		cancel()
		release()
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	if conn, detached := s.detachStream(c); detached {
		stopFollowing()
		if conn == nil {
			cancel()
			release()
			return nil
		}
		go s.runDetached(ctx, cancel, conn, events, turn.Terminal(), release)
		return nil
	}
	defer release()
	defer cancel()
	defer stopFollowing()
	w := c.Response()
	w.WriteHeader(http.StatusOK)
	w.Flush()
	s.pumpEvents(ctx, responseOut{w}, events, turn.Terminal())
	return nil
}

// maxEventsPerWrite bounds how many waiting events one write joins, so a long
// replay is still sent in pieces.
const maxEventsPerWrite = 64

// appendEvent appends ev in the event-stream format.
func appendEvent(b []byte, ev queue.Event) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, ev.Seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, ev.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, ev.Data...)
	return append(b, "\n\n"...)
}

func lastEventID(c echo.Context) (uint64, error) {
	v := c.Request().Header.Get("Last-Event-ID")
	field := "Last-Event-ID"
	if v == "" {
		v, field = c.QueryParam("after"), "after"
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, &service.Error{Code: service.CodeInvalid, Message: field + ": must be an event id",
			Fields: []service.FieldError{{Field: field, Message: "must be an event id"}}}
	}
	return n, nil
}
