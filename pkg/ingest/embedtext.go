package ingest

import "github.com/youworker/youworker/pkg/store"

// EmbedText is the text the embedder sees for a chunk. Re-index jobs rebuild vectors
// from Postgres with it, so a re-embedded point equals the one ingestion wrote.
func EmbedText(c store.Chunk) string { return embedText(c) }
