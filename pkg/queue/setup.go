package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/youworker/youworker/pkg/job"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultReplicas        = 1
	DefaultMaxDeliver      = 5
	DefaultAckWait         = 30 * time.Second
	DefaultMaxAckPending   = 256
	DefaultDuplicateWindow = 10 * time.Minute
	DefaultTurnMaxAge      = 48 * time.Hour
	DefaultDLQMaxAge       = 30 * 24 * time.Hour
)

// Config sizes the JetStream resources declared by Setup. Every program that
// calls Setup must use the same Config, or the last one to start wins.
type Config struct {
	// Replicas of every stream and consumer: 1 for the embedded server, 3 in
	// a production cluster.
	Replicas int
	// MaxDeliver is how many times a job is delivered before it is
	// dead-lettered.
	MaxDeliver int
	// AckWait is how long a delivered job may go without an ack or a
	// heartbeat before the server redelivers it.
	AckWait time.Duration
	// MaxAckPending bounds the jobs in flight per consumer across all
	// replicas, so a burst cannot starve a worker's memory.
	MaxAckPending int
	// DuplicateWindow is how long the jobs stream remembers message ids to
	// drop duplicate publishes.
	DuplicateWindow time.Duration
	// TurnMaxAge is how long turn events stay replayable. The API promises at
	// least 24 hours.
	TurnMaxAge time.Duration
	// DLQMaxAge is how long dead-lettered jobs are kept for inspection.
	DLQMaxAge time.Duration
	// UploadMaxBytes caps the uploads object store; 0 leaves it unbounded.
	// Uploads share JetStream's file storage with turn events and jobs, so
	// without a cap one user's uploads could fill it and stop chat for
	// everyone. A full store refuses new objects (Put returns ErrStoreFull)
	// and keeps every object it holds.
	UploadMaxBytes int64
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.TurnMaxAge == 0 {
		c.TurnMaxAge = DefaultTurnMaxAge
	}
	if c.DLQMaxAge == 0 {
		c.DLQMaxAge = DefaultDLQMaxAge
	}
	return c
}

// Validate reports every invalid field at once. Call it on the result of
// WithDefaults.
func (c Config) Validate() error {
	var errs []error
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("queue: replicas must be between 1 and 5, got %d", c.Replicas))
	}
	if c.MaxDeliver < 1 {
		errs = append(errs, fmt.Errorf("queue: max deliver must be at least 1, got %d", c.MaxDeliver))
	}
	if c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("queue: ack wait must be at least 1s, got %s", c.AckWait))
	}
	if c.MaxAckPending < 1 {
		errs = append(errs, fmt.Errorf("queue: max ack pending must be at least 1, got %d", c.MaxAckPending))
	}
	if c.DuplicateWindow < time.Second {
		errs = append(errs, fmt.Errorf("queue: duplicate window must be at least 1s, got %s", c.DuplicateWindow))
	}
	if c.TurnMaxAge < 24*time.Hour {
		errs = append(errs, fmt.Errorf("queue: turn max age must be at least 24h (events stay replayable that long), got %s", c.TurnMaxAge))
	}
	if c.DLQMaxAge < time.Hour {
		errs = append(errs, fmt.Errorf("queue: dead-letter max age must be at least 1h, got %s", c.DLQMaxAge))
	}
	if c.UploadMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("queue: upload store max bytes must be 0 (unbounded) or positive, got %d", c.UploadMaxBytes))
	}
	return errors.Join(errs...)
}

// consumers are the durable consumers Setup declares.
var consumers = []string{ConsumerIngest, ConsumerChat, ConsumerReindex}

// ConsumerSubjects returns the job subjects a durable consumer takes, or nil
// for an unknown consumer.
func ConsumerSubjects(consumer string) []string {
	switch consumer {
	case ConsumerIngest:
		return []string{job.SubjectIngest, job.SubjectDelete}
	case ConsumerChat:
		return []string{job.SubjectChat}
	case ConsumerReindex:
		return []string{job.SubjectReindex, job.SubjectACL}
	}
	return nil
}

