package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// OIDC configures sign-in to the web UI through an OpenID Connect provider
// (authorization code flow with PKCE). It is on when IssuerURL is set.
type OIDC struct {
	// IssuerURL is the provider's issuer; its discovery document is at
	// IssuerURL/.well-known/openid-configuration.
	IssuerURL    string
	ClientID     string
	ClientSecret string
	// ProviderName is shown on the sign-in button: "Sign in with <ProviderName>".
	ProviderName string
	// Scopes are requested at the provider; openid is always among them.
	Scopes []string
	// AllowedDomains are the e-mail domains allowed to sign in; empty allows all.
	AllowedDomains []string
	// GroupsClaim names the claim listing the person's groups; empty turns group
	// sync off.
	GroupsClaim string
}

// Enabled reports whether OIDC sign-in is configured.
func (o OIDC) Enabled() bool { return o.IssuerURL != "" }

// ProxyAuth configures sign-in by the headers of an authenticating reverse proxy
// (oauth2-proxy, Authentik's proxy outpost). It is on when Trusted is set; the
// headers count only on connections from those addresses that carry the secret.
type ProxyAuth struct {
	// Trusted are the addresses the proxy connects from (the TCP peer, never a
	// forwarded-for header).
	Trusted      []*net.IPNet
	SecretHeader string
	Secret       string
	UserHeader   string
	EmailHeader  string
	// GroupsHeader lists the person's groups, split at GroupsSeparator; empty turns
	// group sync off.
	GroupsHeader    string
	GroupsSeparator string
	// SignOutURL is where the web UI sends the browser after signing out here, to
	// end the proxy's session too (oauth2-proxy: /oauth2/sign_out).
	SignOutURL string
}

// Enabled reports whether sign-in by proxy headers is configured.
func (p ProxyAuth) Enabled() bool { return len(p.Trusted) > 0 }

// loadIdentity reads the sign-in settings.
func loadIdentity(r *reader, c *Config) {
	c.PublicURL = strings.TrimSuffix(r.str("YW_PUBLIC_URL", ""), "/")
	c.SSOGroupPrefix = r.getenv("YW_SSO_GROUP_PREFIX")
	c.OIDC = OIDC{
		IssuerURL:      r.str("YW_OIDC_ISSUER", ""),
		ClientID:       r.str("YW_OIDC_CLIENT_ID", ""),
		ClientSecret:   r.str("YW_OIDC_CLIENT_SECRET", ""),
		ProviderName:   r.str("YW_OIDC_PROVIDER_NAME", "SSO"),
		Scopes:         strings.FieldsFunc(r.str("YW_OIDC_SCOPES", "openid email profile"), func(r rune) bool { return r == ' ' || r == ',' }),
		AllowedDomains: r.list("YW_OIDC_ALLOWED_DOMAINS"),
		GroupsClaim:    r.str("YW_OIDC_GROUPS_CLAIM", ""),
	}
	if !slices.Contains(c.OIDC.Scopes, "openid") {
		c.OIDC.Scopes = append([]string{"openid"}, c.OIDC.Scopes...)
	}
	c.ProxyAuth = ProxyAuth{
		Trusted:         parseCIDRs(r, "YW_PROXY_AUTH_TRUSTED"),
		SecretHeader:    r.str("YW_PROXY_AUTH_SECRET_HEADER", "X-Proxy-Secret"),
		Secret:          r.str("YW_PROXY_AUTH_SECRET", ""),
		UserHeader:      r.str("YW_PROXY_AUTH_USER_HEADER", "X-Forwarded-User"),
		EmailHeader:     r.str("YW_PROXY_AUTH_EMAIL_HEADER", "X-Forwarded-Email"),
		GroupsHeader:    r.str("YW_PROXY_AUTH_GROUPS_HEADER", ""),
		GroupsSeparator: r.str("YW_PROXY_AUTH_GROUPS_SEPARATOR", ","),
		SignOutURL:      r.str("YW_PROXY_AUTH_SIGN_OUT_URL", ""),
	}
}

// parseCIDRs reads a list of networks; a bare address is a network of one.
func parseCIDRs(r *reader, name string) []*net.IPNet {
	var out []*net.IPNet
	for _, cidr := range r.list(name) {
		if !strings.Contains(cidr, "/") {
			if strings.Contains(cidr, ":") {
				cidr += "/128"
			} else {
				cidr += "/32"
			}
		}
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			r.fail(name, err)
			continue
		}
		out = append(out, n)
	}
	return out
}

