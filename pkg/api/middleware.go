package api

import (
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/service"
)

var validCorrelationID = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)

// correlation echoes a valid incoming correlation id or makes a new one, and puts it
// in the request context, the response and every log line of the request.
func (s *Server) correlation(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(logging.HeaderCorrelationID)
		if !validCorrelationID.MatchString(id) {
			id = uuid.NewString()
		}
		c.Response().Header().Set(logging.HeaderCorrelationID, id)
		ctx := logging.WithCorrelationID(c.Request().Context(), id)
		ctx = service.WithClientIP(ctx, c.RealIP())
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		return next(c)
	}
}

func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if strings.HasPrefix(c.Request().URL.Path, "/v1/") {
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// cors answers only the configured origins; with none configured, no cross-origin
// browser access is granted at all.
func (s *Server) cors(next echo.HandlerFunc) echo.HandlerFunc {
	allowed := s.deps.Config.CORSOrigins
	return func(c echo.Context) error {
		origin := c.Request().Header.Get("Origin")
		if origin == "" || !slices.Contains(allowed, origin) {
			if c.Request().Method == http.MethodOptions && origin != "" {
				return c.NoContent(http.StatusForbidden)
			}
			return next(c)
		}
		h := c.Response().Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", "X-Correlation-ID, Location, Retry-After")
		if c.Request().Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, X-API-Key, Content-Type, Last-Event-ID, X-Correlation-ID")
			h.Set("Access-Control-Max-Age", "600")
			return c.NoContent(http.StatusNoContent)
		}
		return next(c)
	}
}

// bodyLimit caps request bodies; uploads get their own larger limit, enforced while streaming.
func (s *Server) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	limit := s.deps.Config.MaxBodyBytes
	return func(c echo.Context) error {
		r := c.Request()
		if r.Body != nil && !isUpload(r) {
			if r.ContentLength > limit {
				return service.Errorf(service.CodeTooLarge, "the request body is larger than %d bytes", limit)
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
		}
		return next(c)
	}
}

// isUpload reports a multipart upload, whose body has its own limits; URLs sent
// as JSON to the same route are an ordinary request.
func isUpload(r *http.Request) bool {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/documents" {
		return false
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt != "application/json"
}

// authenticate accepts "Authorization: Bearer KEY" or "X-API-Key: KEY", the
// identity headers of a trusted sign-in proxy, or the web UI's session cookie, in
// that order.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key := c.Request().Header.Get("X-API-Key")
		if auth := c.Request().Header.Get("Authorization"); auth != "" {
			scheme, token, _ := strings.Cut(auth, " ")
			if !strings.EqualFold(scheme, "Bearer") {
				return service.Errorf(service.CodeUnauthenticated, "use Authorization: Bearer <api key>")
			}
			key = strings.TrimSpace(token)
		}
		// Checked on every request, so headers from anywhere else are logged as ignored.
		proxied, fromProxy := s.proxyIdentity(c)
		if key == "" && fromProxy {
			p, err := s.proxyPrincipal(c, proxied)
			if err != nil {
				return err
			}
			if err := s.checkProxyWrite(c, p); err != nil {
				return err
			}
			c.Set("principal", p)
			return next(c)
		}
		var sess *webSession
		if key == "" {
			// The web UI signs in once and then sends a session cookie instead of the key.
			ws, ok, err := s.cookieSession(c)
			if err != nil {
				return err
			}
			if ok && ws.Key == "" {
				// Opened through the identity provider: the session row is the credential.
				p, err := s.sessionPrincipal(c, ws)
				if err != nil {
					return err
				}
				c.Set("principal", p)
				return next(c)
			}
			if ok {
				key, sess = ws.Key, &ws
			}
		}
		if key == "" {
			if !s.limiter.allow("ip:"+c.RealIP(), c) {
				return service.Errorf(service.CodeRateLimited, "too many requests")
			}
			return service.Errorf(service.CodeUnauthenticated, "missing API key: send Authorization: Bearer <api key>")
		}
		p, err := s.signIn(c, key)
		if err != nil {
			return err
		}
		if sess != nil {
			if err := s.checkWebSession(c, *sess, p); err != nil {
				return err
			}
		}
		c.Set("principal", p)
		return next(c)
	}
}

// signIn looks key up. Failed attempts are counted per client address, and once an
// address has used them up its attempts are refused before the lookup, so a flood
// of made-up keys costs no database work. Every attempt from that address waits,
// good keys too: the alternative, looking the key up first, is what a flood exploits.
// Requests already past the check when the last failure lands still get their
// lookup, so the bound is the burst plus what one address has in flight; taking a
// token before every lookup would be exact, but would throttle a busy office
// behind one NAT address that sends nothing but good keys.
func (s *Server) signIn(c echo.Context, key string) (access.Principal, error) {
	address := "ip:" + c.RealIP()
	if s.authFailures.empty(address, c) {
		return access.Principal{}, service.Errorf(service.CodeRateLimited,
			"too many failed sign-in attempts from your address; retry after the time in Retry-After")
	}
	p, err := s.deps.Users.Authenticate(c.Request().Context(), key)
	if service.ErrorCode(err) == service.CodeUnauthenticated {
		s.authFailures.take(address)
	}
	return p, err
}

// rateLimit applies the per-user token bucket.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.limiter.allow("user:"+principal(c).UserID, c) {
			return service.Errorf(service.CodeRateLimited, "too many requests; retry after the time in Retry-After")
		}
		return next(c)
	}
}

// requireAdmin hides admin routes from everybody else (404) and audits the attempt.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := principal(c)
		if access.RequireAdmin(p) != nil {
			s.deps.Audit.Record(c.Request().Context(), nil, p, "admin.denied", "route", c.Request().Method+" "+c.Path(), service.OutcomeDenied, nil)
			return service.Errorf(service.CodeNotFound, "not found")
		}
		return next(c)
	}
}

// principal returns the authenticated caller; only valid behind authenticate.
func principal(c echo.Context) access.Principal {
	p, _ := c.Get("principal").(access.Principal)
	return p
}
