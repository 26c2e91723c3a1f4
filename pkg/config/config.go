// Package config reads the YW_* environment into one typed struct. Every problem is
// reported at once, and secrets never appear in String().
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/youworker/youworker/pkg/bm25"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/vector"
)

// Config is the environment of every program. Each program validates the parts it uses.
type Config struct {
	DatabaseURL  string
	NATSURL      string // empty in -dev: the embedded server is used
	NATSReplicas int    // stream replicas on a NATS cluster; 0 keeps the default of 1
	// NATS holds the program's NATS credentials and TLS files (see nats.go).
	NATS         NATS
	QdrantURL    string // empty: the embedded vector store
	QdrantAPIKey string
	OllamaURL    string
	ChatModel    string
	EmbedModel   string
	ChatBackend  string // "", "ollama" or "extractive"
	// ChatModels are the chat models users may choose besides ChatModel, which is
	// always allowed and the default; a message naming any other is refused.
	ChatModels []string

	// VisionModel is the Ollama model that reads images and scanned pages; empty
	// leaves them to Tesseract. Tesseract is the command run when no vision model
	// is set or it does not answer; "off" never runs it. OCRLanguages are
	// Tesseract's languages ("eng", "eng+ita"). OCRConcurrency bounds the pages
	// one ingest worker has read at once, across its documents.
	VisionModel    string
	Tesseract      string
	OCRLanguages   string
	OCRConcurrency int

	// DatabaseURLSet tells whether YW_DATABASE_URL was given; when it was not, -dev
	// runs a private PostgreSQL if none answers at DefaultDatabaseURL.
	DatabaseURLSet bool
	// PostgresRepositoryURL is the Maven repository (a company mirror, say) that
	// official PostgreSQL builds are fetched from when -dev needs a private server
	// and none is installed; empty: Maven Central.
	PostgresRepositoryURL string

	HTTPAddr  string
	DataDir   string
	LogLevel  slog.Level
	LogFormat string
	// OTelEndpoint is the OTLP/HTTP collector traces are sent to
	// (http://collector:4318); empty turns tracing off.
	OTelEndpoint string

	BootstrapAdminKey string
	// SessionSecret keys the web UI's sealed session cookies; replicas must share it.
	// Empty: a secret is generated once and kept under DataDir.
	SessionSecret  string
	CORSOrigins    []string
	TrustedProxies []*net.IPNet
	// IPAllowlist, when not empty, is the only client addresses (after the
	// trusted-proxy rule) the HTTP server answers; others get 403 before any key is
	// looked up. Health probes are exempt.
	IPAllowlist []*net.IPNet
	// GroupDirectAdd makes adding a member to a group take effect at once, as it
	// did before invitations; by default the user is invited and must accept.
	GroupDirectAdd  bool
	RateLimitRPS    float64
	RateLimitBurst  int
	MaxBodyBytes    int64
	MaxUploadBytes  int64
	ShutdownTimeout time.Duration

	// HTTP server limits against slow and hostile clients. HTTPReadTimeout bounds
	// reading one request's body (HTTPUploadReadTimeout an upload's); headers get
	// HTTPReadHeaderTimeout. HTTPWriteTimeout bounds each write to the client, not
	// the whole response, so event streams and large downloads live as long as the
	// client keeps reading.
	HTTPReadHeaderTimeout time.Duration
	HTTPReadTimeout       time.Duration
	HTTPUploadReadTimeout time.Duration
	HTTPWriteTimeout      time.Duration
	HTTPIdleTimeout       time.Duration
	HTTPMaxHeaderBytes    int

	// Per-user limits: turns queued or running at once, and open event streams
	// (counted per API process). AuthFailureRPS and AuthFailureBurst are the token
	// bucket of failed sign-ins per client address; once it is empty, attempts from
	// that address are refused before any key lookup.
	MaxTurnsPerUser   int
	MaxStreamsPerUser int
	// UserTurnsPerMinute and UserTokensPerMinute cap what one user asks of the
	// models per minute (0: no cap).
	UserTurnsPerMinute  int
	UserTokensPerMinute int
	// ModelParallel is how many turns may use one chat model at once across all
	// agent workers (the model server's parallelism); waiting turns are served
	// round-robin between users. 0 turns the queue off.
	// ModelRequestsPerMinute and ModelTokensPerMinute cap each model (0: no cap).
	ModelParallel          int
	ModelRequestsPerMinute int
	ModelTokensPerMinute   int
	AuthFailureRPS         float64
	AuthFailureBurst       int

	// Storage per user and uploads: QuotaBytes and QuotaDocuments are every user's
	// quota unless an admin sets their own (0: unlimited). UploadsPerUser bounds one
	// user's uploads in progress on one API process. UploadStoreBytes caps the
	// object store holding uploaded files, so uploads can never take the JetStream
	// storage that chat turn events and jobs need (0: no cap).
	QuotaBytes       int64
	QuotaDocuments   int64
	UploadsPerUser   int
	UploadStoreBytes int64

	DevNATSPort   int
	DevQdrantAddr string

	JobMaxDeliver  int
	JobConcurrency int
	// ChatConcurrency bounds the turns one agent worker runs at once; turns mostly
	// wait on the model, so it is much higher than the job concurrency.
	ChatConcurrency int
	// EmbedConcurrency bounds the embedding requests one worker has in flight,
	// across all the documents it processes. A few more than the embedder's own
	// parallelism (Ollama's OLLAMA_NUM_PARALLEL) keeps it busy without queueing
	// work there that a cancelled job could not take back.
	EmbedConcurrency int
	// ParseMemoryBytes bounds what a parser may hold while reading one document
	// (rows, nodes, shared strings, decoded streams); a document over it fails
	// with too_large.
	ParseMemoryBytes int64
	ChunkTokens      int
	ChunkOverlap     int
	AgentMaxSteps    int
	// ChatContextTokens is the most of a chat model's context window a turn
	// uses (and asks Ollama to allocate); a model whose own window is smaller
	// gets its own.
	ChatContextTokens int
	MCPServers        []string
	SystemPrompt      string

	// SearchFusion merges the dense and lexical retrievers of a hybrid search:
	// "rrf" (reciprocal rank fusion) or "dbsf" (distribution-based score fusion).
	SearchFusion string
	// SearchRRFK is the k of reciprocal rank fusion: larger flattens the
	// advantage of a retriever's first hits.
	SearchRRFK int
	// SearchDenseWeight weighs the dense retriever's ranks against the lexical
	// one's in RRF: below 1 trusts keywords more, above 1 the model more.
	SearchDenseWeight float64
	// SearchLanguage forces the language the lexical index analyses text in
	// ("en", "it", "de", "fr", "es"); empty detects it per chunk. BM25K1 and
	// BM25B are BM25's term-frequency saturation and length normalisation. The
	// three apply to collections built from now on: the first, and each re-embed's.
	SearchLanguage string
	BM25K1         float64
	BM25B          float64

	// Sign-in for people besides API keys (see identity.go). PublicURL is the
	// scheme and host browsers reach the web UI at; empty takes them from each
	// request. SSOGroupPrefix goes before the group names the identity provider
	// syncs, for OIDC and proxy sign-in alike.
	PublicURL      string
	OIDC           OIDC
	ProxyAuth      ProxyAuth
	SSOGroupPrefix string

	// Fetch and Web configure fetching from URLs and the agent's web tools (see web.go).
	Fetch Fetch
	Web   WebTools
}

