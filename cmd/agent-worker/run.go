package main

import (
	"context"
	"fmt"
	"io"

	"github.com/youworker/youworker/pkg/platform"
	"github.com/youworker/youworker/pkg/worker"
)

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: agent-worker (configured by YW_* environment variables)")
		return 2
	}
	return worker.Main(ctx, "agent-worker", getenv, stdout, stderr, func(ctx context.Context, p *platform.Platform) error {
		return p.RunChat(ctx)
	})
}
