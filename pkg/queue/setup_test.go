package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, queue.Config{}.WithDefaults().Validate())

	err := queue.Config{Replicas: 7, MaxDeliver: -1, AckWait: time.Millisecond, TurnMaxAge: time.Hour}.WithDefaults().Validate()
	require.Error(t, err)
	for _, field := range []string{"replicas", "max deliver", "ack wait", "turn max age"} {
		require.Contains(t, err.Error(), field, "every problem is reported at once")
	}
}

func TestSetupIsIdempotentAndDeclaresEverything(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t, queuetest.WithConfig(func(c *queue.Config) { c.MaxDeliver = 7 }))
	ctx := testCtx(t)

	// Every program calls Setup at start; a second call must succeed and
	// apply a changed configuration.
	cfg := srv.Config
	cfg.AckWait = 45 * time.Second
	require.NoError(t, queue.Setup(ctx, srv.JS, cfg))

	jobs, err := srv.JS.Stream(ctx, queue.StreamJobs)
	require.NoError(t, err)
	require.Equal(t, jetstream.WorkQueuePolicy, jobs.CachedInfo().Config.Retention)
	require.Equal(t, queue.DefaultDuplicateWindow, jobs.CachedInfo().Config.Duplicates)

	turns, err := srv.JS.Stream(ctx, queue.StreamTurns)
	require.NoError(t, err)
	require.Equal(t, queue.DefaultTurnMaxAge, turns.CachedInfo().Config.MaxAge)

	_, err = srv.JS.Stream(ctx, queue.StreamDLQ)
	require.NoError(t, err)
	_, err = srv.JS.ObjectStore(ctx, queue.BucketUploads)
	require.NoError(t, err)

	consumerOf := map[string]string{}
	for _, name := range []string{queue.ConsumerIngest, queue.ConsumerChat, queue.ConsumerReindex} {
		for _, subject := range queue.ConsumerSubjects(name) {
			consumerOf[subject] = name
		}
	}
	for _, subject := range []string{job.SubjectIngest, job.SubjectDelete, job.SubjectChat, job.SubjectReindex, job.SubjectACL} {
		name, ok := consumerOf[subject]
		require.True(t, ok, "no consumer receives %s", subject)
		c, err := srv.JS.Consumer(ctx, queue.StreamJobs, name)
		require.NoError(t, err)
		cc := c.CachedInfo().Config
		require.Contains(t, cc.FilterSubjects, subject)
		require.Equal(t, jetstream.AckExplicitPolicy, cc.AckPolicy)
		require.Equal(t, 7, cc.MaxDeliver)
		require.Equal(t, 45*time.Second, cc.AckWait)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	require.NoError(t, queue.Health(ctx, srv.JS))

	_, js := srv.Connect(t)
	require.NoError(t, js.DeleteStream(ctx, queue.StreamJobs))
	require.Error(t, queue.Health(ctx, srv.JS), "a server without our streams is not ready")
}

func TestConnectAndEmbedded(t *testing.T) {
	t.Parallel()
	_, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir(), Host: "0.0.0.0"})
	require.Error(t, err, "the embedded server has no auth and must not leave loopback")
	_, err = queue.StartEmbedded(queue.EmbeddedConfig{})
	require.Error(t, err)

	e, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(e.Shutdown)
	require.Contains(t, e.ClientURL(), "127.0.0.1:")

	ctx := testCtx(t)
	nc, js, err := queue.Connect(ctx, e.ClientURL(), "test", nil, queue.ConnectOptions{})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	require.NoError(t, queue.Setup(ctx, js, queue.Config{}))
	require.NoError(t, queue.Health(ctx, js))

	// A server that never comes up fails the start once ctx ends.
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, _, err = queue.Connect(short, "nats://127.0.0.1:1", "test", nil, queue.ConnectOptions{})
	require.Error(t, err)
}

func TestSetupNamesAnUploadCapTheServerCannotHold(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	ctx := testCtx(t)
	cfg := srv.Config
	cfg.UploadMaxBytes = 1 << 60
	err := queue.Setup(ctx, srv.JS, cfg)
	require.ErrorContains(t, err, "YW_UPLOAD_STORE_BYTES", "the operator learns which setting to change")
}

// TestAwaitSetupWaitsForTheDeclaringProgram: a worker started before the API
// waits for the queue to be declared, and one whose API never comes says to
// start it.
func TestAwaitSetupWaitsForTheDeclaringProgram(t *testing.T) {
	t.Parallel()
	e, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(e.Shutdown)
	ctx := testCtx(t)
	nc, js, err := queue.Connect(ctx, e.ClientURL(), "worker", nil, queue.ConnectOptions{})
	require.NoError(t, err)
	t.Cleanup(nc.Close)

	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	require.ErrorContains(t, queue.AwaitSetup(short, js, true, nil), "start it first")

	// The worker is waiting when the API declares the queue.
	waited := make(chan error, 1)
	go func() { waited <- queue.AwaitSetup(ctx, js, true, nil) }()
	require.NoError(t, queue.Setup(ctx, js, queue.Config{}))
	require.NoError(t, <-waited)
}
