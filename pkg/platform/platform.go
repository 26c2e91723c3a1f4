// Package platform opens the infrastructure every program stands on — PostgreSQL,
// NATS JetStream, the vector store, the embedder — either embedded (the -dev mode and
// tests) or external, and closes it in order. What runs on top of it — services,
// the HTTP API, the consumers — is built in package app.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/natsperm"
	"github.com/youworker/youworker/pkg/postgres"
	"github.com/youworker/youworker/pkg/postgres/privatepg"
	"github.com/youworker/youworker/pkg/probe"
	"github.com/youworker/youworker/pkg/qdrantlite"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// Options say how a program wants its platform.
type Options struct {
	// Program names the process in NATS and logs.
	Program string
	// Dev embeds NATS and the vector store and migrates the database.
	Dev bool
	// MaxConns bounds the database pool.
	MaxConns int32
	// ConsumesOnly marks a worker: it waits for the API to declare the streams
	// (queue.AwaitSetup) instead of declaring them, which its NATS user may not.
	ConsumesOnly bool
	// NoUploads marks a program that never reads or writes uploaded files, and
	// whose NATS user may not: the upload store is not opened and Objects is nil.
	NoUploads bool
}

// Platform is the opened infrastructure.
type Platform struct {
	Config   config.Config
	Logger   *slog.Logger
	Registry *prometheus.Registry

	Pool  *pgxpool.Pool
	Store *store.Store

	NC           *nats.Conn
	JS           jetstream.JetStream
	QueueConfig  queue.Config
	QueueMetrics *queue.Metrics
	Publisher    *queue.Publisher
	Objects      *queue.Objects
	Turns        *queue.Turns

	Vectors *vector.Store
	// Index embeds with the embedder of the active collection, as recorded in
	// PostgreSQL, and follows re-embeds while the program runs.
	Index *index.Index
	// EmbedMetrics measures every embedding request of this process: queries,
	// ingestion and re-embeds.
	EmbedMetrics *embed.Metrics

	privatePG    *privatepg.Server
	embeddedNATS *queue.Embedded
	lite         *qdrantlite.Server
	stopWatch    context.CancelFunc
	watchDone    chan struct{}
}

