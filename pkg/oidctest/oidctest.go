// Package oidctest runs a real OpenID provider in process for tests: the provider
// package of zitadel/oidc (an OpenID-certified implementation) on an in-memory
// storage of users and one confidential client, issuing real RS256-signed tokens
// and publishing its keys, with a login form that a test or a browser fills in.
// Production code never imports it.
package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is a person the provider knows.
type User struct {
	// Subject is the stable id the provider gives the person; Username and
	// Password are what they type into the login form.
	Subject       string
	Username      string
	Password      string
	Name          string
	Email         string
	EmailVerified bool
	// Groups become the "groups" claim; nil sends no such claim.
	Groups []string
}

// Options configure a provider; the zero value is a provider on 127.0.0.1.
type Options struct {
	// Host is the host name of the issuer: "127.0.0.1" by default, "localhost" to
	// be another site than 127.0.0.1 for a browser (cookies, SameSite).
	Host string
}

// Provider is a running OpenID provider with one client (ClientID, ClientSecret).
type Provider struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// Name is what the login page calls the provider.
	Name string

	store *storage
}

// Start runs a provider until the test ends.
func Start(t testing.TB, opts Options) *Provider {
	t.Helper()
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	issuer := fmt.Sprintf("http://%s:%d", host, l.Addr().(*net.TCPAddr).Port)
	st := newStorage(uuid.NewString(), "secret-"+uuid.NewString())
	p := &Provider{Issuer: issuer, ClientID: st.client.id, ClientSecret: st.client.secret, Name: "Test IdP", store: st}

	var key [32]byte
	_, _ = rand.Read(key[:])
	provider, err := op.NewProvider(&op.Config{CryptoKey: key, CodeMethodS256: true, AuthMethodPost: true,
		DefaultLogoutRedirectURI: "/logged-out"}, st, op.StaticIssuer(issuer), op.WithAllowInsecure())
	require.NoError(t, err)
	login := &loginForm{store: st, provider: provider, callback: op.AuthCallbackURL(provider), name: p.Name}
	mux := http.NewServeMux()
	mux.Handle("/login", op.NewIssuerInterceptor(provider.IssuerFromRequest).HandlerFunc(login.serve))
	mux.HandleFunc("/logged-out", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("signed out")) })
	mux.Handle("/", provider)
	srv := httptest.NewUnstartedServer(mux)
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

// AddUser adds (or replaces) a user.
func (p *Provider) AddUser(u User) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	c := u
	c.Groups = slices.Clone(u.Groups)
	p.store.users[u.Subject] = &c
}

// SetGroups changes the groups of the user with subject, as an administrator of the
// provider would; the next sign-in carries them.
func (p *Provider) SetGroups(subject string, groups []string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.users[subject].Groups = slices.Clone(groups)
}

// AllowRedirect registers a redirect URI of the client (its callback).
func (p *Provider) AllowRedirect(uri string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.client.redirects = append(p.store.client.redirects, uri)
}

// AllowPostLogout registers where the end-session endpoint may send browsers back.
func (p *Provider) AllowPostLogout(uri string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.client.postLogout = append(p.store.client.postLogout, uri)
}

// TamperNonce makes the ID tokens issued from now on carry another nonce than the
// relying party sent, as a replayed or injected token would.
func (p *Provider) TamperNonce(on bool) { p.store.tamperNonce.Store(on) }

// SignWithUnpublishedKey makes the ID tokens issued from now on signed by a key the
// provider does not publish (under the published key's id), as a forged token is.
func (p *Provider) SignWithUnpublishedKey(on bool) { p.store.forge.Store(on) }

// EndedSessions lists the subjects whose session the end-session endpoint ended.
func (p *Provider) EndedSessions() []string {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	return slices.Clone(p.store.ended)
}

// ID token lifetime; tests are short.
const idTokenLifetime = 5 * time.Minute

var authRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// Authorize plays the person at the provider for a sign-in the relying party
// starts at startURL: client (with a cookie jar) follows the redirect to the login
// form and signs in as username; the URL the provider then sends the browser back
// to is returned, not followed, so a test can follow it, or change it first.
func (p *Provider) Authorize(t testing.TB, client *http.Client, startURL, username, password string) *url.URL {
	t.Helper()
	return p.answer(t, client, startURL, url.Values{"username": {username}, "password": {password}, "action": {"login"}})
}

