// Package reindex runs the reindexer's jobs: operator re-index jobs (group migration,
// ACL payload sync, re-embedding into a new collection with an alias switch, verify
// and repair) and the per-document ACL syncs that sharing changes enqueue.
//
// PostgreSQL is the system of record and the vector index is rebuilt from it. Every
// operator job works in batches and writes its progress and a checkpoint after each
// one, in one statement, so a job whose worker crashed or was stopped resumes from
// the checkpoint when its message is redelivered and ends with exact counts. The
// cancel flag is read with every checkpoint; a cancelled job leaves the index as it
// was before the job.
package reindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/youworker/youworker/pkg/bm25"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// EmbedderFactory builds the embedder a re-embed job with an embed_model uses. It
// must fail when the model cannot be used, so the job fails instead of filling a
// collection with a fallback's vectors.
type EmbedderFactory func(ctx context.Context, model string) (embed.Embedder, error)

// Config tunes the jobs. Zero values take the defaults.
type Config struct {
	// DocumentBatch is the number of documents per batch of the document-wise jobs
	// (ACL sync, group migration, verify, catch-up).
	DocumentBatch int
	// ChunkBatch is the number of chunks per batch of a re-embed.
	ChunkBatch int
	// EmbedBatch is the number of texts per embedding request.
	EmbedBatch int
	// EmbedConcurrency bounds the embedding requests in flight.
	EmbedConcurrency int
	// WritesInFlight bounds the batches of a re-embed embedded ahead of the
	// checkpoint and being written to the vector store at once.
	WritesInFlight int
	// Embedders builds the embedder of a re-embed with an embed_model; nil refuses
	// such jobs.
	Embedders EmbedderFactory
	// SettleTimeout bounds how long a re-embed, after switching the index, waits for
	// documents that were being ingested at the switch to finish.
	SettleTimeout time.Duration
	// CatchUpMargin widens each catch-up window backwards so a document whose change
	// committed just after a pass started (its updated_at is the start of its
	// transaction) is not missed.
	CatchUpMargin time.Duration
	// PollEvery is how often the settle wait looks at the documents again.
	PollEvery time.Duration
	// Metrics shows the progress of running jobs; nil records nothing.
	Metrics *Metrics
	// EmbedMetrics records the embedding requests of re-embeds; nil records nothing.
	EmbedMetrics *embed.Metrics
}

// defaultEmbedBatch is the texts per embedding request unless configured.
const defaultEmbedBatch = 64

func (c Config) withDefaults() Config {
	if c.DocumentBatch <= 0 {
		c.DocumentBatch = 200
	}
	if c.ChunkBatch <= 0 {
		c.ChunkBatch = 512
	}
	if c.EmbedBatch <= 0 {
		c.EmbedBatch = defaultEmbedBatch
	}
	if c.EmbedConcurrency <= 0 {
		c.EmbedConcurrency = 4
	}
	if c.WritesInFlight <= 0 {
		c.WritesInFlight = 4
	}
	if c.SettleTimeout <= 0 {
		c.SettleTimeout = 10 * time.Minute
	}
	if c.CatchUpMargin <= 0 {
		c.CatchUpMargin = 30 * time.Second
	}
	if c.PollEvery <= 0 {
		c.PollEvery = 250 * time.Millisecond
	}
	return c
}

// Runner handles the jobs of the reindex consumer.
type Runner struct {
	store   *store.Store
	index   *index.Index
	vectors *vector.Store
	cfg     Config
	logger  *slog.Logger
	// embedSlots holds one token per embedding request in flight, so batches
	// embedded at once (a re-embed's pipeline) share EmbedConcurrency.
	embedSlots chan struct{}

	// afterSave, when set (tests), is called after every checkpoint is written.
	afterSave func(t *task)
}

// New returns the runner.
func New(st *store.Store, ix *index.Index, cfg Config, logger *slog.Logger) *Runner {
	cfg = cfg.withDefaults()
	return &Runner{store: st, index: ix, vectors: ix.Vectors(), cfg: cfg,
		logger: logger.With("component", "reindex"), embedSlots: make(chan struct{}, cfg.EmbedConcurrency)}
}

// Handle runs one job from the reindex consumer: an operator job or an ACL sync.
func (r *Runner) Handle(ctx context.Context, m *queue.Msg) error {
	switch m.Subject {
	case job.SubjectACL:
		var j job.ACLJob
		if err := job.Decode(m.Data, &j); err != nil {
			return err
		}
		return r.syncDocumentACL(ctx, j)
	case job.SubjectReindex:
		var j job.ReindexJob
		if err := job.Decode(m.Data, &j); err != nil {
			return err
		}
		return r.runJob(ctx, j.JobID, m.LastDelivery())
	}
	return job.Permanent(fmt.Errorf("unexpected subject %q", m.Subject))
}