// Open opens everything, closing what it opened when a later step fails.
func Open(ctx context.Context, cfg config.Config, logger *slog.Logger, opts Options) (*Platform, error) {
	p := &Platform{Config: cfg, Logger: logger, Registry: prometheus.NewRegistry()}
	p.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, step := range []func() error{
		func() error { return p.openDatabase(ctx, opts) },
		func() error { return p.openQueue(ctx, opts) },
		func() error { return p.openVectors(ctx, opts) },
	} {
		if err := step(); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

func (p *Platform) openDatabase(ctx context.Context, opts Options) error {
	if opts.Dev {
		url, err := p.devDatabaseURL(ctx)
		if err != nil {
			return err
		}
		// Whoever reads the configuration from here on reaches the same database.
		p.Config.DatabaseURL = url
		if err := postgres.EnsureDatabase(ctx, p.Config.DatabaseURL); err != nil {
			return err
		}
	}
	maxConns := opts.MaxConns
	if maxConns == 0 {
		maxConns = 20
	}
	pool, err := postgres.Open(ctx, p.Config.DatabaseURL, maxConns)
	if err != nil {
		return err
	}
	p.Pool = pool
	if err := p.Registry.Register(postgres.NewPoolCollector(pool)); err != nil {
		return fmt.Errorf("register database pool metrics: %w", err)
	}
	if opts.Dev {
		if _, _, err := postgres.Migrate(ctx, pool, p.Logger); err != nil {
			return err
		}
	}
	if err := postgres.CheckSchema(ctx, pool); err != nil {
		return err
	}
	p.Store = store.New(pool)
	return nil
}

func (p *Platform) openQueue(ctx context.Context, opts Options) error {
	natsURL := p.Config.NATSURL
	if natsURL == "" {
		if !opts.Dev {
			return errors.New("YW_NATS_URL is required (or run `api -dev` for the embedded server)")
		}
		e, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: filepath.Join(p.Config.DataDir, "nats"), Port: p.Config.DevNATSPort})
		if err != nil {
			return fmt.Errorf("start embedded NATS (YW_DEV_NATS_PORT=%d): %w", p.Config.DevNATSPort, err)
		}
		p.embeddedNATS = e
		natsURL = e.ClientURL()
		p.Logger.Info("embedded NATS JetStream started", "url", natsURL)
	}
	connect, err := p.connectOptions(opts.Program)
	if err != nil {
		return err
	}
	nc, js, err := queue.Connect(ctx, natsURL, "youworker-"+opts.Program, p.Logger, connect)
	if errors.Is(err, queue.ErrUnauthorized) {
		return fmt.Errorf("%w; check the credentials of the %s program: YW_NATS_USER and YW_NATS_PASSWORD, YW_NATS_CREDS or user:password in YW_NATS_URL", err, opts.Program)
	}
	if errors.Is(err, queue.ErrUntrustedServer) {
		return fmt.Errorf("%w; YW_NATS_CA must hold the CA that signed it, and the certificate must name the host of YW_NATS_URL", err)
	}
	if err != nil {
		return err
	}
	p.NC, p.JS = nc, js
	p.QueueConfig = queue.Config{MaxDeliver: p.Config.JobMaxDeliver}.WithDefaults()
	if p.embeddedNATS == nil && p.Config.NATSReplicas > 0 {
		p.QueueConfig.Replicas = p.Config.NATSReplicas
	}
	p.QueueConfig.UploadMaxBytes = p.Config.UploadStoreBytes
	if e := p.embeddedNATS; e != nil && e.MaxStore() > 0 && p.QueueConfig.UploadMaxBytes > e.MaxStore()/2 {
		// The embedded server may use only part of this disk; a cap it cannot reserve
		// would stop `api -dev` from starting, so it shrinks to half of what it may use.
		p.QueueConfig.UploadMaxBytes = e.MaxStore() / 2
		p.Logger.Warn("upload store cap lowered to fit the embedded NATS server's storage",
			"configured_bytes", p.Config.UploadStoreBytes, "cap_bytes", p.QueueConfig.UploadMaxBytes)
	}
	if err := p.QueueConfig.Validate(); err != nil {
		return err
	}
	if opts.ConsumesOnly {
		if err := queue.AwaitSetup(ctx, js, !opts.NoUploads, p.Logger); err != nil {
			return err
		}
	} else if err := queue.Setup(ctx, js, p.QueueConfig); err != nil {
		if errors.Is(nc.LastError(), nats.ErrPermissionViolation) {
			// The server drops a refused request, so Setup saw only a timeout.
			return fmt.Errorf("%w: NATS refused it (%v); only the api's NATS user may declare the streams", err, nc.LastError())
		}
		return err
	}
	if p.QueueMetrics, err = queue.NewMetrics(p.Registry); err != nil {
		return err
	}
	if err := p.Registry.Register(queue.NewDepthCollector(js, p.Logger.With("component", "queue-depth"))); err != nil {
		return fmt.Errorf("register queue depth metrics: %w", err)
	}
	p.Publisher = queue.NewPublisher(js, p.QueueMetrics)
	if !opts.NoUploads {
		if p.Objects, err = queue.NewObjects(ctx, js); err != nil {
			return err
		}
	}
	p.Turns = queue.NewTurns(js, p.QueueMetrics, p.Logger)
	return nil
}

// connectOptions are the NATS credentials and TLS of the configuration, and the
// program's own inbox prefix, the only replies its NATS user may receive.
func (p *Platform) connectOptions(program string) (queue.ConnectOptions, error) {
	n := p.Config.NATS
	tlsConfig, err := n.TLSConfig()
	if err != nil {
		return queue.ConnectOptions{}, err
	}
	return queue.ConnectOptions{User: n.User, Password: n.Password, CredsFile: n.CredsFile, TLS: tlsConfig,
		InboxPrefix: natsperm.InboxPrefix(program)}, nil
}

// errNoVectorStore says what to set when a program outside -dev has no vector
// store: starting a private one would split the index between programs that each
// believe theirs is the only one.
var errNoVectorStore = errors.New("YW_QDRANT_URL is required: point it at Qdrant, or at `api vector-store` " +
	"(the embedded store as a process of its own, for several programs on one host); `api -dev` embeds one")

