package ingest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/ollamahttp"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/store"
)

// ollamaEmbedder is the production Ollama embedder on a scripted server, without
// its own retries so failures reach the queue.
func ollamaEmbedder(t *testing.T, llm *llmtest.Server) *embed.Ollama {
	t.Helper()
	emb, err := embed.NewOllama(embed.OllamaConfig{URL: llm.URL, Model: llmtest.EmbedModel, Settings: ollamahttp.Settings{MaxRetries: -1}}, logging.Discard())
	require.NoError(t, err)
	t.Cleanup(func() { _ = emb.Close() })
	require.NoError(t, emb.Probe(context.Background()))
	return emb
}

// A worker killed in the middle of a large document loses nothing and duplicates
// nothing: the job comes back to the next worker, which finishes the document with
// exactly one point per chunk.
func TestWorkerKilledMidDocumentIsResumedByTheNext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	llm := llmtest.New(t)
	llm.SetEmbedDelay(40 * time.Millisecond)
	r := newRig(t, ollamaEmbedder(t, llm))
	doc := r.upload("big.txt", largeText(3<<20))

	first := r.start(queue.RunOptions{Concurrency: 1, DrainTimeout: 10 * time.Millisecond})
	mid := r.wait(doc.ID, 60*time.Second, func(d store.Document) bool { return d.Progress.ChunksDone > 0 })
	require.NoError(t, first.stop())

	cut, err := r.store.GetDocument(ctx, doc.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusProcessing, cut.Status, "the kill must land mid-document for this test to mean anything")
	require.Less(t, cut.Progress.ChunksDone, cut.Progress.ChunksTotal)
	total := mid.Progress.ChunksTotal
	require.Greater(t, total, 500, "a document of hundreds of chunks")
	partial, err := r.index.CountDocument(ctx, doc.ID)
	require.NoError(t, err)
	require.Positive(t, partial)
	require.Less(t, partial, uint64(total))
	embeddedBefore := len(llm.EmbedInputs())

	second := r.start(queue.RunOptions{Concurrency: 1})
	done := r.wait(doc.ID, 90*time.Second, finished)
	require.NoError(t, second.stop())
	r.requireIndexed(done)
	require.Equal(t, total, done.ChunkCount)
	require.Equal(t, done.ChunkCount, done.Progress.ChunksDone)
	require.Greater(t, len(llm.EmbedInputs()), embeddedBefore, "the second worker did the work")

	// The document is searchable as a whole.
	found, err := r.index.Retrieve(ctx, index.Query{Text: "Sentence 3 of paragraph 40 mentions", Mode: index.Dense, Limit: 3})
	require.NoError(t, err)
	require.NotEmpty(t, found.Hits)
	require.Equal(t, doc.ID, found.Hits[0].Payload.DocumentID)
}

// A job nobody can decode, and a document no parser can read, are set aside at once
// with a reason, and the jobs behind them are handled as usual.
func TestPoisonJobsDoNotBlockTheQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, nil)

	pub := queue.NewPublisher(r.queue.JS, nil)
	require.NoError(t, pub.Publish(ctx, job.SubjectIngest, "poison-1", []byte("not json at all"), nil))
	require.NoError(t, pub.Publish(ctx, job.SubjectDelete, "poison-2", []byte(`{"document_id": 42}`), nil))
	brokenPDF := append([]byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"), largeText(4000)...)
	broken := r.upload("broken.pdf", brokenPDF)
	docx := r.upload("damaged.docx", docxWithBadChecksum(t))
	good := r.upload("good.txt", []byte("A perfectly ordinary document about lighthouses."))

	run := r.start(queue.RunOptions{Concurrency: 1})
	got := r.wait(good.ID, 30*time.Second, finished)
	r.requireIndexed(got)

	failed := r.wait(broken.ID, 30*time.Second, finished)
	require.Equal(t, store.StatusFailed, failed.Status)
	require.Equal(t, "corrupt", failed.Error.Code)
	require.NotEmpty(t, failed.Error.Message)
	failed = r.wait(docx.ID, 30*time.Second, finished)
	require.Equal(t, store.StatusFailed, failed.Status)
	require.Equal(t, "corrupt", failed.Error.Code)
	require.Contains(t, failed.Error.Message, "checksum")

	// Both undecodable jobs are in the dead-letter stream with their reason.
	dlq, err := r.queue.JS.Stream(ctx, queue.StreamDLQ)
	require.NoError(t, err)
	for _, subject := range []string{job.SubjectIngest, job.SubjectDelete} {
		require.Eventually(t, func() bool {
			_, err := dlq.GetLastMsgForSubject(ctx, queue.SubjectDLQPrefix+subject)
			return err == nil
		}, 10*time.Second, 20*time.Millisecond, "no dead letter for %s", subject)
		msg, err := dlq.GetLastMsgForSubject(ctx, queue.SubjectDLQPrefix+subject)
		require.NoError(t, err)
		require.Contains(t, msg.Header.Get(queue.HeaderDLQReason), "decode job")
	}

	// Nothing is left pending for the consumer.
	require.NoError(t, run.stop())
	cons, err := r.queue.JS.Consumer(ctx, queue.StreamJobs, queue.ConsumerIngest)
	require.NoError(t, err)
	info, err := cons.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.NumPending)
	require.Zero(t, info.NumAckPending)
}

// With the embedder down, a document is retried up to the delivery limit, then
// ends failed with worker_gave_up instead of staying "processing" forever; a
// retry once the embedder is back makes it ready.
func TestEmbedderDownEndsWorkerGaveUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	llm := llmtest.New(t)
	emb := ollamaEmbedder(t, llm)
	r := newRig(t, emb, queuetest.WithConfig(func(c *queue.Config) { c.MaxDeliver = 3 }))

	llm.FailNext("/api/embed", 3, http.StatusInternalServerError)
	doc := r.upload("notes.txt", []byte("Short notes about the quarterly planning meeting."))
	run := r.start(queue.RunOptions{Concurrency: 1, RetryBase: 20 * time.Millisecond})
	failed := r.wait(doc.ID, 30*time.Second, finished)
	require.Equal(t, store.StatusFailed, failed.Status)
	require.Equal(t, "worker_gave_up", failed.Error.Code)
	require.Equal(t, "the embedding model did not answer; try again when it is back", failed.Error.Message,
		"the owner reads a sentence; the cause is in the log")
	require.Equal(t, 3, llm.Count("/api/embed")-1, "one embedding request per delivery, after the probe")

	// The embedder is back: the owner retries and the document becomes ready.
	_, err := r.docs.Retry(ctx, r.user, doc.ID)
	require.NoError(t, err)
	_, err = r.relay.Flush(ctx)
	require.NoError(t, err)
	r.requireIndexed(r.wait(doc.ID, 30*time.Second, finished))
	require.NoError(t, run.stop())
}
