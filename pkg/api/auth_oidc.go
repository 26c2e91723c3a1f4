package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/service"
)

// OpenID Connect sign-in for the web UI: the authorization code flow with PKCE.
// GET /ui/auth/oidc/login keeps a fresh state, nonce and PKCE verifier in a short
// sealed cookie and sends the browser to the provider; the callback checks each of
// them, verifies the ID token (signature by the provider's published keys, issuer,
// audience, expiry), applies the identity rules (e-mail domain, provisioning, group
// sync) and opens a web session without an API key.

const (
	oidcLoginPath    = "/ui/auth/oidc/login"
	oidcCallbackPath = "/ui/auth/oidc/callback"
	oidcLogoutPath   = "/ui/auth/oidc/logout"

	oidcFlowCookie    = "yw_oidc"
	oidcFlowCookieTLS = "__Host-yw_oidc"
	// oidcFlowTTL is how long a person has at the provider to sign in.
	oidcFlowTTL = 10 * time.Minute
	// oidcRetryAfter spaces discovery attempts while the provider is down.
	oidcRetryAfter = 5 * time.Second
)

// oidcFlowAAD binds sealed flow cookies to their purpose: a session cookie does not
// open as a flow, nor a flow as a session.
var oidcFlowAAD = []byte("youworker oidc flow v1")

// oidcFlow is what the browser keeps, sealed, between the redirect to the provider
// and the callback. Redirect is the callback URL the flow started with, which the
// code exchange must repeat.
type oidcFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Redirect string `json:"r"`
	Expires  int64  `json:"x"`
}

// oidcClient is the relying party of the configured provider. Discovery happens at
// the first sign-in, and again after a failure, so a provider that is down when the
// API starts does not keep the API from starting.
type oidcClient struct {
	cfg  config.OIDC
	http *http.Client

	mu         sync.Mutex
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	endSession string
	failedAt   time.Time
	failure    error
}

func newOIDCClient(cfg config.OIDC) *oidcClient {
	if !cfg.Enabled() {
		return nil
	}
	return &oidcClient{cfg: cfg, http: &http.Client{Timeout: 15 * time.Second}}
}

// ctx carries the client's HTTP client to go-oidc and oauth2.
func (o *oidcClient) ctx(ctx context.Context) context.Context { return oidc.ClientContext(ctx, o.http) }

// discover returns the provider, reading its discovery document when not yet done.
func (o *oidcClient) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	if time.Since(o.failedAt) < oidcRetryAfter {
		return nil, o.failure
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.IssuerURL)
	if err != nil {
		o.failedAt, o.failure = time.Now(), fmt.Errorf("discover the OpenID provider: %w", err)
		return nil, o.failure
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&extra)
	o.provider, o.endSession = p, extra.EndSession
	o.verifier = p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID})
	return p, nil
}

func (o *oidcClient) oauth(p *oidc.Provider, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: redirect, Scopes: o.cfg.Scopes}
}

// publicBase is the scheme and host browsers reach the UI at: the configured public
// URL, else what this request was sent to.
func (s *Server) publicBase(c echo.Context) string {
	if u := s.deps.Config.PublicURL; u != "" {
		return u
	}
	scheme := "http"
	if s.secureRequest(c) {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host
}

func (s *Server) flowCookieName(c echo.Context) string {
	if s.secureRequest(c) {
		return oidcFlowCookieTLS
	}
	return oidcFlowCookie
}

// flowCookie is Lax, unlike the session cookie: the callback is a navigation from
// the provider's site, and a Strict cookie would not come with it.
func (s *Server) flowCookie(c echo.Context, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: s.flowCookieName(c), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secureRequest(c), SameSite: http.SameSiteLaxMode}
}

// authMethods is what the sign-in page offers besides the API key form.
type authMethods struct {
	OIDC *oidcMethod `json:"oidc"`
}

type oidcMethod struct {
	Name     string `json:"name"`
	LoginURL string `json:"login_url"`
}

func (s *Server) getAuthMethods(c echo.Context) error {
	var m authMethods
	if s.oidc != nil {
		m.OIDC = &oidcMethod{Name: s.oidc.cfg.ProviderName, LoginURL: oidcLoginPath}
	}
	return c.JSON(http.StatusOK, m)
}

var errOIDCOff = service.Errorf(service.CodeNotFound, "single sign-on is not configured on this server")