// DefaultDatabaseURL is the database used when YW_DATABASE_URL is unset.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/youworker?sslmode=disable"

// Load reads the configuration from getenv, applying defaults. It returns every
// malformed value at once.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		DatabaseURL:       r.str("YW_DATABASE_URL", DefaultDatabaseURL),
		DatabaseURLSet:    strings.TrimSpace(getenv("YW_DATABASE_URL")) != "",
		NATSURL:           r.str("YW_NATS_URL", ""),
		NATSReplicas:      r.int("YW_NATS_REPLICAS", 0),
		QdrantURL:         r.str("YW_QDRANT_URL", ""),
		QdrantAPIKey:      r.str("YW_QDRANT_API_KEY", ""),
		OllamaURL:         r.str("YW_OLLAMA_URL", ""),
		ChatModel:         r.str("YW_CHAT_MODEL", "llama3.1"),
		EmbedModel:        r.str("YW_EMBED_MODEL", ""),
		ChatBackend:       r.str("YW_CHAT_BACKEND", ""),
		ChatModels:        r.list("YW_CHAT_MODELS"),
		VisionModel:       r.str("YW_VISION_MODEL", ""),
		Tesseract:         r.str("YW_TESSERACT", "tesseract"),
		OCRLanguages:      r.str("YW_OCR_LANGUAGES", "eng"),
		OCRConcurrency:    r.int("YW_OCR_CONCURRENCY", 2),
		HTTPAddr:          r.str("YW_HTTP_ADDR", "127.0.0.1:8080"),
		DataDir:           r.str("YW_DATA_DIR", ".youworker"),
		LogFormat:         r.str("YW_LOG_FORMAT", ""),
		OTelEndpoint:      r.str("YW_OTEL_ENDPOINT", ""),
		BootstrapAdminKey: r.str("YW_BOOTSTRAP_ADMIN_KEY", ""),
		SessionSecret:     r.str("YW_SESSION_SECRET", ""),
		CORSOrigins:       r.list("YW_CORS_ORIGINS"),
		RateLimitRPS:      r.float("YW_RATE_LIMIT_RPS", 20),
		RateLimitBurst:    r.int("YW_RATE_LIMIT_BURST", 60),
		MaxBodyBytes:      r.int64("YW_MAX_BODY_BYTES", 1<<20),
		MaxUploadBytes:    r.int64("YW_MAX_UPLOAD_BYTES", 100<<20),
		ShutdownTimeout:   r.duration("YW_SHUTDOWN_TIMEOUT", 8*time.Second),
		DevNATSPort:       r.int("YW_DEV_NATS_PORT", 14222),
		DevQdrantAddr:     r.str("YW_DEV_QDRANT_ADDR", "127.0.0.1:16334"),
		JobMaxDeliver:     r.int("YW_JOB_MAX_DELIVER", 5),
		JobConcurrency:    r.int("YW_JOB_CONCURRENCY", 4),
		ChatConcurrency:   r.int("YW_CHAT_CONCURRENCY", 128),
		EmbedConcurrency:  r.int("YW_EMBED_CONCURRENCY", 8),
		ParseMemoryBytes:  r.int64("YW_PARSE_MEMORY_BYTES", parse.DefaultLimits().MaxRetainedBytes),
		ChunkTokens:       r.int("YW_CHUNK_TOKENS", 500),
		ChunkOverlap:      r.int("YW_CHUNK_OVERLAP", 60),
		AgentMaxSteps:     r.int("YW_AGENT_MAX_STEPS", 8),
		ChatContextTokens: r.int("YW_CHAT_CONTEXT_TOKENS", 8192),
		MCPServers:        r.list("YW_MCP_SERVERS"),
		SystemPrompt:      r.str("YW_SYSTEM_PROMPT", ""),
		SearchFusion:      r.str("YW_SEARCH_FUSION", "rrf"),
		SearchRRFK:        r.int("YW_SEARCH_RRF_K", vector.DefaultRRFK),
		SearchDenseWeight: r.float("YW_SEARCH_DENSE_WEIGHT", 1),
		SearchLanguage:    r.str("YW_SEARCH_LANGUAGE", ""),
		BM25K1:            r.float("YW_BM25_K1", bm25.DefaultK1),
		BM25B:             r.float("YW_BM25_B", bm25.DefaultB),
	}
	c.HTTPReadHeaderTimeout = r.duration("YW_HTTP_READ_HEADER_TIMEOUT", 10*time.Second)
	c.HTTPReadTimeout = r.duration("YW_HTTP_READ_TIMEOUT", 30*time.Second)
	c.HTTPUploadReadTimeout = r.duration("YW_HTTP_UPLOAD_READ_TIMEOUT", 15*time.Minute)
	c.HTTPWriteTimeout = r.duration("YW_HTTP_WRITE_TIMEOUT", time.Minute)
	c.HTTPIdleTimeout = r.duration("YW_HTTP_IDLE_TIMEOUT", 2*time.Minute)
	c.HTTPMaxHeaderBytes = r.int("YW_HTTP_MAX_HEADER_BYTES", 64<<10)
	c.MaxTurnsPerUser = r.int("YW_MAX_TURNS_PER_USER", 4)
	c.MaxStreamsPerUser = r.int("YW_MAX_STREAMS_PER_USER", 16)
	c.UserTurnsPerMinute = r.int("YW_USER_TURNS_PER_MINUTE", 0)
	c.UserTokensPerMinute = r.int("YW_USER_TOKENS_PER_MINUTE", 0)
	c.ModelParallel = r.int("YW_MODEL_PARALLEL", 4)
	c.ModelRequestsPerMinute = r.int("YW_MODEL_REQUESTS_PER_MINUTE", 0)
	c.ModelTokensPerMinute = r.int("YW_MODEL_TOKENS_PER_MINUTE", 0)
	c.AuthFailureRPS = r.float("YW_AUTH_FAILURE_RPS", 0.5)
	c.AuthFailureBurst = r.int("YW_AUTH_FAILURE_BURST", 30)
	c.QuotaBytes = r.int64("YW_QUOTA_BYTES", 10<<30)
	c.QuotaDocuments = r.int64("YW_QUOTA_DOCUMENTS", 10_000)
	c.UploadsPerUser = r.int("YW_UPLOADS_PER_USER", 4)
	c.UploadStoreBytes = r.int64("YW_UPLOAD_STORE_BYTES", 20<<30)
	if lvl, err := logging.ParseLevel(getenv("YW_LOG_LEVEL")); err != nil {
		r.fail("YW_LOG_LEVEL", err)
	} else {
		c.LogLevel = lvl
	}
	c.TrustedProxies = r.cidrs("YW_TRUSTED_PROXIES")
	c.IPAllowlist = r.cidrs("YW_IP_ALLOWLIST")
	c.GroupDirectAdd = r.bool("YW_GROUP_DIRECT_ADD", false)
	c.PostgresRepositoryURL = r.str("YW_POSTGRES_REPOSITORY_URL", "")
	loadIdentity(&r, &c)
	loadWeb(&r, &c)
	loadNATS(&r, &c)
	return c, errors.Join(r.errs...)
}

