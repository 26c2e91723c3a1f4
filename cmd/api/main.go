// Command api serves the YouWorker HTTP API. With -dev it also runs every worker, an
// embedded NATS server and the embedded vector store in one process. Its subcommands
// manage the schema and users (migrate, users create|list, keys rotate) and serve
// the embedded vector store alone (vector-store).
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
