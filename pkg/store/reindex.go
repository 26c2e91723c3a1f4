package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Re-index job kinds.
const (
	KindGroupMigration = "group-migration"
	KindACLSync        = "acl-sync"
	KindReEmbed        = "re-embed"
	KindVerify         = "verify"
)

// Re-index job statuses. queued and running are the active ones: at most one job of
// each kind may be active.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobCompleted = "completed"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// JobProgress counts the units of work of a re-index job (documents or chunks,
// depending on the kind).
type JobProgress struct {
	Total  int64
	Done   int64
	Failed int64
}

// ReindexJob is an operator re-index job and how far it got.
type ReindexJob struct {
	ID              string
	Kind            string
	Status          string
	Params          map[string]any
	Progress        JobProgress
	Error           *string
	Result          map[string]any
	CancelRequested bool
	CreatedBy       *string
	CreatedAt       time.Time
	StartedAt       *time.Time
	FinishedAt      *time.Time

	// Checkpoint is the job's own resume state (JSON), written with every batch.
	Checkpoint []byte
}

// Active reports whether the job may still do work.
func (j ReindexJob) Active() bool { return j.Status == JobQueued || j.Status == JobRunning }

const reindexColumns = `j.id::text, j.kind, j.status, j.params, j.total, j.done, j.failed, j.error, j.result,
	j.cancel_requested, j.created_by::text, j.created_at, j.started_at, j.finished_at, j.checkpoint`

func scanReindexJob(row pgx.Row) (ReindexJob, error) {
	var j ReindexJob
	err := row.Scan(&j.ID, &j.Kind, &j.Status, &j.Params, &j.Progress.Total, &j.Progress.Done, &j.Progress.Failed,
		&j.Error, &j.Result, &j.CancelRequested, &j.CreatedBy, &j.CreatedAt, &j.StartedAt, &j.FinishedAt, &j.Checkpoint)
	if err != nil {
		return ReindexJob{}, translate(err)
	}
	if j.Params == nil {
		j.Params = map[string]any{}
	}
	if j.Result == nil {
		j.Result = map[string]any{}
	}
	return j, nil
}

// CreateReindexJob records a queued job. A job of the same kind that is still queued
// or running makes it ErrConflict.
func (s *Store) CreateReindexJob(ctx context.Context, kind string, params map[string]any, createdBy *string) (ReindexJob, error) {
	if params == nil {
		params = map[string]any{}
	}
	j, err := scanReindexJob(s.db.QueryRow(ctx, `INSERT INTO reindex_jobs AS j (kind, params, created_by)
		VALUES ($1, $2, $3) RETURNING `+reindexColumns, kind, params, createdBy))
	if err != nil {
		return ReindexJob{}, fmt.Errorf("create reindex job: %w", err)
	}
	return j, nil
}

// GetReindexJob returns one job.
func (s *Store) GetReindexJob(ctx context.Context, id string) (ReindexJob, error) {
	j, err := scanReindexJob(s.db.QueryRow(ctx, `SELECT `+reindexColumns+` FROM reindex_jobs j WHERE j.id = $1`, id))
	if err != nil {
		return ReindexJob{}, fmt.Errorf("get reindex job: %w", err)
	}
	return j, nil
}

