package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/outbox"
	"github.com/youworker/youworker/pkg/store"
)

// ReindexKinds are the job kinds an operator may start, in the order the docs list them.
var ReindexKinds = []string{store.KindGroupMigration, store.KindACLSync, store.KindReEmbed, store.KindVerify}

// embedModelPattern accepts Ollama model names like "nomic-embed-text",
// "mxbai-embed-large:335m" or "library/model:tag".
var embedModelPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$`)

// ReindexParams are the options of a re-index job.
type ReindexParams struct {
	// EmbedModel (re-embed only) is the Ollama embedding model to re-embed with; empty
	// rebuilds the index with the configured embedder.
	EmbedModel string `json:"embed_model,omitempty"`
}

// Reindex starts and follows operator re-index jobs. Starting a job writes the job
// row and its queue message in one transaction (through the outbox), so a job is
// never recorded without being run, nor run without being recorded.
type Reindex struct {
	store  *store.Store
	audit  *Auditor
	notify func()
	logger *slog.Logger
}

// ReindexConfig configures the re-index service.
type ReindexConfig struct {
	// Notify wakes the outbox relay after a job message is written.
	Notify func()
}

// NewReindex returns the re-index service.
func NewReindex(st *store.Store, audit *Auditor, cfg ReindexConfig, logger *slog.Logger) *Reindex {
	if cfg.Notify == nil {
		cfg.Notify = func() {}
	}
	return &Reindex{store: st, audit: audit, notify: cfg.Notify, logger: logger.With("component", "reindex")}
}

// errJobNotFound hides jobs from non-admins exactly like missing ones.
var errJobNotFound = Errorf(CodeNotFound, "re-index job not found")

// adminOnly refuses non-admin callers as if the job did not exist; the operator
// command line acts as access.System.
func adminOnly(actor access.Principal) error {
	return denied(access.RequireAdmin(actor), errJobNotFound, nil)
}

// Start validates and queues a job of kind. Only one job of a kind may be queued or
// running at a time; another is a conflict.
func (r *Reindex) Start(ctx context.Context, actor access.Principal, kind string, params ReindexParams) (ReindexJob, error) {
	if err := adminOnly(actor); err != nil {
		return ReindexJob{}, err
	}
	var v validation
	known := false
	for _, k := range ReindexKinds {
		known = known || k == kind
	}
	if !known {
		v.add("kind", "must be one of %s", strings.Join(ReindexKinds, ", "))
	}
	params.EmbedModel = strings.TrimSpace(params.EmbedModel)
	if params.EmbedModel != "" {
		switch {
		case kind != store.KindReEmbed:
			v.add("embed_model", "only a re-embed job takes an embedding model")
		case !embedModelPattern.MatchString(params.EmbedModel):
			v.add("embed_model", "must be a model name of at most 200 letters, digits, '.', '_', ':', '/' or '-'")
		}
	}
	if err := v.err(); err != nil {
		return ReindexJob{}, err
	}
	stored := map[string]any{}
	if params.EmbedModel != "" {
		stored["embed_model"] = params.EmbedModel
	}
	var createdBy *string
	if actor.IsUser() {
		id := actor.UserID
		createdBy = &id
	}
	var j store.ReindexJob
	err := r.store.InTx(ctx, func(st *store.Store) error {
		var err error
		if j, err = st.CreateReindexJob(ctx, kind, stored, createdBy); err != nil {
			return err
		}
		if err := outbox.Enqueue(ctx, st, job.ReindexJob{JobID: j.ID}); err != nil {
			return err
		}
		r.audit.Record(ctx, st, actor, "reindex.start", "reindex_job", j.ID, OutcomeSuccess, map[string]any{"kind": kind, "params": stored})
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return ReindexJob{}, &Error{Code: CodeConflict, Message: fmt.Sprintf("a %s job is already queued or running; cancel it or wait for it to end", kind),
			Fields: []FieldError{{Field: "kind", Message: "a job of this kind is already active"}}}
	}
	if err != nil {
		return ReindexJob{}, fmt.Errorf("start %s job: %w", kind, err)
	}
	r.notify()
	r.logger.InfoContext(ctx, "re-index job queued", "job_id", j.ID, "kind", kind)
	return reindexJobFromRow(j), nil
}

// Get returns one job.
func (r *Reindex) Get(ctx context.Context, actor access.Principal, id string) (ReindexJob, error) {
	if err := adminOnly(actor); err != nil {
		return ReindexJob{}, err
	}
	if !isUUID(id) {
		return ReindexJob{}, errJobNotFound
	}
	j, err := r.store.GetReindexJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ReindexJob{}, errJobNotFound
	}
	return reindexJobFromRow(j), err
}

// List pages through the jobs, newest first.
func (r *Reindex) List(ctx context.Context, actor access.Principal, limit int, cursor string) (store.Page[ReindexJob], error) {
	if err := adminOnly(actor); err != nil {
		return store.Page[ReindexJob]{}, err
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return store.Page[ReindexJob]{}, err
	}
	page, err := r.store.ListReindexJobs(ctx, clampLimit(limit), after)
	jobs := mapPage(page, reindexJobFromRow)
	if jobs.Items == nil {
		jobs.Items = []ReindexJob{}
	}
	return jobs, err
}

// Cancel asks a job to stop. A queued job ends cancelled at once; a running one stops
// between two batches and leaves the index as it was before the job (a re-embed that
// has already switched the index finishes instead: the switch is its commit point).
// Cancelling a job that has ended is a conflict.
func (r *Reindex) Cancel(ctx context.Context, actor access.Principal, id string) (ReindexJob, error) {
	if err := adminOnly(actor); err != nil {
		return ReindexJob{}, err
	}
	if !isUUID(id) {
		return ReindexJob{}, errJobNotFound
	}
	var j store.ReindexJob
	err := r.store.InTx(ctx, func(st *store.Store) error {
		var err error
		if j, err = st.RequestReindexCancel(ctx, id); err != nil {
			return err
		}
		r.audit.Record(ctx, st, actor, "reindex.cancel", "reindex_job", id, OutcomeSuccess, map[string]any{"kind": j.Kind, "status": j.Status})
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ReindexJob{}, errJobNotFound
	case errors.Is(err, store.ErrConflict):
		return ReindexJob{}, Errorf(CodeConflict, "the job has already ended")
	case err != nil:
		return ReindexJob{}, fmt.Errorf("cancel job: %w", err)
	}
	r.logger.InfoContext(ctx, "re-index job cancel requested", "job_id", id, "status", j.Status)
	return reindexJobFromRow(j), nil
}
