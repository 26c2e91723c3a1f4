package api

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/service"
)

// Web sessions: the cookie holds a CSRF token, an expiry, the id of the session's
// row in the database and, for a sign-in with an API key, the key, sealed with
// AES-GCM under a secret every replica shares, so any API replica can serve any
// request. The row is what signing out deletes, so a copy of the cookie taken before
// stops working too.
//
// A key session is authorized by its key on every request, so revoking the key ends
// every session built on it at once. A session opened through the identity provider
// (OIDC or the trusted proxy) carries no key: its row is what authorizes it, for the
// user recorded in it, until it expires or is signed out. Minting a hidden API key
// for it instead would put keys the user never made in their key list and in the
// key tables (and give them an expiry to manage); a session row already has the
// user, the expiry and the sign-out, and deleting the user deletes it.
const (
	sessionCookie     = "yw_session"
	sessionCookieTLS  = "__Host-yw_session"
	sessionTTL        = 12 * time.Hour
	sessionSecretFile = "web-session.secret"
	// HeaderCSRF carries the session's CSRF token on every cookie-authenticated write;
	// only JavaScript of this origin can read the token and set the header.
	HeaderCSRF = "X-CSRF-Token"
)

// sessionAAD binds sealed cookies to their purpose and format version. Version 1
// cookies had no server-side row and are no longer accepted.
var sessionAAD = []byte("youworker web session v2")

// Sign-in methods a web session can come from.
const (
	methodKey   = "key"
	methodOIDC  = "oidc"
	methodProxy = "proxy"
)

// webSession is what a session cookie carries.
type webSession struct {
	ID  string `json:"i"`
	Key string `json:"k,omitempty"`
	// User is the signed-in user; a session without a key is theirs alone.
	User string `json:"u,omitempty"`
	// Method is methodKey, methodOIDC or methodProxy ("" in cookies made before
	// identity providers: a key session).
	Method  string `json:"m,omitempty"`
	CSRF    string `json:"c"`
	Expires int64  `json:"x"`
}

// WebSessions is the server-side record of web UI sign-ins (the store implements it).
type WebSessions interface {
	CreateWebSession(ctx context.Context, userID string, expires time.Time) (string, error)
	WebSessionActive(ctx context.Context, id, userID string) (bool, error)
	EndWebSession(ctx context.Context, id string) error
}

// sessionSealer seals and opens session cookies.
type sessionSealer struct {
	aead cipher.AEAD
}

