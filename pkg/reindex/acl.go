package reindex

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/qdrant/go-client/qdrant"

	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// Phases of the document-wise jobs.
const (
	phaseGroups   = "groups"
	phasePayloads = "payloads"
	phaseDone     = "done"
)

// aclSync rewrites the access fields of every point from Postgres, a batch of
// documents at a time.
func (r *Runner) aclSync(ctx context.Context, t *task) error {
	if t.cp.Phase == "" {
		total, err := r.store.CountDocuments(ctx, store.LiveDocuments)
		if err != nil {
			return err
		}
		t.job.Progress = store.JobProgress{Total: total}
		t.zero("documents_synced")
		t.cp.Phase = phasePayloads
		if err := t.save(ctx); err != nil {
			return err
		}
	}
	return r.syncAllACL(ctx, t, index.Alias)
}

// syncAllACL walks every live document after the checkpoint and rewrites its points'
// access fields, counting documents as progress.
func (r *Runner) syncAllACL(ctx context.Context, t *task, collection string) error {
	for t.cp.Phase == phasePayloads {
		docs, err := r.store.DocumentsAfter(ctx, store.LiveDocuments, t.cp.AfterID, r.cfg.DocumentBatch)
		if err != nil {
			return err
		}
		if len(docs) == 0 {
			t.cp.Phase, t.cp.AfterID = phaseDone, ""
		} else {
			if err := r.writeACLs(ctx, collection, docs); err != nil {
				return err
			}
			t.job.Progress.Done += int64(len(docs))
			t.job.Progress.Total = max(t.job.Progress.Total, t.job.Progress.Done)
			t.count("documents_synced", int64(len(docs)))
			t.cp.AfterID = docs[len(docs)-1].ID
		}
		if err := t.save(ctx); err != nil {
			return err
		}
	}
	return nil
}

// writeACLs sets the access fields of the documents' points to what Postgres says.
// It touches only points whose version is not newer than the one read, so it never
// overwrites a state a later ACL job already wrote, yet it does repair a point whose
// fields are wrong under the current version. Written through the alias, the
// documents are recorded as synced, which narrows search's filter again.
func (r *Runner) writeACLs(ctx context.Context, collection string, docs []store.Document) error {
	// Documents whose points get the same access fields share one request.
	groups := map[vector.ACL][]string{}
	var order []vector.ACL
	for _, d := range docs {
		if d.DeletedAt != nil {
			continue
		}
		k := aclOf(d)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], d.ID)
	}
	for _, k := range order {
		ids := groups[k]
		filter := &qdrant.Filter{Must: []*qdrant.Condition{
			qdrant.NewMatchKeywords(vector.FieldDocumentID, ids...),
			qdrant.NewRange(vector.FieldACLVersion, &qdrant.Range{Lte: qdrant.PtrOf(float64(k.ACLVersion))}),
		}}
		if err := r.vectors.SetACLByFilter(ctx, collection, filter, k); err != nil {
			return fmt.Errorf("sync access fields of %d documents: %w", len(ids), err)
		}
	}
	if collection != index.Alias {
		return nil // a collection being built: the one search uses may still lag
	}
	synced := make(map[string]int64, len(docs))
	for _, k := range order {
		for _, id := range groups[k] {
			synced[id] = k.ACLVersion
		}
	}
	return r.store.MarkACLSynced(ctx, synced)
}

// groupMigration gives every user without a group — and every user imported from
// the legacy deployment who owns an imported document in no group — a personal
// group holding their ungrouped documents (shared, not private), then rewrites
// every payload from Postgres. A second run finds nobody to migrate and changes
// nothing.
func (r *Runner) groupMigration(ctx context.Context, t *task) error {
	if t.cp.Phase == "" {
		users, err := r.store.CountUsersWithoutGroup(ctx)
		if err != nil {
			return err
		}
		docs, err := r.store.CountDocuments(ctx, store.LiveDocuments)
		if err != nil {
			return err
		}
		t.job.Progress = store.JobProgress{Total: users + docs}
		t.zero("groups_created", "users_migrated", "documents_moved", "documents_synced")
		t.cp.Phase = phaseGroups
		if err := t.save(ctx); err != nil {
			return err
		}
	}
	for t.cp.Phase == phaseGroups {
		users, err := r.store.UsersWithoutGroup(ctx, t.cp.AfterID, r.cfg.DocumentBatch)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			t.cp.Phase, t.cp.AfterID = phasePayloads, ""
		}
		for _, u := range users {
			if err := r.migrateUser(ctx, t, u); err != nil {
				return err
			}
		}
		if len(users) > 0 {
			t.job.Progress.Done += int64(len(users))
			t.cp.AfterID = users[len(users)-1].ID
		}
		if err := t.save(ctx); err != nil {
			return err
		}
	}
	return r.syncAllACL(ctx, t, index.Alias)
}

// migrateUser puts one user into their personal group, in one transaction so a crash
// never leaves a group without its admin or documents half moved.
func (r *Runner) migrateUser(ctx context.Context, t *task, u store.User) error {
	var created, moved int64
	err := r.store.InTx(ctx, func(st *store.Store) error {
		created, moved = 0, 0
		gid, err := st.PersonalGroupOf(ctx, u.ID)
		if errors.Is(err, store.ErrNotFound) {
			name, err := freeGroupName(ctx, st, u.Name+"-personal")
			if err != nil {
				return err
			}
			if gid, err = st.InsertPersonalGroup(ctx, name, u.ID); err != nil {
				return err
			}
			created = 1
		} else if err != nil {
			return err
		}
		// An imported user may be in their personal group already (a document of
		// theirs was imported after an earlier migration).
		if _, err := st.GetMember(ctx, gid, u.ID); errors.Is(err, store.ErrNotFound) {
			if _, err := st.AddMember(ctx, gid, u.ID, store.RoleAdmin); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		moved, err = st.MoveUngroupedDocuments(ctx, u.ID, gid)
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		// A group took the name between our check and the insert: retry the batch.
		return fmt.Errorf("personal group of %s: %w", u.Name, err)
	}
	if err != nil {
		return fmt.Errorf("personal group of %s: %w", u.Name, err)
	}
	t.count("groups_created", created)
	t.count("users_migrated", 1)
	t.count("documents_moved", moved)
	return nil
}

// freeGroupName returns base, or base-2, base-3, … whichever no group has yet.
func freeGroupName(ctx context.Context, st *store.Store, base string) (string, error) {
	for i := 1; ; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		taken, err := st.GroupNameTaken(ctx, name, "")
		if err != nil || !taken {
			return name, err
		}
	}
}

// uniqueIDs returns the ids sorted without repeats.
func uniqueIDs(ids []string) []string {
	slices.Sort(ids)
	return slices.Compact(ids)
}