// Validate checks the values every program relies on and returns every problem at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("YW_DATABASE_URL", "must be a postgres:// URL")
	}
	for name, v := range map[string]string{"YW_NATS_URL": c.NATSURL, "YW_QDRANT_URL": c.QdrantURL, "YW_OLLAMA_URL": c.OllamaURL} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || u.Host == "" {
			bad(name, "must be a URL with a host, like scheme://host:port")
		}
	}
	if c.OTelEndpoint != "" {
		if u, err := url.Parse(c.OTelEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("YW_OTEL_ENDPOINT", "must be an http:// or https:// URL of an OTLP/HTTP collector, like http://collector:4318")
		}
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("YW_HTTP_ADDR", "must be host:port")
	}
	if c.DataDir == "" {
		bad("YW_DATA_DIR", "must not be empty")
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		bad("YW_LOG_FORMAT", "must be text or json")
	}
	switch c.ChatBackend {
	case "", "ollama", "extractive":
	default:
		bad("YW_CHAT_BACKEND", "must be ollama or extractive")
	}
	for _, m := range c.ChatModels {
		if len(m) > 100 || strings.ContainsAny(m, " \t\r\n") {
			bad("YW_CHAT_MODELS", "%q is not a model name", m)
		}
	}
	if c.VisionModel != "" && c.OllamaURL == "" {
		bad("YW_VISION_MODEL", "needs YW_OLLAMA_URL, the server that runs it")
	}
	if c.OCRConcurrency < 1 || c.OCRConcurrency > 64 {
		bad("YW_OCR_CONCURRENCY", "must be between 1 and 64")
	}
	if !validOCRLanguages(c.OCRLanguages) {
		bad("YW_OCR_LANGUAGES", "must be Tesseract language codes joined by +, like eng or eng+ita")
	}
	if c.BootstrapAdminKey != "" && (len(c.BootstrapAdminKey) < 24 || strings.ContainsAny(c.BootstrapAdminKey, " \t\r\n")) {
		bad("YW_BOOTSTRAP_ADMIN_KEY", "must be at least 24 characters without spaces")
	}
	if c.SessionSecret != "" {
		// A secret that cannot key the sealer would leave each api replica on a
		// secret of its own, and cookies would fail on the others: refuse it.
		if secret, err := base64.StdEncoding.DecodeString(c.SessionSecret); err != nil || len(secret) < 32 {
			bad("YW_SESSION_SECRET", "must be base64 of at least 32 random bytes (openssl rand -base64 32), the same on every api replica")
		}
	}
	if c.RateLimitRPS <= 0 || c.RateLimitBurst < 1 {
		bad("YW_RATE_LIMIT_RPS", "rate and burst must be positive")
	}
	if c.MaxBodyBytes < 1024 {
		bad("YW_MAX_BODY_BYTES", "must be at least 1024")
	}
	if c.MaxUploadBytes < 1024 {
		bad("YW_MAX_UPLOAD_BYTES", "must be at least 1024")
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"YW_HTTP_READ_HEADER_TIMEOUT", c.HTTPReadHeaderTimeout}, {"YW_HTTP_READ_TIMEOUT", c.HTTPReadTimeout},
		{"YW_HTTP_UPLOAD_READ_TIMEOUT", c.HTTPUploadReadTimeout}, {"YW_HTTP_WRITE_TIMEOUT", c.HTTPWriteTimeout},
		{"YW_HTTP_IDLE_TIMEOUT", c.HTTPIdleTimeout}} {
		if t.d <= 0 {
			bad(t.name, "must be a positive duration")
		}
	}
	if c.HTTPMaxHeaderBytes < 4<<10 || c.HTTPMaxHeaderBytes > 1<<20 {
		bad("YW_HTTP_MAX_HEADER_BYTES", "must be between 4096 and 1048576")
	}
	if c.MaxTurnsPerUser < 1 || c.MaxTurnsPerUser > 1000 {
		bad("YW_MAX_TURNS_PER_USER", "must be between 1 and 1000")
	}
	for name, v := range map[string]int{"YW_USER_TURNS_PER_MINUTE": c.UserTurnsPerMinute, "YW_USER_TOKENS_PER_MINUTE": c.UserTokensPerMinute,
		"YW_MODEL_REQUESTS_PER_MINUTE": c.ModelRequestsPerMinute, "YW_MODEL_TOKENS_PER_MINUTE": c.ModelTokensPerMinute} {
		if v < 0 {
			bad(name, "must not be negative (0: no cap)")
		}
	}
	if c.ModelParallel < 0 || c.ModelParallel > 1024 {
		bad("YW_MODEL_PARALLEL", "must be between 0 (no queue) and 1024")
	}
	if c.MaxStreamsPerUser < 1 || c.MaxStreamsPerUser > 10000 {
		bad("YW_MAX_STREAMS_PER_USER", "must be between 1 and 10000")
	}
	if c.AuthFailureRPS <= 0 || c.AuthFailureBurst < 1 {
		bad("YW_AUTH_FAILURE_RPS", "rate and burst must be positive")
	}
	if c.QuotaBytes < 0 {
		bad("YW_QUOTA_BYTES", "must be 0 (unlimited) or a number of bytes")
	}
	if c.QuotaDocuments < 0 {
		bad("YW_QUOTA_DOCUMENTS", "must be 0 (unlimited) or a number of documents")
	}
	if c.UploadsPerUser < 1 || c.UploadsPerUser > 1000 {
		bad("YW_UPLOADS_PER_USER", "must be between 1 and 1000")
	}
	if c.UploadStoreBytes != 0 && c.UploadStoreBytes < max(c.MaxUploadBytes, 1<<20) {
		bad("YW_UPLOAD_STORE_BYTES", "must be 0 (no cap) or at least 1 MiB and YW_MAX_UPLOAD_BYTES")
	}
	if c.JobMaxDeliver < 1 || c.JobMaxDeliver > 100 {
		bad("YW_JOB_MAX_DELIVER", "must be between 1 and 100")
	}
	if c.JobConcurrency < 1 || c.JobConcurrency > 256 {
		bad("YW_JOB_CONCURRENCY", "must be between 1 and 256")
	}
	if c.ChatConcurrency < 1 || c.ChatConcurrency > 1024 {
		bad("YW_CHAT_CONCURRENCY", "must be between 1 and 1024")
	}
	if c.EmbedConcurrency < 1 || c.EmbedConcurrency > 256 {
		bad("YW_EMBED_CONCURRENCY", "must be between 1 and 256")
	}
	if c.ParseMemoryBytes < 1<<20 {
		bad("YW_PARSE_MEMORY_BYTES", "must be at least 1048576 (1 MiB)")
	}
	if c.ChunkTokens < 50 || c.ChunkTokens > 8000 {
		bad("YW_CHUNK_TOKENS", "must be between 50 and 8000")
	}
	if c.ChunkOverlap < 0 || c.ChunkOverlap >= c.ChunkTokens {
		bad("YW_CHUNK_OVERLAP", "must be at least 0 and below YW_CHUNK_TOKENS")
	}
	if c.AgentMaxSteps < 1 || c.AgentMaxSteps > 64 {
		bad("YW_AGENT_MAX_STEPS", "must be between 1 and 64")
	}
	if c.ChatContextTokens < 2048 || c.ChatContextTokens > 1<<20 {
		bad("YW_CHAT_CONTEXT_TOKENS", "must be between 2048 and 1048576")
	}
	switch c.SearchFusion {
	case "rrf", "dbsf":
	default:
		bad("YW_SEARCH_FUSION", "must be rrf or dbsf")
	}
	if c.SearchRRFK < 1 || c.SearchRRFK > 1000 {
		bad("YW_SEARCH_RRF_K", "must be between 1 and 1000")
	}
	if c.SearchDenseWeight <= 0 || c.SearchDenseWeight > 10 {
		bad("YW_SEARCH_DENSE_WEIGHT", "must be above 0 and at most 10")
	}
	if err := c.Lexical().Validate(); err != nil {
		bad("YW_SEARCH_LANGUAGE, YW_BM25_K1, YW_BM25_B", "%v", err)
	}
	for _, s := range c.MCPServers {
		if name, rest, ok := strings.Cut(s, "="); ok && !strings.Contains(name, "/") {
			s = rest // "name=URL" names the server
		}
		if u, err := url.Parse(s); err != nil || u.Host == "" {
			bad("YW_MCP_SERVERS", "%q is not a URL", redactURL(s))
		}
	}
	errs = append(errs, c.validateIdentity()...)
	errs = append(errs, c.validateWeb()...)
	errs = append(errs, c.validateNATS()...)
	return errors.Join(errs...)
}

