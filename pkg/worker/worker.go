// Package worker is the shared main of the worker programs: it loads the
// configuration, opens the platform, serves health probes and runs the program's
// consumers until a signal, then shuts down in order.
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/api"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/platform"
)

// Consume runs a program's consumers on the opened platform until ctx ends.
type Consume func(ctx context.Context, p *platform.Platform) error

// Main runs one worker program and returns its exit code.
func Main(ctx context.Context, program string, getenv func(string) string, stdout, stderr io.Writer, consume Consume) int {
	cfg, err := config.Load(getenv)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "configuration error:\n%v\n", err)
		return 2
	}
	logger := logging.New(stderr, cfg.LogLevel, cfg.LogFormat).With("program", program)
	if err := run(ctx, program, cfg, logger, consume, stdout); err != nil {
		logger.Error(program+" failed", "error", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, program string, cfg config.Config, logger *slog.Logger, consume Consume, stdout io.Writer) error {
	logger.Info("starting", "config", cfg.String())
	p, err := platform.Open(ctx, cfg, logger, platform.Options{Program: program})
	if err != nil {
		return err
	}
	defer p.Close()
	checks := map[string]api.Check{}
	for name, c := range p.Checks() {
		checks[name] = c
	}
	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	fmt.Fprintf(stdout, "%s probes on http://%s\n", program, l.Addr())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return api.ServeProbes(gctx, l, checks, p.Registry, logger) })
	g.Go(func() error { return consume(gctx, p) })
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