// OnDeadLetter marks the operator job of a message that exhausted its deliveries as
// failed, so no job stays running forever.
func (r *Runner) OnDeadLetter(ctx context.Context, m *queue.Msg, reason error) {
	if m.Subject != job.SubjectReindex {
		r.logger.ErrorContext(ctx, "job dead-lettered", "subject", m.Subject, "error", reason)
		return
	}
	var j job.ReindexJob
	if err := job.Decode(m.Data, &j); err != nil || j.JobID == "" {
		r.logger.ErrorContext(ctx, "undecodable re-index job dead-lettered", "error", reason)
		return
	}
	msg := truncate("gave up after repeated failures: "+reason.Error(), 1000)
	if _, err := r.store.FinishReindexJob(ctx, j.JobID, store.JobFailed, &msg, nil); err != nil {
		r.logger.ErrorContext(ctx, "mark re-index job failed", "job_id", j.JobID, "error", err)
	}
}

// syncDocumentACL mirrors one document's access fields into its points. It always
// syncs the state Postgres holds now (a job for an older version syncs the newer
// one), and SetACL only touches points with an older version, so a late job never
// overwrites a newer state.
func (r *Runner) syncDocumentACL(ctx context.Context, j job.ACLJob) error {
	doc, err := r.store.GetDocument(ctx, j.DocumentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // purged: its points went with it
	}
	if err != nil {
		return err
	}
	if doc.DeletedAt != nil {
		return nil // the purge job removes the points
	}
	if err := r.index.SetACL(ctx, doc.ID, aclOf(doc)); err != nil {
		return err
	}
	return r.store.MarkACLSynced(ctx, map[string]int64{doc.ID: doc.ACLVersion})
}

// checkpoint is where a job resumes. One shape serves every kind; each uses the
// fields it needs.
type checkpoint struct {
	// Phase names the step the job is in; "" is the start.
	Phase string `json:"phase,omitempty"`
	// AfterID and AfterIndex are the last key the phase finished.
	AfterID    string `json:"after_id,omitempty"`
	AfterIndex int    `json:"after_index,omitempty"`
	// Collection is the collection a re-embed builds; Previous the one it replaces.
	Collection string `json:"collection,omitempty"`
	Previous   string `json:"previous,omitempty"`
	// Embedder is the identity a re-embed builds with.
	Embedder string `json:"embedder,omitempty"`
	// Lexical is how a re-embed encodes lexical vectors, with the average chunk
	// length it measured; nil for a job planned before lexical vectors existed.
	Lexical *store.LexicalIndex `json:"lexical,omitempty"`
	// Since is the lower bound of the next catch-up pass; PassStart the database time
	// the running pass began, which becomes the next Since.
	Since     time.Time `json:"since,omitzero"`
	PassStart time.Time `json:"pass_start,omitzero"`
	// Counts are the result counters so far, saved with the progress so a resumed
	// job reports each batch once.
	Counts map[string]int64 `json:"counts,omitempty"`
}

// errCancelled stops a job whose cancel flag was seen.
var errCancelled = errors.New("cancelled")

// task is one run of an operator job.
type task struct {
	r   *Runner
	job store.ReindexJob
	cp  checkpoint
	log *slog.Logger
	// lexical encodes the lexical vectors of the collection a re-embed builds,
	// as cp.Lexical describes; nil when it has none.
	lexical *bm25.Encoder
}

