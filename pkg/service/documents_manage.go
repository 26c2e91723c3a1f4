package service

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/outbox"
	"github.com/youworker/youworker/pkg/store"
)

// Get returns a document the caller may see.
func (d *Documents) Get(ctx context.Context, p access.Principal, id string) (Document, error) {
	doc, err := d.visible(ctx, p, id)
	if err != nil {
		return Document{}, err
	}
	return documentFromRow(doc), nil
}

// visible returns the row of a document the caller may see.
func (d *Documents) visible(ctx context.Context, p access.Principal, id string) (store.Document, error) {
	if !p.IsUser() {
		return store.Document{}, errDocumentNotFound // sees nothing (access.DocumentPredicate)
	}
	doc, err := d.store.GetVisibleDocument(ctx, p, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Document{}, errDocumentNotFound
	}
	return doc, err
}

// ListOptions filter a document list.
type ListOptions struct {
	Status  string
	GroupID string
	Limit   int
	Cursor  string
}

// List pages through every document the caller may see.
func (d *Documents) List(ctx context.Context, p access.Principal, o ListOptions) (store.Page[Document], error) {
	var v validation
	switch o.Status {
	case "", store.StatusQueued, store.StatusProcessing, store.StatusReady, store.StatusFailed:
	default:
		v.add("status", "must be queued, processing, ready or failed")
	}
	if o.GroupID != "" {
		if _, err := uuid.Parse(o.GroupID); err != nil {
			v.add("group_id", "must be a group id")
		}
	}
	if err := v.err(); err != nil {
		return store.Page[Document]{}, err
	}
	after, err := decodeCursor(o.Cursor)
	if err != nil {
		return store.Page[Document]{}, err
	}
	page, err := d.store.ListVisibleDocuments(ctx, p, store.DocumentFilter{Status: o.Status, GroupID: o.GroupID}, clampLimit(o.Limit), after)
	docs := mapPage(page, documentFromRow)
	if docs.Items == nil {
		docs.Items = []Document{}
	}
	return docs, err
}

// Content opens the original bytes of a document the caller may see.
func (d *Documents) Content(ctx context.Context, p access.Principal, id string) (Document, io.ReadCloser, error) {
	doc, err := d.visible(ctx, p, id)
	if err != nil {
		return Document{}, nil, err
	}
	if !doc.Fetched() {
		return Document{}, nil, Errorf(CodeConflict, "this document has not been fetched from its URL yet")
	}
	if !doc.OriginalAvailable {
		return Document{}, nil, errOriginalUnavailable
	}
	rc, err := d.objects.Get(ctx, doc.ObjectKey)
	if err != nil {
		return Document{}, nil, fmt.Errorf("open document content: %w", err)
	}
	return documentFromRow(doc), rc, nil
}

// CodeOriginalUnavailable answers for the bytes of a document imported from the
// legacy deployment's search index, whose original file was not available.
const CodeOriginalUnavailable Code = "original_unavailable"

var errOriginalUnavailable = Errorf(CodeOriginalUnavailable,
	"the original file of this document was not available when it was imported; only its text was recovered")

// errDocumentNotFound answers for documents that are missing or that the caller may
// not see or not change: the three look the same from outside.
var errDocumentNotFound = Errorf(CodeNotFound, "document not found")

// modifiable returns a document the caller may change (access.CanModifyDocument); a
// visible document of someone else is not found too.
func (d *Documents) modifiable(ctx context.Context, st *store.Store, p access.Principal, id string) (store.Document, error) {
	if !p.IsUser() {
		return store.Document{}, errDocumentNotFound
	}
	doc, err := st.GetVisibleDocument(ctx, p, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Document{}, errDocumentNotFound
	}
	if err != nil {
		return store.Document{}, err
	}
	if err := access.CanModifyDocument(p, doc.OwnerID); err != nil {
		return store.Document{}, denied(err, errDocumentNotFound, nil)
	}
	return doc, nil
}

