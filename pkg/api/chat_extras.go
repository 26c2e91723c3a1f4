package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/service"
)

// searchChats finds words in the caller's chat titles and messages.
func (s *Server) searchChats(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.deps.Chat.Search(c.Request().Context(), principal(c), c.QueryParam("q"), limit, c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"results": page.Items, "next_cursor": page.Next})
}

// turnFeedback records the caller's thumbs up or down on an answer.
func (s *Server) turnFeedback(c echo.Context) error {
	var req service.FeedbackRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if _, err := s.deps.Chat.SetFeedback(c.Request().Context(), principal(c), c.Param("id"), req); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// exportSession sends the caller's chat as a Markdown file to save.
func (s *Server) exportSession(c echo.Context) error {
	exp, err := s.deps.Chat.Export(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", attachment(exp.Filename))
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "text/markdown; charset=utf-8", exp.Markdown)
}

// attachment is a Content-Disposition that saves the body as name: an ASCII
// filename for every client, and the name itself in UTF-8 (RFC 6266, RFC 8187)
// for the clients that read filename*, which all current browsers do.
func attachment(name string) string {
	ascii := asciiFilename(name)
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + encodeExtValue(name)
}

// asciiFilename keeps the letters, digits, dots, dashes and underscores of name,
// spaces becoming dashes: nothing that needs quoting or escaping in a header.
func asciiFilename(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range name {
		switch {
		case r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_'):
			b.WriteRune(r)
			dash = false
		case r == ' ' || r == '-':
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" || out == "md" {
		out = "chat"
	}
	if !strings.HasSuffix(out, ".md") {
		out += ".md"
	}
	return out
}

// encodeExtValue percent-encodes every byte of s outside RFC 8187's attr-char.
func encodeExtValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || strings.IndexByte("!#$&+-.^_`|~", ch) >= 0 {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[ch>>4])
		b.WriteByte(hex[ch&15])
	}
	return b.String()
}