// save writes progress and checkpoint; it returns errCancelled when the job should
// stop (a cancel was requested or the job ended elsewhere).
func (t *task) save(ctx context.Context) error {
	raw, err := json.Marshal(t.cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	stop, err := t.r.store.SaveReindexProgress(ctx, t.job.ID, t.job.Progress, raw)
	if err != nil {
		return err
	}
	t.r.cfg.Metrics.progress(t.job.Kind, t.job.Progress)
	if t.r.afterSave != nil {
		t.r.afterSave(t)
	}
	if stop {
		return errCancelled
	}
	return nil
}

// count adds n to a result counter.
func (t *task) count(name string, n int64) {
	if t.cp.Counts == nil {
		t.cp.Counts = map[string]int64{}
	}
	t.cp.Counts[name] += n
}

// zero makes counters appear in the result even when nothing was counted.
func (t *task) zero(names ...string) {
	for _, n := range names {
		t.count(n, 0)
	}
}

// result is what a finished job reports: its counters and, for a re-embed, the
// collections.
func (t *task) result() map[string]any {
	out := map[string]any{}
	for k, v := range t.cp.Counts {
		out[k] = v
	}
	return out
}

// runJob claims the job, runs its kind and records the outcome. An interrupted run
// (ctx ended) returns the context error so the message is redelivered and the job
// resumes from its checkpoint.
func (r *Runner) runJob(ctx context.Context, id string, lastDelivery bool) error {
	j, ok, err := r.store.ClaimReindexJob(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return r.finishUnclaimed(ctx, id)
	}
	t := &task{r: r, job: j, log: queue.Logger(ctx, r.logger).With("job_id", j.ID, "kind", j.Kind)}
	r.cfg.Metrics.progress(j.Kind, j.Progress)
	defer r.cfg.Metrics.stopped(j.Kind)
	if len(j.Checkpoint) > 0 {
		if err := json.Unmarshal(j.Checkpoint, &t.cp); err != nil {
			return r.fail(ctx, t, job.Permanent(fmt.Errorf("decode checkpoint: %w", err)))
		}
		t.log.InfoContext(ctx, "resuming re-index job", "phase", t.cp.Phase, "done", j.Progress.Done, "total", j.Progress.Total)
	} else {
		t.log.InfoContext(ctx, "starting re-index job", "params", j.Params)
	}
	var extra map[string]any
	switch j.Kind {
	case store.KindACLSync:
		err = r.aclSync(ctx, t)
	case store.KindGroupMigration:
		err = r.groupMigration(ctx, t)
	case store.KindReEmbed:
		extra, err = r.reEmbed(ctx, t)
	case store.KindVerify:
		err = r.verify(ctx, t)
	default:
		err = job.Permanent(fmt.Errorf("unknown job kind %q", j.Kind))
	}
	switch {
	case errors.Is(err, errCancelled):
		res := t.result()
		for k, v := range extra {
			res[k] = v
		}
		if _, err := r.store.FinishReindexJob(context.WithoutCancel(ctx), j.ID, store.JobCancelled, nil, res); err != nil {
			return err
		}
		t.log.InfoContext(ctx, "re-index job cancelled", "done", t.job.Progress.Done, "total", t.job.Progress.Total)
		return nil
	case err != nil && ctx.Err() != nil:
		t.log.InfoContext(ctx, "re-index job interrupted; it resumes from its checkpoint", "done", t.job.Progress.Done)
		return ctx.Err()
	case err != nil && (job.IsPermanent(err) || lastDelivery):
		return r.fail(ctx, t, err)
	case err != nil:
		t.log.WarnContext(ctx, "re-index job failed, will retry from its checkpoint", "error", err)
		return err
	}
	res := t.result()
	for k, v := range extra {
		res[k] = v
	}
	if _, err := r.store.FinishReindexJob(ctx, j.ID, store.JobCompleted, nil, res); err != nil {
		return err
	}
	t.log.InfoContext(ctx, "re-index job completed", "done", t.job.Progress.Done, "total", t.job.Progress.Total, "result", res)
	return nil
}

// finishUnclaimed ends a job that could not be claimed because a cancel was
// requested; a job that already ended needs nothing.
func (r *Runner) finishUnclaimed(ctx context.Context, id string) error {
	j, err := r.store.GetReindexJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if j.Active() && j.CancelRequested {
		if j.Kind == store.KindReEmbed {
			r.dropBuild(ctx, j)
		}
		_, err = r.store.FinishReindexJob(ctx, id, store.JobCancelled, nil, nil)
	}
	return err
}

// fail records a permanent failure and tells the queue not to retry.
func (r *Runner) fail(ctx context.Context, t *task, err error) error {
	msg := truncate(err.Error(), 1000)
	if _, ferr := r.store.FinishReindexJob(context.WithoutCancel(ctx), t.job.ID, store.JobFailed, &msg, t.result()); ferr != nil {
		return errors.Join(err, ferr)
	}
	t.log.ErrorContext(ctx, "re-index job failed", "error", err)
	if job.IsPermanent(err) {
		return err
	}
	return job.Permanent(err)
}

// aclOf is the access part of a document's payload.
func aclOf(d store.Document) vector.ACL {
	acl := vector.ACL{OwnerID: d.OwnerID, Private: d.Private, ACLVersion: d.ACLVersion}
	if d.GroupID != nil {
		acl.GroupID = *d.GroupID
	}
	return acl
}

// closeEmbedder releases an embedder the job built, when it holds resources.
func closeEmbedder(e embed.Embedder) {
	if c, ok := e.(io.Closer); ok {
		_ = c.Close()
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
