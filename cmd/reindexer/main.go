// Command reindexer runs the operator re-index jobs and the per-document ACL syncs,
// and is the operator's CLI to start and follow re-index jobs: trigger, status, cancel.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