// oidcLogin starts a sign-in at the provider.
func (s *Server) oidcLogin(c echo.Context) error {
	if s.oidc == nil {
		return s.signInPage(c, errOIDCOff)
	}
	p, err := s.oidc.discover(c.Request().Context())
	if err != nil {
		s.logger.WarnContext(c.Request().Context(), "OpenID provider unavailable", "error", err)
		return s.signInPage(c, service.Errorf(service.CodeUnavailable, "%s cannot be reached right now; try again in a moment", s.oidc.cfg.ProviderName))
	}
	flow := oidcFlow{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Redirect: s.publicBase(c) + oidcCallbackPath, Expires: time.Now().Add(oidcFlowTTL).Unix()}
	value, err := webState(c).sessions.sealJSON(flow, oidcFlowAAD)
	if err != nil {
		return fmt.Errorf("seal sign-in flow: %w", err)
	}
	c.SetCookie(s.flowCookie(c, value, int(oidcFlowTTL.Seconds())))
	c.Response().Header().Set("Cache-Control", "no-store")
	target := s.oidc.oauth(p, flow.Redirect).AuthCodeURL(flow.State, oidc.Nonce(flow.Nonce), oauth2.S256ChallengeOption(flow.Verifier))
	return c.Redirect(http.StatusFound, target)
}

// providerError is the shape of an OAuth error code; anything else the provider
// (or whoever made the link) puts there is not shown.
var providerError = regexp.MustCompile(`^[a-z_]{1,64}$`)

// oidcCallback finishes a sign-in: every check, then the session.
func (s *Server) oidcCallback(c echo.Context) error {
	if s.oidc == nil || s.deps.Identities == nil {
		return s.signInPage(c, errOIDCOff)
	}
	address := "ip:" + c.RealIP()
	if s.authFailures.empty(address, c) {
		return s.signInPage(c, service.Errorf(service.CodeRateLimited, "too many failed sign-ins from your address; wait a little and try again"))
	}
	// The flow is good for one callback, whatever its outcome.
	var flow oidcFlow
	ck, err := c.Cookie(s.flowCookieName(c))
	haveFlow := err == nil && webState(c).sessions.openJSON(ck.Value, oidcFlowAAD, &flow) && time.Now().Unix() < flow.Expires
	c.SetCookie(s.flowCookie(c, "", -1))

	p, err := s.finishOIDC(c, flow, haveFlow)
	if err != nil {
		var se *service.Error
		if !errors.As(err, &se) {
			s.logger.ErrorContext(c.Request().Context(), "OpenID sign-in failed", "error", err)
			se = service.Errorf(service.CodeUnavailable, "the sign-in could not be completed; try again in a moment")
		}
		if se.Code != service.CodeUnavailable {
			s.authFailures.take(address)
		}
		s.deps.Audit.Record(c.Request().Context(), nil, access.Principal{}, "web.sign_in", "user", "", service.OutcomeDenied,
			map[string]any{"method": methodOIDC, "reason": string(se.Code), "detail": se.Message})
		return s.signInPage(c, se)
	}
	if _, err := s.startWebSession(c, p, methodOIDC, ""); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusFound, "/")
}

// finishOIDC checks the callback against the flow, redeems the code and signs in
// the person the ID token names. Refusals are *service.Error with a message for
// the person; other errors are the platform's.
func (s *Server) finishOIDC(c echo.Context, flow oidcFlow, haveFlow bool) (access.Principal, error) {
	ctx := c.Request().Context()
	q := c.QueryParams()
	name := s.oidc.cfg.ProviderName
	if !haveFlow {
		return access.Principal{}, service.Errorf(service.CodeInvalid,
			"this sign-in was not started in this browser, or took longer than %d minutes; start again", int(oidcFlowTTL.Minutes()))
	}
	if state := q.Get("state"); state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(flow.State)) != 1 {
		return access.Principal{}, service.Errorf(service.CodeInvalid, "this sign-in answer does not belong to the sign-in this browser started; start again")
	}
	if e := q.Get("error"); e != "" {
		if !providerError.MatchString(e) {
			e = "error"
		}
		return access.Principal{}, service.Errorf(service.CodeForbidden, "%s did not sign you in (%s)", name, e)
	}
	code := q.Get("code")
	if code == "" {
		return access.Principal{}, service.Errorf(service.CodeInvalid, "%s sent no sign-in code; start again", name)
	}
	prov, err := s.oidc.discover(ctx)
	if err != nil {
		return access.Principal{}, err
	}
	token, err := s.oidc.oauth(prov, flow.Redirect).Exchange(s.oidc.ctx(ctx), code, oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return access.Principal{}, service.Errorf(service.CodeUnauthenticated, "%s refused the sign-in code (%s); start again", name, oauthErrorCode(re))
		}
		return access.Principal{}, fmt.Errorf("redeem the sign-in code: %w", err)
	}
	raw, _ := token.Extra("id_token").(string)
	if raw == "" {
		return access.Principal{}, service.Errorf(service.CodeUnauthenticated, "%s sent no ID token", name)
	}
	idt, err := s.oidc.verifier.Verify(ctx, raw)
	if err != nil {
		s.logger.WarnContext(ctx, "ID token refused", "error", err)
		return access.Principal{}, service.Errorf(service.CodeUnauthenticated, "the ID token from %s is not valid for this server", name)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(flow.Nonce)) != 1 {
		return access.Principal{}, service.Errorf(service.CodeUnauthenticated, "the ID token from %s was not issued for this sign-in", name)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(token.AccessToken); err != nil {
			return access.Principal{}, service.Errorf(service.CodeUnauthenticated, "the tokens from %s do not belong together", name)
		}
	}
	var all map[string]json.RawMessage
	if err := idt.Claims(&all); err != nil {
		return access.Principal{}, service.Errorf(service.CodeUnauthenticated, "the ID token from %s cannot be read", name)
	}
	if aud, azp := idt.Audience, claimString(all["azp"]); len(aud) > 1 && azp != s.oidc.cfg.ClientID {
		return access.Principal{}, service.Errorf(service.CodeUnauthenticated, "the ID token from %s was issued to another application", name)
	}
	id := s.identityFromClaims(idt.Issuer, idt.Subject, all)
	if s.needsUserInfo(id, all) && prov.UserInfoEndpoint() != "" {
		info, err := prov.UserInfo(s.oidc.ctx(ctx), oauth2.StaticTokenSource(token))
		if err != nil {
			return access.Principal{}, fmt.Errorf("read userinfo: %w", err)
		}
		if info.Subject != idt.Subject {
			return access.Principal{}, service.Errorf(service.CodeUnauthenticated, "%s described somebody else at its userinfo endpoint", name)
		}
		var more map[string]json.RawMessage
		if err := info.Claims(&more); err == nil {
			for k, v := range more {
				if _, ok := all[k]; !ok {
					all[k] = v
				}
			}
			id = s.identityFromClaims(idt.Issuer, idt.Subject, all)
		}
	}
	return s.deps.Identities.SignIn(ctx, id)
}

