package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/service"
)

// Sign-in by a trusted proxy (oauth2-proxy, Authentik's proxy outpost): the proxy
// authenticates the person and names them in request headers. Headers are only
// words anybody can send, so they count when, and only when, the connection comes
// from one of the configured proxy addresses (the TCP peer: a forwarded-for header
// is one more word anybody can send) and carries the shared secret the proxy adds.
// Otherwise they are ignored, and the log says so, without the secret.

// proxyCacheTTL is how long one process trusts a sync it made for the same headers:
// the proxy sends them on every request, and syncing on each would be a transaction
// per request. Memberships themselves are read afresh on every request.
const (
	proxyCacheTTL = time.Minute
	proxyCacheMax = 10_000
)

// proxiedPerson is who the proxy's headers name.
type proxiedPerson struct {
	User   string
	Email  string
	Groups []string
	// SyncGroups is true when group sync is configured: then a missing groups
	// header means no groups.
	SyncGroups bool
}

// proxyAuth is the per-server state of proxy sign-in.
type proxyAuth struct {
	// warn rations the warning about ignored headers, so a client sending them in a
	// loop cannot flood the log.
	warn  rate.Sometimes
	mu    sync.Mutex
	cache map[[32]byte]proxyCacheEntry
}

type proxyCacheEntry struct {
	userID string
	until  time.Time
}

func newProxyAuth() *proxyAuth {
	return &proxyAuth{warn: rate.Sometimes{First: 10, Interval: time.Minute}, cache: map[[32]byte]proxyCacheEntry{}}
}

// proxyIdentity returns the person a trusted proxy names in the request's headers.
// It is false when proxy sign-in is off, when the request names nobody, and when the
// request does not come from a trusted proxy address with the right secret: then
// the headers are ignored, and a warning is logged.
func (s *Server) proxyIdentity(c echo.Context) (proxiedPerson, bool) {
	cfg := s.deps.Config.ProxyAuth
	if !cfg.Enabled() {
		return proxiedPerson{}, false
	}
	h := c.Request().Header
	user := strings.TrimSpace(h.Get(cfg.UserHeader))
	if user == "" {
		return proxiedPerson{}, false
	}
	peer := echo.ExtractIPDirect()(c.Request())
	trusted := false
	if ip := net.ParseIP(peer); ip != nil {
		for _, n := range cfg.Trusted {
			trusted = trusted || n.Contains(ip)
		}
	}
	// Hashes of equal length, so the comparison takes the same time whatever was sent.
	got, want := sha256.Sum256([]byte(h.Get(cfg.SecretHeader))), sha256.Sum256([]byte(cfg.Secret))
	secretOK := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	if !trusted || !secretOK {
		reason := "the request does not come from a trusted proxy address"
		if trusted {
			reason = "the shared secret header is missing or wrong"
		}
		s.proxy.warn.Do(func() {
			s.logger.WarnContext(c.Request().Context(), "sign-in proxy headers ignored", "reason", reason, "peer", peer,
				"user_header", cfg.UserHeader, "secret_header", cfg.SecretHeader)
		})
		return proxiedPerson{}, false
	}
	person := proxiedPerson{User: user, Email: strings.TrimSpace(h.Get(cfg.EmailHeader))}
	if cfg.GroupsHeader != "" {
		person.SyncGroups = true
		for _, v := range h.Values(cfg.GroupsHeader) {
			for _, g := range strings.Split(v, cfg.GroupsSeparator) {
				if g = strings.TrimSpace(g); g != "" {
					person.Groups = append(person.Groups, g)
				}
			}
		}
	}
	return person, true
}

// proxyPrincipal signs the proxy's person in: provisioned and their groups synced
// the first time these headers are seen (then at most once a minute per process),
// with their memberships read afresh every time.
func (s *Server) proxyPrincipal(c echo.Context, person proxiedPerson) (access.Principal, error) {
	ctx := c.Request().Context()
	if s.deps.Identities == nil {
		return access.Principal{}, service.Errorf(service.CodeUnavailable, "sign-in through the proxy is not available")
	}
	key := sha256.Sum256([]byte(person.User + "\x00" + person.Email + "\x00" + strings.Join(person.Groups, "\x00")))
	now := time.Now()
	s.proxy.mu.Lock()
	entry, ok := s.proxy.cache[key]
	s.proxy.mu.Unlock()
	if ok && now.Before(entry.until) {
		p, err := s.deps.Identities.Principal(ctx, entry.userID)
		if err == nil {
			return p, nil
		}
		if service.ErrorCode(err) != service.CodeUnauthenticated {
			return access.Principal{}, err
		}
		// The user was deleted: sign in afresh.
	}
	p, err := s.deps.Identities.SignIn(ctx, service.ExternalIdentity{
		Source: service.SourceProxy, Issuer: service.ProxyIssuer, Subject: person.User, Email: person.Email,
		Username: person.User, Groups: person.Groups, SyncGroups: person.SyncGroups,
	})
	if err != nil {
		return access.Principal{}, err
	}
	s.proxy.mu.Lock()
	if len(s.proxy.cache) >= proxyCacheMax {
		clear(s.proxy.cache)
	}
	s.proxy.cache[key] = proxyCacheEntry{userID: p.UserID, until: now.Add(proxyCacheTTL)}
	s.proxy.mu.Unlock()
	return p, nil
}

// checkProxyWrite guards writes signed in by proxy headers against cross-site
// requests: the proxy's own cookie rides along with any request the browser sends,
// so a write needs what only this origin's page has, its web session (of the same
// user) and that session's CSRF token. Reads need nothing more.
func (s *Server) checkProxyWrite(c echo.Context, p access.Principal) error {
	switch c.Request().Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	sess, ok := s.readSession(c)
	if !ok || sess.User != p.UserID {
		return service.Errorf(service.CodeForbidden, "missing or wrong %s header; reload the page", HeaderCSRF)
	}
	if err := checkCSRF(c, sess); err != nil {
		return err
	}
	active, err := s.webSessions.WebSessionActive(c.Request().Context(), sess.ID, p.UserID)
	if err != nil {
		return err
	}
	if !active {
		return service.Errorf(service.CodeForbidden, "this page's session has ended; reload the page")
	}
	return nil
}

// proxyWebSession answers GET /ui/session behind the proxy: the browser's session
// when it is the proxy user's and still open, else a new one for them.
func (s *Server) proxyWebSession(c echo.Context, person proxiedPerson) error {
	p, err := s.proxyPrincipal(c, person)
	if err != nil {
		return err
	}
	sess, ok := s.readSession(c)
	if ok && sess.User == p.UserID {
		active, err := s.webSessions.WebSessionActive(c.Request().Context(), sess.ID, p.UserID)
		if err != nil {
			return err
		}
		ok = active
	} else {
		ok = false
	}
	if !ok {
		if sess, err = s.startWebSession(c, p, methodProxy, ""); err != nil {
			return err
		}
	}
	view, err := s.viewOf(c, sess, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view)
}
