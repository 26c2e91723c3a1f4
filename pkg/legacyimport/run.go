package legacyimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
)

// checkpoint is what a real run records with its progress.
type checkpoint struct {
	Phase             string           `json:"phase"`
	GroupMigrationJob string           `json:"group_migration_job,omitempty"`
	Counts            map[string]int64 `json:"counts,omitempty"`
}

// run carries the plan out as a legacy-import job. The job of a run that crashed
// is still running; the next run takes it over. Whatever happens, what was
// imported stays imported and mapped: the next run goes on from there.
func (im *importer) run(ctx context.Context, p *plan) (err error) {
	if err := im.claimJob(ctx, p); err != nil {
		return err
	}
	p.report.JobID = im.job.ID
	im.log.InfoContext(ctx, "legacy import started", "job_id", im.job.ID, "source", im.src.where, "units", p.units())
	defer func() {
		p.report.GroupMigrationJobID = im.cp.GroupMigrationJob
		im.finish(ctx, err)
	}()
	for _, step := range []struct {
		phase string
		run   func(context.Context, *plan) error
	}{
		{PhaseUsers, im.importUsers},
		{PhaseGroups, im.importGroups},
		{PhaseChats, im.importChats},
		{PhaseDocuments, im.importDocuments},
		{PhaseIngesting, im.waitIngestion},
		{PhaseGroupMigration, im.migrateGroups},
	} {
		im.cp.Phase = step.phase
		if err := im.save(ctx); err != nil {
			return err
		}
		if err := step.run(ctx, p); err != nil {
			return err
		}
	}
	im.cp.Phase = PhaseDone
	return nil
}

// claimJob takes over the legacy-import job a crashed run left running, or starts
// one. A left job whose cancel was requested meanwhile ends cancelled, and this run
// starts a job of its own.
func (im *importer) claimJob(ctx context.Context, p *plan) error {
	for {
		ok, err := im.tryClaimJob(ctx, p)
		if err != nil || ok {
			return err
		}
	}
}

func (im *importer) tryClaimJob(ctx context.Context, p *plan) (bool, error) {
	st := im.t.Store
	j, err := st.ActiveReindexJob(ctx, store.KindLegacyImport)
	if errors.Is(err, store.ErrNotFound) {
		params := map[string]any{"source": im.src.where, "fingerprint": p.report.Fingerprint,
			"collection": im.opts.collection(), "uploads": im.opts.Uploads != ""}
		err = st.InTx(ctx, func(tx *store.Store) error {
			if j, err = tx.CreateReindexJob(ctx, store.KindLegacyImport, params, nil); err != nil {
				return err
			}
			im.t.Audit.Record(ctx, tx, access.System, "legacy.import", "reindex_job", j.ID, service.OutcomeSuccess, params)
			return nil
		})
		if errors.Is(err, store.ErrConflict) {
			return false, ErrBusy
		}
	}
	if err != nil {
		return false, err
	}
	claimed, ok, err := st.ClaimReindexJob(ctx, j.ID)
	if err != nil {
		return false, err
	}
	if !ok {
		// Its cancel was requested while no run held it.
		_, err := st.FinishReindexJob(ctx, j.ID, store.JobCancelled, nil, nil)
		return false, err
	}
	im.job = claimed
	if len(claimed.Checkpoint) > 0 {
		_ = json.Unmarshal(claimed.Checkpoint, &im.cp)
		im.cp.Phase = ""
	}
	if im.cp.Counts == nil {
		im.cp.Counts = map[string]int64{}
	}
	// Progress counts rows: those imported before (by any run) and those to go.
	a := p.report.Already
	done := int64(a.Users + a.Groups + a.Sessions + a.Documents)
	im.job.Progress = store.JobProgress{Total: done + p.units(), Done: done}
	return true, nil
}

