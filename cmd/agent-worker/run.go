package main

import (
	"context"
	"fmt"
	"io"

	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/worker"
)

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: agent-worker (configured by YW_* environment variables)")
		return 2
	}
	return worker.Main(ctx, app.AgentWorkerOptions, getenv, stdout, stderr)
}