// Deny is Authorize where the person cancels at the login form.
func (p *Provider) Deny(t testing.TB, client *http.Client, startURL string) *url.URL {
	t.Helper()
	return p.answer(t, client, startURL, url.Values{"action": {"deny"}})
}

func (p *Provider) answer(t testing.TB, client *http.Client, startURL string, form url.Values) *url.URL {
	t.Helper()
	issuer, err := url.Parse(p.Issuer)
	require.NoError(t, err)
	stop := *client
	stop.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != issuer.Host && via[len(via)-1].URL.Host == issuer.Host {
			return http.ErrUseLastResponse // back to the relying party: the caller decides
		}
		return nil
	}
	resp, err := stop.Get(startURL)
	require.NoError(t, err)
	page := readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the login form: %s", page)
	m := authRequestID.FindStringSubmatch(page)
	require.NotNil(t, m, "no login form at %s: %s", resp.Request.URL, page)
	form.Set("id", m[1])
	resp, err = stop.PostForm(p.Issuer+"/login", form)
	require.NoError(t, err)
	body := readBody(t, resp)
	require.Equal(t, http.StatusFound, resp.StatusCode, "the provider must send the browser back: %s", body)
	back, err := resp.Location()
	require.NoError(t, err)
	return back
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return string(b)
}