// ListReindexJobs pages through all jobs, newest first.
func (s *Store) ListReindexJobs(ctx context.Context, limit int, after *Cursor) (Page[ReindexJob], error) {
	q := `SELECT ` + reindexColumns + ` FROM reindex_jobs j`
	args := []any{limit + 1}
	if after != nil {
		q += ` WHERE (j.created_at, j.id) < ($2, $3)`
		args = append(args, after.At, after.ID)
	}
	q += ` ORDER BY j.created_at DESC, j.id DESC LIMIT $1`
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return Page[ReindexJob]{}, fmt.Errorf("list reindex jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReindexJob, error) { return scanReindexJob(r) })
	if err != nil {
		return Page[ReindexJob]{}, fmt.Errorf("list reindex jobs: %w", err)
	}
	return pageOf(jobs, limit, func(j ReindexJob) Cursor { return Cursor{At: j.CreatedAt, ID: j.ID} }), nil
}

// ClaimReindexJob moves a queued job to running, or takes over a running one whose
// worker died (the message was redelivered), and returns it with its checkpoint.
// ok is false when there is nothing to run: the job finished, or a cancel was
// requested (the caller then finishes it as cancelled).
func (s *Store) ClaimReindexJob(ctx context.Context, id string) (ReindexJob, bool, error) {
	j, err := scanReindexJob(s.db.QueryRow(ctx, `UPDATE reindex_jobs j SET status = 'running',
		started_at = coalesce(j.started_at, now())
		WHERE j.id = $1 AND j.status IN ('queued', 'running') AND NOT j.cancel_requested RETURNING `+reindexColumns, id))
	if errors.Is(err, ErrNotFound) {
		return ReindexJob{}, false, nil
	}
	if err != nil {
		return ReindexJob{}, false, fmt.Errorf("claim reindex job: %w", err)
	}
	return j, true, nil
}

// SaveReindexProgress writes the progress and the checkpoint of a running job in one
// statement, so a resumed job never counts a batch twice. It reports whether the job
// should stop: a cancel was requested, or the job is no longer running.
func (s *Store) SaveReindexProgress(ctx context.Context, id string, p JobProgress, checkpoint []byte) (stop bool, err error) {
	var cancel bool
	err = s.db.QueryRow(ctx, `UPDATE reindex_jobs SET total = $2, done = $3, failed = $4, checkpoint = $5
		WHERE id = $1 AND status = 'running' RETURNING cancel_requested`,
		id, p.Total, p.Done, p.Failed, checkpoint).Scan(&cancel)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("save reindex progress: %w", translate(err))
	}
	return cancel, nil
}

// FinishReindexJob ends an active job as completed, failed or cancelled, with the
// error message (failed) and the result. It reports false when the job had already
// ended, so a late second finisher changes nothing.
func (s *Store) FinishReindexJob(ctx context.Context, id, status string, errMsg *string, result map[string]any) (bool, error) {
	if result == nil {
		result = map[string]any{}
	}
	tag, err := s.db.Exec(ctx, `UPDATE reindex_jobs SET status = $2, error = $3,
		result = result || $4::jsonb, finished_at = now()
		WHERE id = $1 AND status IN ('queued', 'running')`, id, status, errMsg, result)
	if err != nil {
		return false, fmt.Errorf("finish reindex job: %w", translate(err))
	}
	return tag.RowsAffected() == 1, nil
}

// RequestReindexCancel asks an active job to stop. A queued job is cancelled at once
// (no worker holds it); a running one sees the flag between batches. A job that has
// ended is ErrConflict; a missing one ErrNotFound. The check and the write are one
// statement, so they cannot race a worker claiming the job.
func (s *Store) RequestReindexCancel(ctx context.Context, id string) (ReindexJob, error) {
	j, err := scanReindexJob(s.db.QueryRow(ctx, `UPDATE reindex_jobs j SET cancel_requested = true,
		status = CASE WHEN j.status = 'queued' THEN 'cancelled' ELSE j.status END,
		finished_at = CASE WHEN j.status = 'queued' THEN now() ELSE j.finished_at END
		WHERE j.id = $1 AND j.status IN ('queued', 'running') RETURNING `+reindexColumns, id))
	if errors.Is(err, ErrNotFound) {
		if _, gerr := s.GetReindexJob(ctx, id); gerr != nil {
			return ReindexJob{}, gerr
		}
		return ReindexJob{}, fmt.Errorf("cancel reindex job: %w: the job has already ended", ErrConflict)
	}
	if err != nil {
		return ReindexJob{}, fmt.Errorf("cancel reindex job: %w", err)
	}
	return j, nil
}

// ReindexCancelRequested reports whether a cancel was requested for the job.
func (s *Store) ReindexCancelRequested(ctx context.Context, id string) (bool, error) {
	var cancel bool
	if err := s.db.QueryRow(ctx, `SELECT cancel_requested FROM reindex_jobs WHERE id = $1`, id).Scan(&cancel); err != nil {
		return false, fmt.Errorf("read cancel flag: %w", translate(err))
	}
	return cancel, nil
}

// Now is the database clock. Jobs compare it with updated_at columns, so it must be
// the database's time, not the worker's.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var t time.Time
	if err := s.db.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("read database clock: %w", err)
	}
	return t, nil
}