// newSessionSealer keys the sealer with the configured secret (base64, at least 32
// bytes: what every replica must share), else with the secret kept in dataDir,
// created on first start. When neither works, a process-local secret still makes
// sign-in work, and the log says why sessions will not survive a restart.
func newSessionSealer(configured, dataDir string, logger *slog.Logger) *sessionSealer {
	if configured != "" {
		if secret, err := base64.StdEncoding.DecodeString(configured); err == nil && len(secret) >= 32 {
			return sealerFromSecret(secret)
		}
		logger.Warn("the configured web session secret is not base64 of at least 32 bytes; using the data dir's")
	}
	secret, err := loadSessionSecret(dataDir)
	if err != nil {
		logger.Warn("web session secret cannot be kept; sessions end when this process stops", "error", err)
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	return sealerFromSecret(secret)
}

func sealerFromSecret(secret []byte) *sessionSealer {
	block, err := aes.NewCipher(secret[:32])
	if err != nil {
		panic(err) // 32 bytes is always a valid AES key
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &sessionSealer{aead: aead}
}

// loadSessionSecret reads the 32-byte secret from dataDir, or creates it there.
func loadSessionSecret(dataDir string) ([]byte, error) {
	name := filepath.Join(dataDir, sessionSecretFile)
	if b, err := os.ReadFile(name); err == nil {
		secret, err := base64.StdEncoding.DecodeString(string(b))
		if err != nil || len(secret) < 32 {
			return nil, fmt.Errorf("%s is not a base64 secret of at least 32 bytes", sessionSecretFile)
		}
		return secret, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read session secret: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	// O_EXCL: when two processes start together, one wins and the other reads its secret.
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return loadSessionSecret(dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("create session secret: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(secret))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write session secret: %w", err)
	}
	return secret, nil
}

func (ss *sessionSealer) seal(sess webSession) (string, error) {
	return ss.sealJSON(sess, sessionAAD)
}

// open returns the session in a cookie value, or false when it is forged, damaged
// or expired.
func (ss *sessionSealer) open(value string, now time.Time) (webSession, bool) {
	var sess webSession
	if !ss.openJSON(value, sessionAAD, &sess) || (sess.Key == "" && sess.User == "") || sess.ID == "" || now.Unix() >= sess.Expires {
		return webSession{}, false
	}
	return sess, true
}

// sealJSON encrypts v as JSON, bound to aad: a value sealed for one purpose does not
// open for another.
func (ss *sessionSealer) sealJSON(v any, aad []byte) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, ss.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(ss.aead.Seal(nonce, nonce, plain, aad)), nil
}

// openJSON decrypts what sealJSON made with the same aad into v.
func (ss *sessionSealer) openJSON(value string, aad []byte, v any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < ss.aead.NonceSize()+ss.aead.Overhead() {
		return false
	}
	n := ss.aead.NonceSize()
	plain, err := ss.aead.Open(nil, raw[:n], raw[n:], aad)
	return err == nil && json.Unmarshal(plain, v) == nil
}

// secureRequest reports whether the browser reached us over TLS, directly or through
// a trusted proxy; only then may the cookie be Secure (and use the __Host- prefix).
func (s *Server) secureRequest(c echo.Context) bool {
	if c.Request().TLS != nil {
		return true
	}
	if c.Request().Header.Get("X-Forwarded-Proto") != "https" {
		return false
	}
	peer := net.ParseIP(echo.ExtractIPDirect()(c.Request()))
	for _, n := range s.deps.Config.TrustedProxies {
		if peer != nil && n.Contains(peer) {
			return true
		}
	}
	return false
}

func (s *Server) sessionCookieName(c echo.Context) string {
	if s.secureRequest(c) {
		return sessionCookieTLS
	}
	return sessionCookie
}

// readSession returns the request's session, if it carries a valid one. Over TLS
// only the __Host- cookie counts: a browser keeps that one for this exact origin,
// Secure, while a plain cookie can be planted by anyone on the path of a plain-HTTP
// request (to sign the victim in as the attacker).
func (s *Server) readSession(c echo.Context) (webSession, bool) {
	w := webState(c)
	if w == nil {
		return webSession{}, false
	}
	if ck, err := c.Cookie(s.sessionCookieName(c)); err == nil {
		if sess, ok := w.sessions.open(ck.Value, time.Now()); ok {
			return sess, true
		}
	}
	return webSession{}, false
}

// cookieSession returns the web UI session the request's cookie carries, if any.
// A cookie-authenticated write without a valid CSRF token is an error.
func (s *Server) cookieSession(c echo.Context) (webSession, bool, error) {
	sess, ok := s.readSession(c)
	if !ok {
		return webSession{}, false, nil
	}
	if err := checkCSRF(c, sess); err != nil {
		return webSession{}, false, err
	}
	return sess, true, nil
}

// checkWebSession requires the session's row to still exist for p: after sign-out
// (or expiry) the cookie is worthless, however many copies of it there are.
func (s *Server) checkWebSession(c echo.Context, sess webSession, p access.Principal) error {
	active, err := s.webSessions.WebSessionActive(c.Request().Context(), sess.ID, p.UserID)
	if err != nil {
		return fmt.Errorf("check web session: %w", err)
	}
	if !active {
		s.authFailures.take("ip:" + c.RealIP())
		c.SetCookie(s.sessionCookieFor(c, "", -1))
		return service.Errorf(service.CodeUnauthenticated, "this session has ended; sign in again")
	}
	return nil
}

// checkCSRF lets reads through and requires the session's token in X-CSRF-Token on
// every other method, plus a same-origin Origin header when the browser sends one.
func checkCSRF(c echo.Context, sess webSession) error {
	switch c.Request().Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if !sameOrigin(c) {
		return service.Errorf(service.CodeForbidden, "cross-origin requests may not use the session cookie")
	}
	token := c.Request().Header.Get(HeaderCSRF)
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) != 1 {
		return service.Errorf(service.CodeForbidden, "missing or wrong %s header; reload the page", HeaderCSRF)
	}
	return nil
}

// sameOrigin is true when the request has no Origin (not a browser fetch) or one
// whose host is the host the request was sent to.
func sameOrigin(c echo.Context) bool {
	origin := c.Request().Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && u.Host == c.Request().Host
}

type webSessionRequest struct {
	Key string `json:"key"`
}

// webSessionView is what the UI learns about its session; never the key.
type webSessionView struct {
	CSRFToken string     `json:"csrf_token"`
	ExpiresAt time.Time  `json:"expires_at"`
	Me        service.Me `json:"me"`
	// Method is how the session was opened: key, oidc or proxy.
	Method string `json:"method"`
	// SignOutURL is where the browser goes after signing out here, to end the
	// identity provider's session too; null when there is nothing to end.
	SignOutURL *string `json:"sign_out_url"`
}

// viewOf is what the page is told about sess of p.
func (s *Server) viewOf(c echo.Context, sess webSession, p access.Principal) (webSessionView, error) {
	me, err := s.deps.Users.Me(c.Request().Context(), p)
	if err != nil {
		return webSessionView{}, err
	}
	v := webSessionView{CSRFToken: sess.CSRF, ExpiresAt: time.Unix(sess.Expires, 0).UTC(), Me: me, Method: sess.Method}
	switch sess.Method {
	case "":
		v.Method = methodKey
	case methodOIDC:
		u := oidcLogoutPath
		v.SignOutURL = &u
	case methodProxy:
		if u := s.deps.Config.ProxyAuth.SignOutURL; u != "" {
			v.SignOutURL = &u
		}
	}
	return v, nil
}

// startWebSession signs p in to the web UI: a session row, and the sealed cookie
// naming it (with key for a key sign-in, else without one). The sign-in is audited.
func (s *Server) startWebSession(c echo.Context, p access.Principal, method, key string) (webSession, error) {
	ctx := c.Request().Context()
	expires := time.Now().Add(sessionTTL)
	id, err := s.webSessions.CreateWebSession(ctx, p.UserID, expires)
	if err != nil {
		return webSession{}, fmt.Errorf("record web session: %w", err)
	}
	sess := webSession{ID: id, Key: key, User: p.UserID, Method: method, CSRF: randomToken(), Expires: expires.Unix()}
	value, err := webState(c).sessions.seal(sess)
	if err != nil {
		return webSession{}, fmt.Errorf("seal web session: %w", err)
	}
	c.SetCookie(s.sessionCookieFor(c, value, int(sessionTTL.Seconds())))
	s.deps.Audit.Record(ctx, nil, p, "web.sign_in", "user", p.UserID, service.OutcomeSuccess, map[string]any{"method": method})
	return sess, nil
}

// sessionPrincipal is who a cookie session signs in: the owner of its key (while
// the key and the session row last), or for a session without a key the user of its
// row (while the row lasts). A dead session's cookie is dropped.
func (s *Server) sessionPrincipal(c echo.Context, sess webSession) (access.Principal, error) {
	if sess.Key != "" {
		p, err := s.signIn(c, sess.Key)
		if err != nil {
			if service.ErrorCode(err) == service.CodeUnauthenticated {
				// The key was revoked: the cookie is worthless, so drop it.
				c.SetCookie(s.sessionCookieFor(c, "", -1))
			}
			return access.Principal{}, err
		}
		return p, s.checkWebSession(c, sess, p)
	}
	if s.deps.Identities == nil {
		return access.Principal{}, service.Errorf(service.CodeUnauthenticated, "this session has ended; sign in again")
	}
	p, err := s.deps.Identities.SessionPrincipal(c.Request().Context(), sess.ID, sess.User)
	if service.ErrorCode(err) == service.CodeUnauthenticated {
		s.authFailures.take("ip:" + c.RealIP())
		c.SetCookie(s.sessionCookieFor(c, "", -1))
	}
	return p, err
}

// createWebSession signs in with an API key: the key is checked like any request's,
// then sealed into an HttpOnly, SameSite=Strict cookie.
func (s *Server) createWebSession(c echo.Context) error {
	if !sameOrigin(c) {
		return service.Errorf(service.CodeForbidden, "sign in from this server's own page")
	}
	var req webSessionRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.Key == "" {
		return &service.Error{Code: service.CodeInvalid, Message: "key: required",
			Fields: []service.FieldError{{Field: "key", Message: "required"}}}
	}
	// Failed attempts are limited per client address, as for API requests.
	p, err := s.signIn(c, req.Key)
	if err != nil {
		return err
	}
	sess, err := s.startWebSession(c, p, methodKey, req.Key)
	if err != nil {
		return err
	}
	view, err := s.viewOf(c, sess, p)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, view)
}

