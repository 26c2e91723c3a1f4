package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, "127.0.0.1:8080", c.HTTPAddr)
	require.Equal(t, int64(100<<20), c.MaxUploadBytes)
	require.Equal(t, 8, c.EmbedConcurrency)
	require.Empty(t, c.OTelEndpoint, "tracing is off unless a collector is configured")
}

func TestOTelEndpointTakesAnHTTPCollector(t *testing.T) {
	t.Parallel()
	for endpoint, ok := range map[string]bool{
		"http://collector:4318": true, "https://collector.example:4318/v1/traces": true,
		"collector:4318": false, "grpc://collector:4317": false, "http://": false,
	} {
		c, err := Load(env(map[string]string{"YW_OTEL_ENDPOINT": endpoint}))
		require.NoError(t, err)
		if ok {
			require.NoError(t, c.Validate(), endpoint)
		} else {
			require.ErrorContains(t, c.Validate(), "YW_OTEL_ENDPOINT", endpoint)
		}
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{
		"YW_RATE_LIMIT_BURST": "lots", "YW_LOG_LEVEL": "shout", "YW_TRUSTED_PROXIES": "10.0.0.0/99",
		"YW_SHUTDOWN_TIMEOUT": "soon", "YW_IP_ALLOWLIST": "10.0.0.0/8, not-an-address", "YW_GROUP_DIRECT_ADD": "perhaps",
	}))
	require.Error(t, err)
	for _, name := range []string{"YW_RATE_LIMIT_BURST", "YW_LOG_LEVEL", "YW_TRUSTED_PROXIES", "YW_SHUTDOWN_TIMEOUT", "YW_IP_ALLOWLIST", "YW_GROUP_DIRECT_ADD"} {
		require.ErrorContains(t, err, name)
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"YW_DATABASE_URL": "mysql://x", "YW_HTTP_ADDR": "nohost", "YW_LOG_FORMAT": "xml",
		"YW_BOOTSTRAP_ADMIN_KEY": "short", "YW_CHUNK_OVERLAP": "900", "YW_EMBED_CONCURRENCY": "0",
		"YW_OTEL_ENDPOINT": "collector:4318",
	}))
	require.NoError(t, err)
	err = c.Validate()
	for _, name := range []string{"YW_DATABASE_URL", "YW_HTTP_ADDR", "YW_LOG_FORMAT", "YW_BOOTSTRAP_ADMIN_KEY", "YW_CHUNK_OVERLAP", "YW_EMBED_CONCURRENCY",
		"YW_OTEL_ENDPOINT"} {
		require.ErrorContains(t, err, name)
	}
}

func TestStringRedactsSecrets(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"YW_DATABASE_URL":        "postgres://app:hunter2@db:5432/yw",
		"YW_BOOTSTRAP_ADMIN_KEY": "super-secret-bootstrap-key-123",
		"YW_QDRANT_API_KEY":      "qdrant-secret",
		"YW_SESSION_SECRET":      "c2Vzc2lvbi1zZWNyZXQtc2Vzc2lvbi1zZWNyZXQtMTIzNA==",
	}))
	require.NoError(t, err)
	s := c.String()
	for _, secret := range []string{"hunter2", "super-secret-bootstrap-key-123", "qdrant-secret", "c2Vzc2lvbi1zZWNyZXQ"} {
		require.False(t, strings.Contains(s, secret), "String() leaks %q: %s", secret, s)
	}
	require.Contains(t, s, "db:5432")
}

func TestTrustedProxiesAcceptBareAddresses(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"YW_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16, ::1"}))
	require.NoError(t, err)
	require.Len(t, c.TrustedProxies, 3)
	require.Equal(t, "10.0.0.1/32", c.TrustedProxies[0].String())
}

func TestIPAllowlistAndDirectAdd(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Empty(t, c.IPAllowlist, "no allow-list by default: every address is served")
	require.False(t, c.GroupDirectAdd, "adding a member invites by default")
	c, err = Load(env(map[string]string{"YW_IP_ALLOWLIST": "203.0.113.7, 10.0.0.0/8, 2001:db8::/32", "YW_GROUP_DIRECT_ADD": "true"}))
	require.NoError(t, err)
	require.Len(t, c.IPAllowlist, 3)
	require.Equal(t, "203.0.113.7/32", c.IPAllowlist[0].String())
	require.True(t, c.GroupDirectAdd)
}