// save writes progress and checkpoint, and reports ErrCancelled once a cancel was
// requested.
func (im *importer) save(ctx context.Context) error {
	raw, err := json.Marshal(im.cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	stop, err := im.t.Store.SaveReindexProgress(ctx, im.job.ID, im.job.Progress, raw)
	if err != nil {
		return err
	}
	if im.t.Progress != nil {
		im.t.Progress(Progress{Job: im.job, Phase: im.cp.Phase})
	}
	if stop {
		return ErrCancelled
	}
	return nil
}

// unit records one imported row of kind and saves.
func (im *importer) unit(ctx context.Context, kind string) error {
	im.job.Progress.Done++
	im.job.Progress.Total = max(im.job.Progress.Total, im.job.Progress.Done)
	if im.afterUnit != nil {
		if err := im.afterUnit(kind); err != nil {
			return err
		}
	}
	return im.save(ctx)
}

func (im *importer) count(name string, n int) { im.cp.Counts[name] += int64(n) }

// finish ends the job: completed, cancelled, or failed with the reason. A run cut
// short by its context (the program was stopped) is cancelled: the next run goes on.
func (im *importer) finish(ctx context.Context, err error) {
	ctx = context.WithoutCancel(ctx)
	result := map[string]any{}
	for k, v := range im.cp.Counts {
		result[k] = v
	}
	status := store.JobCompleted
	var msg *string
	switch {
	case err == nil:
	case errors.Is(err, ErrCancelled) || errors.Is(err, context.Canceled):
		status = store.JobCancelled
	default:
		status = store.JobFailed
		text := truncate(err.Error(), 1000)
		msg = &text
	}
	if _, ferr := im.t.Store.FinishReindexJob(ctx, im.job.ID, status, msg, result); ferr != nil {
		im.log.ErrorContext(ctx, "record the end of the legacy import", "job_id", im.job.ID, "error", ferr)
	}
	im.t.Audit.Record(ctx, nil, access.System, "legacy.import_"+status, "reindex_job", im.job.ID, outcomeOf(status), result)
	if j, gerr := im.t.Store.GetReindexJob(ctx, im.job.ID); gerr == nil {
		im.job = j
		if im.t.Progress != nil {
			im.t.Progress(Progress{Job: j, Phase: im.cp.Phase})
		}
	}
	im.log.InfoContext(ctx, "legacy import ended", "job_id", im.job.ID, "status", status, "result", result)
}

func outcomeOf(status string) string {
	if status == store.JobFailed {
		return service.OutcomeFailure
	}
	return service.OutcomeSuccess
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (im *importer) importUsers(ctx context.Context, p *plan) error {
	for _, up := range p.users {
		err := im.t.Store.InTx(ctx, func(tx *store.Store) error {
			u, err := tx.ImportUser(ctx, up.name, up.src.IsRoot, up.src.CreatedAt)
			if err != nil {
				return fmt.Errorf("legacy user %d (%s): %w", up.src.ID, up.name, err)
			}
			if up.hash != nil {
				if err := tx.InsertLegacyCredential(ctx, u.ID, up.hash); err != nil {
					return fmt.Errorf("legacy user %d: %w", up.src.ID, err)
				}
			}
			if err := tx.MapLegacy(ctx, store.LegacyUser, up.src.ID, u.ID); err != nil {
				return err
			}
			im.t.Audit.Record(ctx, tx, access.System, "legacy.import_user", "user", u.ID, service.OutcomeSuccess,
				map[string]any{"legacy_id": up.src.ID, "name": u.Name, "is_admin": u.IsAdmin, "legacy_key": up.hash != nil})
			up.target = u.ID
			return nil
		})
		if err != nil {
			return err
		}
		im.count("users", 1)
		if up.hash != nil {
			im.count("legacy_keys", 1)
		}
		if err := im.unit(ctx, store.LegacyUser); err != nil {
			return err
		}
	}
	return nil
}

// userID is the id here of a legacy user, imported by this run or an earlier one.
func (p *plan) userID(legacy int64) (string, error) {
	if up := p.userByID[legacy]; up != nil && up.target != "" {
		return up.target, nil
	}
	return "", fmt.Errorf("legacy user %d was not imported", legacy)
}

func (im *importer) importGroups(ctx context.Context, p *plan) error {
	for _, gp := range p.groups {
		err := im.t.Store.InTx(ctx, func(tx *store.Store) error {
			gid, err := tx.ImportGroup(ctx, gp.name, gp.description, gp.src.CreatedAt, gp.src.UpdatedAt)
			if err != nil {
				return fmt.Errorf("legacy group %d (%s): %w", gp.src.ID, gp.name, err)
			}
			for _, m := range gp.members {
				uid, err := p.userID(m.user)
				if err != nil {
					return err
				}
				if err := tx.ImportMember(ctx, gid, uid, m.role, m.joinedAt); err != nil {
					return fmt.Errorf("legacy group %d: %w", gp.src.ID, err)
				}
			}
			if err := tx.MapLegacy(ctx, store.LegacyGroup, gp.src.ID, gid); err != nil {
				return err
			}
			im.t.Audit.Record(ctx, tx, access.System, "legacy.import_group", "group", gid, service.OutcomeSuccess,
				map[string]any{"legacy_id": gp.src.ID, "name": gp.name, "members": len(gp.members)})
			gp.target = gid
			return nil
		})
		if err != nil {
			return err
		}
		im.count("groups", 1)
		im.count("memberships", len(gp.members))
		if err := im.unit(ctx, store.LegacyGroup); err != nil {
			return err
		}
	}
	return nil
}

// importChats imports each session with its messages in one transaction, so a
// session is there whole or not at all.
func (im *importer) importChats(ctx context.Context, p *plan) error {
	for _, sp := range p.sessions {
		owner, err := p.userID(sp.src.UserID)
		if err != nil {
			return err
		}
		msgs, err := im.src.messagesOf(ctx, sp.src.ID)
		if err != nil {
			return err
		}
		c := im.buildChat(msgs)
		if c.counts.Undecryptable > 0 && !im.opts.AllowUndecryptable {
			return fmt.Errorf("legacy session %d: %d messages do not decrypt", sp.src.ID, c.counts.Undecryptable)
		}
		err = im.t.Store.InTx(ctx, func(tx *store.Store) error {
			sid, err := tx.ImportSession(ctx, owner, sp.title, sp.src.CreatedAt, sp.src.UpdatedAt)
			if err != nil {
				return fmt.Errorf("legacy session %d: %w", sp.src.ID, err)
			}
			for _, e := range c.entries {
				var turnID *string
				if e.answer != nil {
					id, err := tx.ImportTurn(ctx, store.ImportedTurn{SessionID: sid, UserID: owner, Model: deref(sp.src.Model),
						ToolsEnabled: sp.src.EnableTools, Answer: e.answer.content, Usage: e.usage,
						CreatedAt: e.msg.at, FinishedAt: e.answer.at})
					if err != nil {
						return fmt.Errorf("legacy session %d: %w", sp.src.ID, err)
					}
					turnID = &id
				}
				if err := tx.ImportMessage(ctx, sid, turnID, e.msg.role, e.msg.content, e.msg.at); err != nil {
					return fmt.Errorf("legacy session %d: %w", sp.src.ID, err)
				}
				if e.answer != nil {
					if err := tx.ImportMessage(ctx, sid, turnID, e.answer.role, e.answer.content, e.answer.at); err != nil {
						return fmt.Errorf("legacy session %d: %w", sp.src.ID, err)
					}
				}
			}
			return tx.MapLegacy(ctx, store.LegacySession, sp.src.ID, sid)
		})
		if err != nil {
			return err
		}
		im.count("sessions", 1)
		im.count("messages", c.messages)
		im.count("turns", c.turns)
		if err := im.unit(ctx, store.LegacySession); err != nil {
			return err
		}
	}
	return nil
}

// waitIngestion waits until the ingest workers have processed every re-ingested
// file, so the group migration that follows finds their points written.
func (im *importer) waitIngestion(ctx context.Context, p *plan) error {
	lastLog := time.Time{}
	for {
		n, err := im.t.Store.LegacyDocumentsInProgress(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			failed, err := im.t.Store.LegacyDocumentsFailed(ctx)
			if err != nil {
				return err
			}
			if failed > 0 {
				im.cp.Counts["documents_failed"] = failed
				p.report.problem("document", 0, "%d re-ingested files failed to process: their owners see why in their documents, "+
					"and POST /v1/documents/{id}/retry runs them again", failed)
			}
			return nil
		}
		if time.Since(lastLog) > 30*time.Second {
			im.log.InfoContext(ctx, "waiting for the ingest workers to process the re-ingested files", "documents", n)
			lastLog = time.Now()
		}
		if err := im.pause(ctx); err != nil {
			return err
		}
	}
}

// pause waits one poll interval, then saves (which notices a cancel).
func (im *importer) pause(ctx context.Context) error {
	t := time.NewTimer(im.t.PollEvery)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	return im.save(ctx)
}

// migrateGroups runs the group-migration job — which puts the documents in no group
// into their owners' personal groups and writes group ids into every payload — and
// waits for the reindexer to finish it.
func (im *importer) migrateGroups(ctx context.Context, _ *plan) error {
	st := im.t.Store
	if id := im.cp.GroupMigrationJob; id != "" {
		if j, err := st.GetReindexJob(ctx, id); err == nil && j.Status == store.JobCompleted {
			return nil
		}
	}
	j, err := im.t.Reindex.Start(ctx, access.System, store.KindGroupMigration, service.ReindexParams{})
	var jobID string
	switch {
	case err == nil:
		jobID = j.ID
	case service.ErrorCode(err) == service.CodeConflict:
		active, aerr := st.ActiveReindexJob(ctx, store.KindGroupMigration)
		if aerr != nil {
			return aerr
		}
		jobID = active.ID
	default:
		return err
	}
	im.cp.GroupMigrationJob = jobID
	lastLog := time.Time{}
	for {
		j, err := st.GetReindexJob(ctx, jobID)
		if err != nil {
			return err
		}
		if !j.Active() {
			if j.Status != store.JobCompleted {
				msg := ""
				if j.Error != nil {
					msg = ": " + *j.Error
				}
				return fmt.Errorf("the group-migration job %s ended %s%s", jobID, j.Status, msg)
			}
			for k, v := range j.Result {
				if n, ok := v.(float64); ok {
					im.cp.Counts["group_migration_"+k] = int64(n)
				}
			}
			return im.save(ctx)
		}
		if j.Status == store.JobQueued && time.Since(lastLog) > 30*time.Second {
			im.log.InfoContext(ctx, "waiting for the reindexer to run the group-migration job (is a reindexer running?)", "job_id", jobID)
			lastLog = time.Now()
		}
		if err := im.pause(ctx); err != nil {
			return err
		}
	}
}