var (
	headerName = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	claimName  = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,100}$`)
)

// validateIdentity checks the sign-in settings, returning every problem.
func (c Config) validateIdentity() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			bad("YW_PUBLIC_URL", "must be the scheme and host browsers reach the web UI at, like https://youworker.example.com")
		}
	}
	o := c.OIDC
	if o.Enabled() {
		if u, err := url.Parse(o.IssuerURL); err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" ||
			!(u.Scheme == "https" || u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
			bad("YW_OIDC_ISSUER", "must be the provider's https:// issuer URL (http:// only on this machine)")
		}
		if o.ClientID == "" {
			bad("YW_OIDC_CLIENT_ID", "required with YW_OIDC_ISSUER")
		}
		if n := len([]rune(o.ProviderName)); n < 1 || n > 60 {
			bad("YW_OIDC_PROVIDER_NAME", "must be 1 to 60 characters")
		}
		for _, s := range o.Scopes {
			if !claimName.MatchString(s) {
				bad("YW_OIDC_SCOPES", "%q is not a scope", s)
			}
		}
		if o.GroupsClaim != "" && !claimName.MatchString(o.GroupsClaim) {
			bad("YW_OIDC_GROUPS_CLAIM", "must be a claim name like groups")
		}
		for _, d := range o.AllowedDomains {
			if strings.ContainsAny(d, "@/ ") || !strings.Contains(d, ".") {
				bad("YW_OIDC_ALLOWED_DOMAINS", "%q is not a domain like example.com", d)
			}
		}
	} else if o.ClientID != "" || o.ClientSecret != "" || o.GroupsClaim != "" || len(o.AllowedDomains) > 0 {
		bad("YW_OIDC_ISSUER", "required when any other YW_OIDC_ setting is given")
	}
	p := c.ProxyAuth
	if p.Enabled() {
		if len(p.Secret) < 16 {
			bad("YW_PROXY_AUTH_SECRET", "required with YW_PROXY_AUTH_TRUSTED: at least 16 characters the proxy sends in %s", p.SecretHeader)
		}
		for name, v := range map[string]string{"YW_PROXY_AUTH_SECRET_HEADER": p.SecretHeader, "YW_PROXY_AUTH_USER_HEADER": p.UserHeader,
			"YW_PROXY_AUTH_EMAIL_HEADER": p.EmailHeader, "YW_PROXY_AUTH_GROUPS_HEADER": p.GroupsHeader} {
			if v != "" && !headerName.MatchString(v) {
				bad(name, "must be a header name like X-Forwarded-User")
			}
		}
		if p.UserHeader == "" || strings.EqualFold(p.UserHeader, p.SecretHeader) {
			bad("YW_PROXY_AUTH_USER_HEADER", "required, and not the secret header")
		}
		if p.GroupsSeparator == "" {
			bad("YW_PROXY_AUTH_GROUPS_SEPARATOR", "must not be empty")
		}
		if p.SignOutURL != "" {
			if u, err := url.Parse(p.SignOutURL); err != nil || !(u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") ||
				(u.Scheme == "https" || u.Scheme == "http") && u.Host != "") {
				bad("YW_PROXY_AUTH_SIGN_OUT_URL", "must be a path like /oauth2/sign_out or an http(s) URL")
			}
		}
	} else if p.Secret != "" {
		bad("YW_PROXY_AUTH_TRUSTED", "required with YW_PROXY_AUTH_SECRET: the addresses the proxy connects from")
	}
	return errs
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// identityString renders the sign-in settings for logs, secrets redacted.
func (c Config) identityString() string {
	s := fmt.Sprintf(" public_url=%s", c.PublicURL)
	if c.OIDC.Enabled() {
		secret := ""
		if c.OIDC.ClientSecret != "" {
			secret = "[redacted]"
		}
		s += fmt.Sprintf(" oidc_issuer=%s oidc_client_id=%s oidc_client_secret=%s", c.OIDC.IssuerURL, c.OIDC.ClientID, secret)
	}
	if c.ProxyAuth.Enabled() {
		s += fmt.Sprintf(" proxy_auth_trusted=%v proxy_auth_secret=[redacted]", c.ProxyAuth.Trusted)
	}
	return s
}