func TestDatabaseURLSetOnlyWhenGiven(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.False(t, c.DatabaseURLSet)
	require.Equal(t, DefaultDatabaseURL, c.DatabaseURL)

	c, err = Load(env(map[string]string{"YW_DATABASE_URL": "postgres://db.internal/youworker"}))
	require.NoError(t, err)
	require.True(t, c.DatabaseURLSet)
	require.Equal(t, "postgres://db.internal/youworker", c.DatabaseURL)
	require.NoError(t, c.Validate())
}

func TestSignInSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.False(t, c.OIDC.Enabled())
	require.False(t, c.ProxyAuth.Enabled())

	c, err = Load(env(map[string]string{
		"YW_OIDC_ISSUER": "https://sso.example.com/realms/corp", "YW_OIDC_CLIENT_ID": "youworker",
		"YW_OIDC_CLIENT_SECRET": "oidc-client-secret-value", "YW_OIDC_SCOPES": "email profile,groups",
		"YW_OIDC_ALLOWED_DOMAINS": "corp.example, lab.example", "YW_OIDC_GROUPS_CLAIM": "groups",
		"YW_PUBLIC_URL":         "https://youworker.example.com/",
		"YW_PROXY_AUTH_TRUSTED": "10.0.0.5, 10.1.0.0/16", "YW_PROXY_AUTH_SECRET": "proxy-secret-value-1234",
	}))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, []string{"openid", "email", "profile", "groups"}, c.OIDC.Scopes, "openid is always asked for")
	require.Equal(t, "https://youworker.example.com", c.PublicURL)
	require.Equal(t, "SSO", c.OIDC.ProviderName)
	require.Equal(t, "10.0.0.5/32", c.ProxyAuth.Trusted[0].String())
	require.Equal(t, "X-Forwarded-User", c.ProxyAuth.UserHeader)
	s := c.String()
	for _, secret := range []string{"oidc-client-secret-value", "proxy-secret-value"} {
		require.NotContains(t, s, secret)
	}
	require.Contains(t, s, "https://sso.example.com/realms/corp")

	c, err = Load(env(map[string]string{
		"YW_OIDC_ISSUER": "http://sso.example.com", "YW_OIDC_GROUPS_CLAIM": "groups claim",
		"YW_OIDC_ALLOWED_DOMAINS": "@", "YW_PUBLIC_URL": "https://yw.example.com/app",
		"YW_PROXY_AUTH_TRUSTED": "10.0.0.5", "YW_PROXY_AUTH_SECRET": "short", "YW_PROXY_AUTH_USER_HEADER": "X Bad",
		"YW_PROXY_AUTH_SIGN_OUT_URL": "//evil.example/out",
	}))
	require.NoError(t, err)
	err = c.Validate()
	for _, name := range []string{"YW_OIDC_ISSUER", "YW_OIDC_CLIENT_ID", "YW_OIDC_GROUPS_CLAIM", "YW_OIDC_ALLOWED_DOMAINS",
		"YW_PUBLIC_URL", "YW_PROXY_AUTH_SECRET", "YW_PROXY_AUTH_USER_HEADER", "YW_PROXY_AUTH_SIGN_OUT_URL"} {
		require.ErrorContains(t, err, name)
	}

	// http:// issuers only on this machine; half a configuration is an error.
	c, err = Load(env(map[string]string{"YW_OIDC_ISSUER": "http://127.0.0.1:9000", "YW_OIDC_CLIENT_ID": "x"}))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	c, err = Load(env(map[string]string{"YW_OIDC_CLIENT_ID": "x", "YW_PROXY_AUTH_SECRET": "proxy-secret-value-1234"}))
	require.NoError(t, err)
	err = c.Validate()
	require.ErrorContains(t, err, "YW_OIDC_ISSUER")
	require.ErrorContains(t, err, "YW_PROXY_AUTH_TRUSTED")
	_, err = Load(env(map[string]string{"YW_PROXY_AUTH_TRUSTED": "10.0.0.0/99"}))
	require.ErrorContains(t, err, "YW_PROXY_AUTH_TRUSTED")
}

func TestWebSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.True(t, c.Fetch.URLIngest)
	require.Equal(t, c.MaxUploadBytes, c.Fetch.MaxBytes, "a fetched document may be as large as an upload")
	require.Empty(t, c.Fetch.AllowCIDRs, "nothing inside the building is fetched unless allowed")
	require.Empty(t, c.Web.SearXNGURL, "web_search is off unless configured")
	require.False(t, c.Web.FetchPage, "fetch_page is off unless configured")

	c, err = Load(env(map[string]string{"YW_FETCH_ALLOW_CIDRS": "10.1.0.0/16, 192.168.7.7", "YW_SEARXNG_URL": "http://searx.internal:8080",
		"YW_FETCH_PAGE": "true", "YW_FETCH_MAX_BYTES": "2048", "YW_URL_INGEST": "false"}))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Len(t, c.Fetch.AllowCIDRs, 2)
	require.True(t, c.Web.FetchPage)
	require.False(t, c.Fetch.URLIngest)
	require.Equal(t, int64(2048), c.Fetch.MaxBytes)

	_, err = Load(env(map[string]string{"YW_FETCH_ALLOW_CIDRS": "intranet"}))
	require.ErrorContains(t, err, "YW_FETCH_ALLOW_CIDRS")
	c, err = Load(env(map[string]string{"YW_SEARXNG_URL": "searx:8080", "YW_FETCH_TIMEOUT": "0s", "YW_WEB_SEARCH_RESULTS": "99"}))
	require.NoError(t, err)
	err = c.Validate()
	for _, name := range []string{"YW_SEARXNG_URL", "YW_FETCH_TIMEOUT", "YW_WEB_SEARCH_RESULTS"} {
		require.ErrorContains(t, err, name)
	}
}

func TestChatModelsAndOCRSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, []string{"llama3.1"}, c.AllowedChatModels(), "only the default unless more are allowed")
	require.Equal(t, "tesseract", c.Tesseract)
	require.Equal(t, "eng", c.OCRLanguages)
	require.Equal(t, 2, c.OCRConcurrency)
	require.Empty(t, c.VisionModel)

	c, err = Load(env(map[string]string{"YW_CHAT_MODEL": "qwen3:8b", "YW_CHAT_MODELS": "llama3.1, qwen3:8b ,mistral:7b,llama3.1",
		"YW_OLLAMA_URL": "http://ollama:11434", "YW_VISION_MODEL": "qwen2.5vl:7b", "YW_OCR_LANGUAGES": "eng+ita", "YW_TESSERACT": "off"}))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, []string{"qwen3:8b", "llama3.1", "mistral:7b"}, c.AllowedChatModels(), "the default first, each once")
	require.Contains(t, c.String(), "vision_model=qwen2.5vl:7b")

	c, err = Load(env(map[string]string{"YW_CHAT_MODELS": "llama 3", "YW_VISION_MODEL": "llava",
		"YW_OCR_LANGUAGES": "eng+-c rm", "YW_OCR_CONCURRENCY": "0"}))
	require.NoError(t, err)
	err = c.Validate()
	for _, name := range []string{"YW_CHAT_MODELS", "YW_VISION_MODEL", "YW_OCR_LANGUAGES", "YW_OCR_CONCURRENCY"} {
		require.ErrorContains(t, err, name)
	}
}

func TestSessionSecretMustKeyTheSealer(t *testing.T) {
	t.Parallel()
	for secret, ok := range map[string]bool{
		"c2Vzc2lvbi1zZWNyZXQtc2Vzc2lvbi1zZWNyZXQtMTIzNA==": true, // 34 bytes
		"c2hvcnQ=":                 false, // 5 bytes
		"change-me-session-secret": false, // not base64
	} {
		c, err := Load(env(map[string]string{"YW_SESSION_SECRET": secret}))
		require.NoError(t, err)
		if ok {
			require.NoError(t, c.Validate(), secret)
		} else {
			require.ErrorContains(t, c.Validate(), "YW_SESSION_SECRET", secret)
		}
	}
}