// AllowedChatModels are the chat models users may choose: the default
// (ChatModel) first, then YW_CHAT_MODELS in their order, each once.
func (c Config) AllowedChatModels() []string {
	out := []string{c.ChatModel}
	for _, m := range c.ChatModels {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// validOCRLanguages reports whether s is Tesseract's -l argument: language
// codes (letters, digits, _ and -) joined by +. It goes on a command line.
func validOCRLanguages(s string) bool {
	for _, code := range strings.Split(s, "+") {
		if code == "" || len(code) > 32 || code[0] == '-' || code[0] == '_' || strings.IndexFunc(code, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		}) >= 0 {
			return false
		}
	}
	return true
}

// ParseLimits are the parsers' limits, with the configured memory budget.
func (c Config) ParseLimits() parse.Limits {
	l := parse.DefaultLimits()
	l.MaxRetainedBytes = c.ParseMemoryBytes
	return l
}

// Lexical is the configured analysis of the lexical index.
func (c Config) Lexical() bm25.Params {
	return bm25.Params{K1: c.BM25K1, B: c.BM25B, Language: c.SearchLanguage}.WithDefaults()
}

// String renders the configuration for logs, with secrets and URL passwords redacted.
func (c Config) String() string {
	secret := func(s string) string {
		if s == "" {
			return ""
		}
		return "[redacted]"
	}
	return fmt.Sprintf("database=%s nats=%s qdrant=%s qdrant_api_key=%s ollama=%s chat_model=%s chat_models=%s vision_model=%s embed_model=%s http=%s data_dir=%s bootstrap_admin_key=%s session_secret=%s otel=%s",
		redactURL(c.DatabaseURL), redactURL(c.NATSURL), redactURL(c.QdrantURL), secret(c.QdrantAPIKey),
		redactURL(c.OllamaURL), c.ChatModel, strings.Join(c.ChatModels, ","), c.VisionModel, c.EmbedModel, c.HTTPAddr, c.DataDir, secret(c.BootstrapAdminKey), secret(c.SessionSecret),
		redactURL(c.OTelEndpoint)) + c.natsString() + c.identityString() + c.webString()
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	return u.String()
}

// reader collects parse errors while reading variables.
type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name string, err error) {
	r.errs = append(r.errs, fmt.Errorf("%s: %w", name, err))
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) list(name string) []string {
	var out []string
	for _, p := range strings.Split(r.getenv(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// cidrs reads a comma-separated list of CIDRs; a bare address is a network of one.
func (r *reader) cidrs(name string) []*net.IPNet {
	var out []*net.IPNet
	for _, cidr := range r.list(name) {
		n, err := ParseCIDR(cidr)
		if err != nil {
			r.fail(name, err)
			continue
		}
		out = append(out, n)
	}
	return out
}

// ParseCIDR parses a network in CIDR notation, or a bare IPv4 or IPv6 address as
// the network of that one address.
func ParseCIDR(cidr string) (*net.IPNet, error) {
	if !strings.Contains(cidr, "/") {
		if strings.Contains(cidr, ":") {
			cidr += "/128"
		} else {
			cidr += "/32"
		}
	}
	_, n, err := net.ParseCIDR(cidr)
	return n, err
}

func (r *reader) bool(name string, def bool) bool {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, fmt.Errorf("%q is not true or false", v))
		return def
	}
	return b
}

func (r *reader) int(name string, def int) int {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(name, fmt.Errorf("%q is not a whole number", v))
		return def
	}
	return n
}

func (r *reader) int64(name string, def int64) int64 {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		r.fail(name, fmt.Errorf("%q is not a whole number", v))
		return def
	}
	return n
}

func (r *reader) float(name string, def float64) float64 {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		r.fail(name, fmt.Errorf("%q is not a number", v))
		return def
	}
	return f
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(name, fmt.Errorf("%q is not a duration like 10s", v))
		return def
	}
	return d
}