// loginForm is the provider's sign-in page: user name and password, or cancel.
type loginForm struct {
	store    *storage
	provider *op.Provider
	callback func(context.Context, string) string
	name     string
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · {{.Name}}</title></head>
<body><h1>{{.Name}}</h1>
<form method="post" action="/login">
<input type="hidden" name="id" value="{{.ID}}">
<p><label>User name <input name="username" autocomplete="username"></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password"></label></p>
<p class="error">{{.Error}}</p>
<button type="submit" name="action" value="login">Sign in</button>
<button type="submit" name="action" value="deny">Cancel</button>
</form></body></html>
`))

func (l *loginForm) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	render := func(id, msg string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = loginPage.Execute(w, map[string]string{"Name": l.name, "ID": id, "Error": msg})
	}
	if r.Method == http.MethodGet {
		render(r.Form.Get("authRequestID"), "")
		return
	}
	id := r.Form.Get("id")
	req, err := l.store.AuthRequestByID(r.Context(), id)
	if err != nil {
		http.Error(w, "unknown sign-in", http.StatusBadRequest)
		return
	}
	if r.Form.Get("action") == "deny" {
		op.AuthRequestError(w, r, req, oidc.ErrAccessDenied().WithDescription("the person cancelled"), l.provider)
		return
	}
	subject, ok := l.store.check(r.Form.Get("username"), r.Form.Get("password"))
	if !ok {
		render(id, "Wrong user name or password.")
		return
	}
	l.store.complete(id, subject)
	http.Redirect(w, r, l.callback(r.Context(), id), http.StatusFound)
}

// storage is op.Storage in memory: users, one client, sign-ins, codes, tokens, keys.
type storage struct {
	mu       sync.Mutex
	client   *client
	users    map[string]*User // by subject
	requests map[string]*authRequest
	codes    map[string]string // code -> request id
	tokens   map[string]*accessToken
	ended    []string

	key, forged *rsa.PrivateKey
	keyID       string
	tamperNonce atomic.Bool
	forge       atomic.Bool
}

var _ op.Storage = (*storage)(nil)

type accessToken struct {
	subject string
	scopes  []string
	expires time.Time
}

func newStorage(clientID, secret string) *storage {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	forged, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return &storage{client: &client{id: clientID, secret: secret}, users: map[string]*User{},
		requests: map[string]*authRequest{}, codes: map[string]string{}, tokens: map[string]*accessToken{},
		key: key, forged: forged, keyID: uuid.NewString()}
}

func (s *storage) check(username, password string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.Username == username && u.Password == password {
			return u.Subject, true
		}
	}
	return "", false
}

func (s *storage) complete(id, subject string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.requests[id]; r != nil {
		r.subject, r.done, r.authTime = subject, true, time.Now()
	}
}

var errNotFound = errors.New("not found")

func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &authRequest{id: uuid.NewString(), clientID: req.ClientID, redirectURI: req.RedirectURI, state: req.State,
		nonce: req.Nonce, scopes: req.Scopes, responseType: req.ResponseType, responseMode: req.ResponseMode,
		subject: userID, store: s}
	if req.CodeChallenge != "" {
		r.challenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}
	}
	s.requests[r.id] = r
	return r, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.requests[id]
	if !ok {
		return nil, errNotFound
	}
	return r, nil
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errNotFound
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	t := &accessToken{subject: req.GetSubject(), scopes: req.GetScopes(), expires: time.Now().Add(idTokenLifetime)}
	id, exp := uuid.NewString(), t.expires
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[id] = t
	return id, exp, nil
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("refresh tokens are not supported")
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *storage) TerminateSession(_ context.Context, userID, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = append(s.ended, userID)
	return nil
}

func (s *storage) RevokeToken(context.Context, string, string, string) *oidc.Error { return nil }

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	k := s.key
	if s.forge.Load() {
		k = s.forged
	}
	return &signingKey{id: s.keyID, key: k}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{&publicKey{id: s.keyID, key: &s.key.PublicKey}}, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != s.client.id {
		return nil, errNotFound
	}
	c := *s.client
	c.redirects, c.postLogout = slices.Clone(c.redirects), slices.Clone(c.postLogout)
	return &c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != s.client.id || secret != s.client.secret {
		return errors.New("wrong client credentials")
	}
	return nil
}

func (s *storage) SetUserinfoFromScopes(_ context.Context, info *oidc.UserInfo, subject, _ string, scopes []string) error {
	return s.fill(info, subject, scopes)
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	s.mu.Unlock()
	if !ok || t.subject != subject || time.Now().After(t.expires) {
		return errors.New("token is not valid")
	}
	return s.fill(info, subject, t.scopes)
}

// fill puts what the scopes grant of the user into info; the groups claim comes
// whatever the scopes, like a provider mapper that adds it to every token.
func (s *storage) fill(info *oidc.UserInfo, subject string, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[subject]
	if !ok {
		return errNotFound
	}
	info.Subject = u.Subject
	if slices.Contains(scopes, oidc.ScopeEmail) {
		info.Email, info.EmailVerified = u.Email, oidc.Bool(u.EmailVerified)
		if !u.EmailVerified {
			info.AppendClaims("email_verified", false) // the field alone would be left out
		}
	}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.PreferredUsername, info.Name = u.Username, u.Name
	}
	if u.Groups != nil {
		info.AppendClaims("groups", slices.Clone(u.Groups))
	}
	return nil
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not supported")
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// authRequest is one sign-in in progress.
type authRequest struct {
	id, clientID, redirectURI, state, nonce string
	scopes                                  []string
	responseType                            oidc.ResponseType
	responseMode                            oidc.ResponseMode
	challenge                               *oidc.CodeChallenge
	subject                                 string
	done                                    bool
	authTime                                time.Time
	store                                   *storage
}

func (r *authRequest) GetID() string                         { return r.id }
func (r *authRequest) GetACR() string                        { return "" }
func (r *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (r *authRequest) GetAudience() []string                 { return []string{r.clientID} }
func (r *authRequest) GetAuthTime() time.Time                { return r.authTime }
func (r *authRequest) GetClientID() string                   { return r.clientID }
func (r *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return r.challenge }
func (r *authRequest) GetRedirectURI() string                { return r.redirectURI }
func (r *authRequest) GetResponseType() oidc.ResponseType    { return r.responseType }
func (r *authRequest) GetResponseMode() oidc.ResponseMode    { return r.responseMode }
func (r *authRequest) GetScopes() []string                   { return r.scopes }
func (r *authRequest) GetState() string                      { return r.state }

func (r *authRequest) GetNonce() string {
	if r.store.tamperNonce.Load() {
		return "not-" + r.nonce
	}
	return r.nonce
}

func (r *authRequest) GetSubject() string {
	r.store.mu.Lock()
	defer r.store.mu.Unlock()
	return r.subject
}

func (r *authRequest) Done() bool {
	r.store.mu.Lock()
	defer r.store.mu.Unlock()
	return r.done
}

// client is the relying party: a confidential web application.
type client struct {
	id, secret            string
	redirects, postLogout []string
}

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return c.redirects }
func (c *client) PostLogoutRedirectURIs() []string    { return c.postLogout }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType         { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *client) LoginURL(id string) string            { return "/login?authRequestID=" + url.QueryEscape(id) }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration       { return idTokenLifetime }
func (c *client) DevMode() bool                        { return true }
func (c *client) IsScopeAllowed(string) bool           { return true }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct {
	id  string
	key *rsa.PublicKey
}

func (k *publicKey) ID() string                         { return k.id }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return k.key }