// Setup declares every stream, consumer and bucket the programs use. It is
// idempotent (create or update): the API calls it at start, so a rolling
// upgrade converges on the newest configuration; workers wait for it
// (AwaitSetup).
func Setup(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	streams := []jetstream.StreamConfig{
		{
			Name:        StreamJobs,
			Description: "YouWorker jobs; a message is removed once acknowledged",
			Subjects:    []string{SubjectJobsAll},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.DuplicateWindow,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        StreamTurns,
			Description: "YouWorker chat turn events, one subject per turn",
			Subjects:    []string{SubjectTurnsAll},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			MaxAge:      cfg.TurnMaxAge,
			// Only terminal events carry a message id (one per turn, see
			// TerminalMsgID): a turn's end published twice is stored once.
			Duplicates: cfg.DuplicateWindow,
			Discard:    jetstream.DiscardOld,
		},
		{
			Name:        StreamDLQ,
			Description: "YouWorker dead-lettered jobs",
			Subjects:    []string{SubjectDLQAll},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			MaxAge:      cfg.DLQMaxAge,
			Duplicates:  cfg.DuplicateWindow,
			Discard:     jetstream.DiscardOld,
		},
	}
	for _, sc := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("declare stream %s: %w", sc.Name, err)
		}
	}
	for _, name := range consumers {
		cc := jetstream.ConsumerConfig{
			Durable:        name,
			Description:    "YouWorker " + name + " workers",
			FilterSubjects: ConsumerSubjects(name),
			AckPolicy:      jetstream.AckExplicitPolicy,
			AckWait:        cfg.AckWait,
			MaxDeliver:     cfg.MaxDeliver,
			MaxAckPending:  cfg.MaxAckPending,
			DeliverPolicy:  jetstream.DeliverAllPolicy,
			Replicas:       cfg.Replicas,
		}
		if _, err := js.CreateOrUpdateConsumer(ctx, StreamJobs, cc); err != nil {
			return fmt.Errorf("declare consumer %s: %w", name, err)
		}
	}
	// An object store discards new messages when full, never old ones, so
	// lowering the cap below what is stored keeps every stored file.
	if _, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      BucketUploads,
		Description: "YouWorker uploaded files",
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxBytes:    cfg.UploadMaxBytes,
	}); err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeStorageExceeded {
			return fmt.Errorf("declare object store %s: the upload store cap of %d bytes is more than this NATS server may store; lower YW_UPLOAD_STORE_BYTES or give JetStream more storage: %w",
				BucketUploads, cfg.UploadMaxBytes, err)
		}
		return fmt.Errorf("declare object store %s: %w", BucketUploads, err)
	}
	return nil
}

// awaitSetupFor bounds how long AwaitSetup waits for the declaring program,
// as long as Connect waits for the server.
const awaitSetupFor = time.Minute

// AwaitSetup waits until Setup has run — the jobs stream with every durable
// consumer and, with uploads, the upload bucket — polling with backoff until ctx
// ends or a minute has passed. Workers call it instead of Setup: where NATS
// runs with a user per program (package natsperm), only the API may declare or
// change streams, so a worker taken over cannot reconfigure the queue (shorten
// the turn log's age, drop the duplicate window) under everyone else.
func AwaitSetup(ctx context.Context, js jetstream.JetStream, uploads bool, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	b.MaxElapsedTime = awaitSetupFor
	err := backoff.RetryNotify(func() error {
		return declared(ctx, js, uploads)
	}, backoff.WithContext(b, ctx), func(err error, next time.Duration) {
		logger.Info("waiting for the API to declare the queue", "error", err, "retry_in", next)
	})
	if err != nil {
		return fmt.Errorf("the queue is not declared: %w; the API declares the streams, consumers and upload bucket at start, so start it first", err)
	}
	return nil
}

// declared reports the first resource of Setup that is missing.
func declared(ctx context.Context, js jetstream.JetStream, uploads bool) error {
	stream, err := js.Stream(ctx, StreamJobs)
	if err != nil {
		return fmt.Errorf("stream %s: %w", StreamJobs, err)
	}
	for _, name := range consumers {
		if _, err := stream.Consumer(ctx, name); err != nil {
			return fmt.Errorf("consumer %s: %w", name, err)
		}
	}
	if uploads {
		if _, err := js.Stream(ctx, objectStream); err != nil {
			return fmt.Errorf("object store %s: %w", BucketUploads, err)
		}
	}
	return nil
}
