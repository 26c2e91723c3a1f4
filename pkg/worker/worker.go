// Package worker is the shared main of the worker programs (ingest-worker,
// agent-worker, reindexer): it loads the configuration, opens the app with the
// program's options, serves its probes and /metrics and runs its consumers until a
// signal, then shuts down in order.
package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/logging"
)

// Main runs one worker program and returns its exit code.
func Main(ctx context.Context, opts app.Options, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(getenv)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "configuration error:\n%v\n", err)
		return 2
	}
	logger := logging.New(stderr, cfg.LogLevel, cfg.LogFormat).With("program", opts.Program)
	if err := run(ctx, cfg, logger, opts, stdout); err != nil {
		logger.Error(opts.Program+" failed", "error", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, cfg config.Config, logger *slog.Logger, opts app.Options, stdout io.Writer) error {
	a, err := app.Open(ctx, cfg, logger, opts)
	if err != nil {
		return err
	}
	defer a.Close()
	l, err := a.Listen()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s probes on http://%s\n", opts.Program, l.Addr())
	err = a.Run(ctx, l, nil)
	logger.Info("stopped")
	return err
}
