// Command retrieval-bench measures how well and how fast POST /v1/search finds
// documents, end to end in one process: the corpus is uploaded over HTTP and
// ingested by the real worker into the embedded vector store on a fresh
// PostgreSQL database, then searched over loopback HTTP.
//
// Three query sets are scored per retriever mode (lexical, dense, hybrid) with an
// embedding model configured (the Ollama-protocol test server), and once on the
// default configuration (no model), which the targets apply to:
//
//   - phrases: runs of 5–9 consecutive words read from a document by this
//     program itself, not by the platform's parsers, and found in no other file;
//   - rare words: words that occur in one file only;
//   - questions: the hand-written questions of questions.json.
//
// It prints hit@1, hit@5, MRR@10 and nDCG@10 (document level, binary relevance),
// then the latency of ACL-filtered hybrid search on a store filled to 100k chunks,
// beside the floor of an authenticated GET /v1/me over the same loopback client.
//
//	go run ./pkg/retrievalbench -skip-latency -v   (or: make bench-retrieval)
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