// getWebSession tells the page whether it is signed in, and gives it the CSRF token
// again after a reload (the token lives in page memory only).
//
// Behind a trusted sign-in proxy, the proxy's user is who is signed in: their
// session is returned, or opened when the browser has none of theirs.
func (s *Server) getWebSession(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if id, ok := s.proxyIdentity(c); ok {
		return s.proxyWebSession(c, id)
	}
	sess, ok := s.readSession(c)
	if !ok {
		return service.Errorf(service.CodeUnauthenticated, "not signed in")
	}
	p, err := s.sessionPrincipal(c, sess)
	if err != nil {
		return err
	}
	view, err := s.viewOf(c, sess, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view)
}

// deleteWebSession signs out: the session's row goes, so the cookie stops working
// wherever a copy of it is, and the browser drops it. It needs the CSRF token, so
// another site cannot sign the user out.
func (s *Server) deleteWebSession(c echo.Context) error {
	if sess, ok := s.readSession(c); ok {
		if err := checkCSRF(c, sess); err != nil {
			return err
		}
		if err := s.webSessions.EndWebSession(c.Request().Context(), sess.ID); err != nil {
			return fmt.Errorf("end web session: %w", err)
		}
	}
	c.SetCookie(s.sessionCookieFor(c, "", -1))
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) sessionCookieFor(c echo.Context, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: s.sessionCookieName(c), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secureRequest(c), SameSite: http.SameSiteStrictMode}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
