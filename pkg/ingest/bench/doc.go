// Package bench measures document ingestion end to end — HTTP upload, object store,
// JetStream, the ingest worker, the vector store and Postgres, all in one process —
// and prints a table. Run it with `make bench-ingest`; it holds no production code.
package bench
