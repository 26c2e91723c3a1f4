package api

import (
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/web"
)

// uiCSP is the Content-Security-Policy of every UI page and asset: scripts, styles
// and requests only from this origin, no inline code, no framing.
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// webStateKey is where the web UI's state rides on every request: Server has no
// field for it, and a package variable would be shared by every server in a process.
const webStateKey = "yw.web"

// webUI is the state the UI routes share: the embedded files and the session sealer.
type webUI struct {
	files    map[string]webFile
	sessions *sessionSealer
}

// webFile is one embedded asset with its precomputed validator.
type webFile struct {
	body  []byte
	ctype string
	etag  string
}

// mountWeb serves the web UI: the single page at /, its assets under /assets/, and
// the cookie session endpoints under /ui/.
func (s *Server) mountWeb(e *echo.Echo) {
	files, err := loadWebFiles(web.Files)
	if err != nil {
		panic("embedded web UI is unreadable: " + err.Error()) // a build defect, caught by every test
	}
	// The first argument is for YW_SESSION_SECRET once the configuration carries it.
	w := &webUI{files: files, sessions: newSessionSealer(s.deps.Config.SessionSecret, s.deps.Config.DataDir, s.logger)}
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(webStateKey, w)
			return next(c)
		}
	})
	e.GET("/", s.serveWebFile("index.html"))
	e.HEAD("/", s.serveWebFile("index.html"))
	e.GET("/assets/*", s.serveAsset)
	e.HEAD("/assets/*", s.serveAsset)
	e.GET("/favicon.ico", s.serveWebFile("assets/icon.svg"))

	ui := e.Group("/ui")
	ui.GET("/session", s.getWebSession)
	ui.POST("/session", s.createWebSession)
	ui.DELETE("/session", s.deleteWebSession)
	ui.GET("/auth", s.getAuthMethods)
	ui.GET("/auth/oidc/login", s.oidcLogin)
	ui.GET("/auth/oidc/callback", s.oidcCallback)
	ui.GET("/auth/oidc/logout", s.oidcLogout)
	s.mountWebAdmin(e)
}

// webState returns the UI state set by mountWeb's middleware.
func webState(c echo.Context) *webUI {
	w, _ := c.Get(webStateKey).(*webUI)
	return w
}

// loadWebFiles reads every embedded file once, with its content type and ETag.
func loadWebFiles(fsys fs.FS) (map[string]webFile, error) {
	files := map[string]webFile{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(name, ".go") {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		ctype := mime.TypeByExtension(path.Ext(name))
		switch path.Ext(name) {
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".html":
			ctype = "text/html; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		files[name] = webFile{body: body, ctype: ctype, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return files, err
}

func (s *Server) serveAsset(c echo.Context) error {
	name := path.Clean("assets/" + c.Param("*"))
	if !strings.HasPrefix(name, "assets/") {
		return echo.ErrNotFound
	}
	return s.sendWebFile(c, name)
}

func (s *Server) serveWebFile(name string) echo.HandlerFunc {
	return func(c echo.Context) error { return s.sendWebFile(c, name) }
}

// sendWebFile answers with an embedded file. Assets have no fingerprint in their
// names (there is no build step), so browsers revalidate each time with the ETag.
func (s *Server) sendWebFile(c echo.Context, name string) error {
	f, ok := webState(c).files[name]
	if !ok {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	if match := c.Request().Header.Get("If-None-Match"); match != "" && match == f.etag {
		return c.NoContent(http.StatusNotModified)
	}
	if c.Request().Method == http.MethodHead {
		h.Set(echo.HeaderContentType, f.ctype)
		return c.NoContent(http.StatusOK)
	}
	return c.Blob(http.StatusOK, f.ctype, f.body)
}
