package queuetest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStart(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t, queuetest.WithConfig(func(c *queue.Config) { c.MaxDeliver = 2 }))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, queue.Health(ctx, srv.JS))
	require.Equal(t, 2, srv.Config.MaxDeliver)

	c, err := srv.JS.Consumer(ctx, queue.StreamJobs, queue.ConsumerChat)
	require.NoError(t, err)
	require.Equal(t, 2, c.CachedInfo().Config.MaxDeliver, "the options reach queue.Setup")

	_, js := srv.Connect(t)
	_, err = js.Stream(ctx, queue.StreamTurns)
	require.NoError(t, err)
}
