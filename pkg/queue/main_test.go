package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
)

func TestMain(m *testing.M) {
	// The client starts this goroutine for its first asynchronous publish; when the
	// connection closes while it is starting it can be left waiting on a nil channel
	// for good. It belongs to the client library and holds nothing of ours.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"))
}

// startRun runs queue.Run in the background and returns a stop function
// that cancels it and waits for it to return; stop also runs at cleanup,
// before the server's connection is closed.
func startRun(t *testing.T, srv *queuetest.Server, consumer string, h queue.Handler, opts queue.RunOptions) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- queue.Run(ctx, srv.JS, consumer, h, opts) }()
	var (
		stopped bool
		result  error
	)
	stop = func() error {
		if stopped {
			return result
		}
		stopped = true
		cancel()
		select {
		case result = <-done:
		case <-time.After(30 * time.Second):
			result = errors.New("run did not return within 30s of cancellation")
		}
		return result
	}
	t.Cleanup(func() { require.NoError(t, stop()) })
	return stop
}

// streamMsgs returns how many messages a stream holds.
func streamMsgs(t *testing.T, srv *queuetest.Server, name string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := srv.JS.Stream(ctx, name)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	return info.State.Msgs
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
