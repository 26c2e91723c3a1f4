// Package retrievalbench measures how well and how fast POST /v1/search finds
// documents, end to end in one process: the corpus is uploaded over HTTP and
// ingested by the real worker into the embedded vector store on a fresh
// PostgreSQL database, then searched over loopback HTTP.
//
// Three query sets are scored per retriever mode (lexical, dense, hybrid) with an
// embedding model configured (the Ollama-protocol test server with a subword
// stand-in for a model, llmtest.SubwordVector), and once on the
// default configuration (no model), which the targets apply to:
//
//   - phrases: runs of 5–9 consecutive words read from a document by the
//     benchmark itself, not by the platform's parsers, and found in no other file;
//   - rare words: words that occur in one file only;
//   - questions: the hand-written questions of questions.json.
//
// BenchmarkRetrieval prints hit@1, hit@5, MRR@10 and nDCG@10 (document level,
// binary relevance), then the latency of ACL-filtered hybrid search on a store
// filled to 100k chunks, beside the floor of an authenticated GET /v1/me over the
// same loopback client. Its settings are test flags given after -args:
//
//	make bench-retrieval BENCH_RETRIEVAL_FLAGS='-skip-latency -v'
//	go test -run '^$' -bench '^BenchmarkRetrieval$' -benchtime 1x ./pkg/retrievalbench/ -args -skip-latency -v
//
// Everything here is in _test.go files: the package holds no production code.
package retrievalbench