func (p *Platform) openVectors(ctx context.Context, opts Options) error {
	var err error
	if p.EmbedMetrics, err = embed.NewMetrics(p.Registry); err != nil {
		return err
	}
	vcfg := vector.Config{URL: p.Config.QdrantURL, APIKey: p.Config.QdrantAPIKey}
	if vcfg.URL == "" && !opts.Dev {
		return errNoVectorStore
	}
	if vcfg.URL == "" {
		lite, err := qdrantlite.Start(ctx, qdrantlite.Config{Dir: filepath.Join(p.Config.DataDir, "vectors"), Addr: p.Config.DevQdrantAddr}, p.Logger)
		if err != nil {
			return fmt.Errorf("start embedded vector store (YW_DEV_QDRANT_ADDR=%s): %w", p.Config.DevQdrantAddr, err)
		}
		p.lite = lite
		vcfg.URL = "http://" + lite.Addr()
		p.Logger.Info("embedded vector store started", "addr", lite.Addr())
	}
	vs, err := vector.New(ctx, vcfg, p.Logger)
	if err != nil {
		return err
	}
	p.Vectors = vs
	// The configured model decides only the first collection (falling back to the
	// lexical embedder when Ollama does not answer, as a fresh install must serve)
	// and what a re-embed without embed_model builds. From then on the recorded
	// state decides, so a worker starting while Ollama is down waits for it instead
	// of writing lexical vectors into an Ollama collection.
	ollama := embed.OllamaConfig{URL: p.Config.OllamaURL}
	configured := embed.Spec{Provider: embed.ProviderLexical}
	if p.Config.OllamaURL != "" && p.Config.EmbedModel != "" {
		configured = embed.Spec{Provider: embed.ProviderOllama, Model: p.Config.EmbedModel}
	}
	p.Index, err = index.OpenActive(ctx, vs, index.Config{
		States:     p.Store,
		Ollama:     ollama,
		Configured: configured,
		Initial: func(ctx context.Context) (embed.Embedder, error) {
			return embed.Select(ctx, embed.Config{Ollama: embed.OllamaConfig{URL: p.Config.OllamaURL, Model: p.Config.EmbedModel}}, p.Logger)
		},
		Lexical:      p.Config.Lexical(),
		Fusion:       vector.Fusion(p.Config.SearchFusion),
		RRFK:         p.Config.SearchRRFK,
		DenseWeight:  float32(p.Config.SearchDenseWeight),
		EmbedMetrics: p.EmbedMetrics,
	}, p.Logger)
	if err != nil {
		return err
	}
	watchCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stopWatch, p.watchDone = stop, make(chan struct{})
	go func() {
		defer close(p.watchDone)
		p.Index.Watch(watchCtx)
	}()
	return nil
}

// Checks are the readiness probes of the platform, by the names /readyz reports:
// only what a process needs to serve its own traffic. The chat model, the embedder
// and MCP servers are not among them: while they are down answers degrade (search
// by keywords only, fewer tools, no model replies) but uploads, search and the
// rest still work, so replicas stay in service and StatusProbes reports them.
func (p *Platform) Checks() map[string]probe.Check {
	return map[string]probe.Check{
		"postgres": p.Store.Ping,
		"nats":     func(ctx context.Context) error { return queue.Health(ctx, p.JS) },
		"vectors":  p.Vectors.Health,
	}
}

// Close releases everything in reverse order of opening.
func (p *Platform) Close() {
	if p.stopWatch != nil {
		p.stopWatch()
		<-p.watchDone
	}
	if p.Index != nil {
		p.Index.Close()
	}
	if p.Vectors != nil {
		_ = p.Vectors.Close()
	}
	if p.lite != nil {
		_ = p.lite.Close()
	}
	if p.NC != nil {
		// Consumers have drained by now; flush what publishers buffered, then close.
		_ = p.NC.FlushTimeout(2 * time.Second)
		p.NC.Close()
	}
	if p.embeddedNATS != nil {
		p.embeddedNATS.Shutdown()
	}
	if p.Pool != nil {
		p.Pool.Close()
	}
	if p.privatePG != nil {
		// After the pool, so the server's fast shutdown ends no session still in use.
		if err := p.privatePG.Close(); err != nil {
			p.Logger.Warn("private PostgreSQL did not stop cleanly", "error", err)
		} else {
			p.Logger.Info("private PostgreSQL stopped", "dir", p.privatePG.Dir())
		}
	}
}
