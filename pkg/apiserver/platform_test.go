package apiserver_test

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/apiserver"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/pgtest"
)

// devConfig is `api -dev`'s configuration on a fresh database, answered by
// the model at modelURL.
func devConfig(t *testing.T, modelURL, chatModel string) config.Config {
	t.Helper()
	_, dbURL := pgtest.NewDB(t)
	env := map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": t.TempDir(),
		"YW_DEV_NATS_PORT": "0", "YW_DEV_QDRANT_ADDR": "127.0.0.1:0",
		"YW_OLLAMA_URL": modelURL, "YW_CHAT_MODEL": chatModel,
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	return cfg
}

// servePlatform opens the platform with opts, makes a user, and serves the API
// on l until the test ends. It returns the user's key.
func servePlatform(t *testing.T, cfg config.Config, logger *slog.Logger, opts app.Options, user string, l net.Listener) string {
	t.Helper()
	ctx := t.Context()
	a, err := app.Open(ctx, cfg, logger, opts)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	srv, err := apiserver.New(a)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	_, key, err := a.Services.Users.Create(ctx, access.System, user, false)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return a.Run(gctx, l, srv.Serve) })
	t.Cleanup(func() {
		cancel()
		require.NoError(t, g.Wait())
	})
	return key.Secret
}
