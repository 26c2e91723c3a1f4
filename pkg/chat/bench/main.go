// Command chat-bench measures the asynchronous chat path end to end, in one
// process on a fresh database: HTTP API → outbox → JetStream → agent worker →
// scripted Ollama-protocol model → turn events → SSE client. It prints
// time-to-first-token overhead, token relay latency, lost and duplicated tokens,
// the API memory per open stream, and the raw JetStream floor (publish → ordered
// consumer) measured in the same run under the same load shape, both alone and
// by a probe running alongside the turns. The relay is also split at the moment
// JetStream stored each event.
//
//	go run ./pkg/chat/bench -k 100   (or: make bench-chat)
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