// Delete hides the caller's document at once and queues the purge of its vectors,
// chunks and bytes. Deleting twice is the same as deleting once.
func (d *Documents) Delete(ctx context.Context, p access.Principal, id string) error {
	err := d.store.InTx(ctx, func(st *store.Store) error {
		if _, err := d.modifiable(ctx, st, p, id); err != nil {
			return err
		}
		doc, err := st.SoftDeleteDocument(ctx, p, id)
		if err != nil {
			return err
		}
		if err := enqueueDelete(ctx, st, doc); err != nil {
			return err
		}
		d.audit.Record(ctx, st, p, "document.delete", "document", id, OutcomeSuccess, nil)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return errDocumentNotFound
	}
	if err == nil {
		d.notify()
	}
	return err
}

func enqueueDelete(ctx context.Context, st *store.Store, doc store.Document) error {
	return outbox.Enqueue(ctx, st, job.DeleteJob{DocumentID: doc.ID, OwnerID: doc.OwnerID})
}

// Retry queues a failed document of the caller again; anything else is a conflict.
func (d *Documents) Retry(ctx context.Context, p access.Principal, id string) (Document, error) {
	var doc store.Document
	err := d.store.InTx(ctx, func(st *store.Store) error {
		cur, err := d.modifiable(ctx, st, p, id)
		if err != nil {
			return err
		}
		if cur.Status != store.StatusFailed {
			return Errorf(CodeConflict, "only a failed document can be retried; this one is %s", cur.Status)
		}
		if doc, err = st.RequeueDocument(ctx, p, id); err != nil {
			return err
		}
		return outbox.Enqueue(ctx, st, job.IngestJob{DocumentID: doc.ID, Generation: doc.Generation})
	})
	if err != nil {
		return Document{}, err
	}
	d.notify()
	return documentFromRow(doc), nil
}

// PurgeUserData hides every document of a user being deleted and queues their purge,
// in the caller's transaction.
func (d *Documents) PurgeUserData(ctx context.Context, st *store.Store, userID string) error {
	docs, err := st.SoftDeleteDocumentsOf(ctx, userID)
	if err != nil {
		return err
	}
	for _, doc := range docs {
		if err := enqueueDelete(ctx, st, doc); err != nil {
			return err
		}
	}
	d.notify()
	return nil
}

// TransferSharedDocuments hands every document of a user being deleted that is
// shared with a group to an admin of the group, in the caller's transaction; the
// vector payloads follow through ACL-sync jobs, as for any change of sharing.
func (d *Documents) TransferSharedDocuments(ctx context.Context, st *store.Store, userID string) (int, error) {
	docs, err := st.TransferSharedDocuments(ctx, userID)
	if err != nil {
		return 0, err
	}
	for _, doc := range docs {
		if err := outbox.Enqueue(ctx, st, job.ACLJob{DocumentID: doc.ID, Version: doc.ACLVersion}); err != nil {
			return 0, err
		}
	}
	if len(docs) > 0 {
		d.notify()
	}
	return len(docs), nil
}

// SharingChange is a PATCH of a document's sharing; nil fields stay as they are.
type SharingChange struct {
	// GroupID set with Value "" unshares; nil leaves the group unchanged.
	GroupID *string
	Private *bool
}

// UpdateSharing changes the group and privacy of the caller's document. Postgres
// changes at once, so search obeys the new rule on the next request; the vector
// payloads follow through an ACL-sync job guarded by the document's ACL version.
func (d *Documents) UpdateSharing(ctx context.Context, p access.Principal, id string, ch SharingChange) (Document, error) {
	var doc store.Document
	err := d.store.InTx(ctx, func(st *store.Store) error {
		cur, err := d.modifiable(ctx, st, p, id)
		if err != nil {
			return err
		}
		groupID, private := cur.GroupID, cur.Private
		if ch.GroupID != nil {
			if *ch.GroupID == "" {
				if p.GroupLimited() {
					return errGroupRequired
				}
				groupID = nil
			} else {
				if err := access.CanShareWithGroup(p, *ch.GroupID); err != nil {
					return denied(err, errNoSuchGroup, nil)
				}
				g := *ch.GroupID
				groupID = &g
			}
		}
		if ch.Private != nil {
			private = *ch.Private
		}
		if doc, err = st.UpdateSharing(ctx, p, id, groupID, private); err != nil {
			return err
		}
		if err := outbox.Enqueue(ctx, st, job.ACLJob{DocumentID: doc.ID, Version: doc.ACLVersion}); err != nil {
			return err
		}
		d.audit.Record(ctx, st, p, "document.share", "document", id, OutcomeSuccess,
			map[string]any{"group_id": groupID, "private": private})
		return nil
	})
	if err != nil {
		return Document{}, err
	}
	d.notify()
	return documentFromRow(doc), nil
}