// needsUserInfo is true when the ID token lacks what the rules need and the
// provider may say it at its userinfo endpoint: the groups claim when groups are
// synced, the e-mail when domains are restricted.
func (s *Server) needsUserInfo(id service.ExternalIdentity, all map[string]json.RawMessage) bool {
	if claim := s.oidc.cfg.GroupsClaim; claim != "" {
		if _, ok := all[claim]; !ok {
			return true
		}
	}
	return id.Email == "" && len(s.oidc.cfg.AllowedDomains) > 0
}

// identityFromClaims reads the person from the token's claims. The groups claim
// may be a list of names or one name; when group sync is on and the claim is
// absent, the person has no groups.
func (s *Server) identityFromClaims(issuer, subject string, all map[string]json.RawMessage) service.ExternalIdentity {
	id := service.ExternalIdentity{Source: service.SourceOIDC, Issuer: issuer, Subject: subject,
		Email: claimString(all["email"]), Username: claimString(all["preferred_username"])}
	switch v := strings.ToLower(strings.Trim(string(all["email_verified"]), `"`)); v {
	case "true", "false":
		verified := v == "true"
		id.EmailVerified = &verified
	}
	if claim := s.oidc.cfg.GroupsClaim; claim != "" {
		id.SyncGroups = true
		var list []string
		if err := json.Unmarshal(all[claim], &list); err == nil {
			id.Groups = list
		} else if one := claimString(all[claim]); one != "" {
			id.Groups = []string{one}
		}
	}
	return id
}

func claimString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func oauthErrorCode(re *oauth2.RetrieveError) string {
	if providerError.MatchString(re.ErrorCode) {
		return re.ErrorCode
	}
	if re.Response == nil {
		return "error"
	}
	return fmt.Sprintf("status %d", re.Response.StatusCode)
}

// oidcLogout sends the browser to the provider's end-session endpoint, when its
// discovery document offers one, to end the provider's session too; it comes back
// to the sign-in page. The web UI ends the session here first (DELETE /ui/session,
// with its CSRF token); this only navigates, and changes nothing here.
func (s *Server) oidcLogout(c echo.Context) error {
	if s.oidc == nil {
		return s.signInPage(c, errOIDCOff)
	}
	back := s.publicBase(c) + "/"
	if _, err := s.oidc.discover(c.Request().Context()); err != nil || s.oidc.endSession == "" {
		return c.Redirect(http.StatusFound, "/")
	}
	u, err := url.Parse(s.oidc.endSession)
	if err != nil {
		return c.Redirect(http.StatusFound, "/")
	}
	q := u.Query()
	q.Set("client_id", s.oidc.cfg.ClientID)
	q.Set("post_logout_redirect_uri", back)
	u.RawQuery = q.Encode()
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusFound, u.String())
}
