package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/outbox"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/safehttp"
	"github.com/youworker/youworker/pkg/store"
)

// ObjectStore keeps the original bytes of uploads.
type ObjectStore interface {
	Put(ctx context.Context, name string, r io.Reader) (queue.ObjectInfo, error)
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	Delete(ctx context.Context, name string) error
}

// Documents is the ingestion service: uploads, status, sharing, deletion.
type Documents struct {
	store     *store.Store
	objects   ObjectStore
	audit     *Auditor
	notify    func()
	maxUpload int64
	tmpDir    string
	quotas    QuotaDefaults
	slots     uploadSlots
	// fetcher fetches documents from URLs; nil turns URL ingestion off.
	fetcher *safehttp.Client
	logger  *slog.Logger
}

// DocumentsConfig configures the ingestion service.
type DocumentsConfig struct {
	MaxUploadBytes int64
	// TmpDir holds uploads while they are checked; "" means the system default.
	TmpDir string
	// Notify wakes the outbox relay after jobs are written.
	Notify func()
	// Quota is the storage quota of users an admin gave none of their own.
	Quota QuotaDefaults
	// UploadsPerUser bounds the uploads one user has in progress (BeginUpload);
	// 0 leaves them unbounded.
	UploadsPerUser int
	// Fetcher is the guarded client documents from URLs are fetched with; nil
	// turns URL ingestion off (SubmitURLs refuses, FetchDocument fails).
	Fetcher *safehttp.Client
}

// NewDocuments returns the ingestion service.
func NewDocuments(st *store.Store, objects ObjectStore, audit *Auditor, cfg DocumentsConfig, logger *slog.Logger) *Documents {
	if cfg.Notify == nil {
		cfg.Notify = func() {}
	}
	return &Documents{store: st, objects: objects, audit: audit, notify: cfg.Notify, maxUpload: cfg.MaxUploadBytes,
		tmpDir: cfg.TmpDir, quotas: cfg.Quota, slots: uploadSlots{max: cfg.UploadsPerUser}, fetcher: cfg.Fetcher, logger: logger.With("component", "documents")}
}

// StagedFile is an upload held in a temporary file until the whole request is checked.
type StagedFile struct {
	Filename string
	Format   parse.Format
	Size     int64
	SHA256   string
	path     string
}

// Discard removes the temporary file.
func (f *StagedFile) Discard() {
	if f != nil && f.path != "" {
		_ = os.Remove(f.path)
	}
}

// Stage streams one uploaded file to a temporary file, hashing it on the way and
// enforcing the size limit, then decides its type from its content and name. Nothing
// is stored yet: CommitUpload stores all files of a request or none.
func (d *Documents) Stage(ctx context.Context, filename string, r io.Reader) (*StagedFile, error) {
	name, err := cleanFilename(filename)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(d.tmpDir, "yw-upload-*")
	if err != nil {
		return nil, fmt.Errorf("stage upload: %w", err)
	}
	staged := &StagedFile{Filename: name, path: tmp.Name()}
	ok := false
	defer func() {
		_ = tmp.Close()
		if !ok {
			staged.Discard()
		}
	}()
	h := sha256.New()
	src := &readErrors{r: r}
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(src, d.maxUpload+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if src.err == nil {
			// Our side failed (a full disk, say): a 500, its cause only in the log.
			return nil, fmt.Errorf("stage upload: %w", err)
		}
		return nil, uploadError(src.err, d.maxUpload)
	}
	if n > d.maxUpload {
		return nil, &Error{Code: CodeTooLarge, Message: fmt.Sprintf("%s is larger than the limit of %d bytes", name, d.maxUpload),
			Fields: []FieldError{{Field: "file", Message: name + ": larger than " + fmt.Sprint(d.maxUpload) + " bytes"}}}
	}
	staged.Size, staged.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	format, err := parse.Detect(tmp, n, name)
	if err != nil {
		return nil, &Error{Code: CodeUnsupported, Message: fmt.Sprintf("%s: %s", name, detectMessage(err)),
			Fields: []FieldError{{Field: "file", Message: name + ": " + detectMessage(err)}}}
	}
	staged.Format = format
	ok = true
	return staged, nil
}

func detectMessage(err error) string {
	var pe *parse.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return "this type of file is not supported"
}

// uploadError is the client's error for a body that could not be read. The
// reader's own text (a multipart or network error) stays wrapped for the log.
func uploadError(err error, limit int64) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return Errorf(CodeTooLarge, "the upload is larger than the limit of %d bytes", limit)
	}
	return fmt.Errorf("%w (%w)", Errorf(CodeInvalid, "the upload could not be read to its end; send it again"), err)
}

// readErrors remembers the error of the reader it wraps, so a failed copy can
// tell the client's body from our own disk.
type readErrors struct {
	r   io.Reader
	err error
}

func (e *readErrors) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// UploadOptions are the form fields that apply to every file of an upload.
type UploadOptions struct {
	GroupID string
	Private bool
	Tags    []string
}

// CommitUpload stores the staged files and queues their processing, all or nothing.
// A file with the same bytes as a live document of the same owner returns that
// document with Duplicate set and starts no job, and costs no quota. New files must
// fit the owner's quota (CodeQuotaExceeded) and the upload store (CodeStorageFull).
func (d *Documents) CommitUpload(ctx context.Context, p access.Principal, files []*StagedFile, opts UploadOptions) ([]Document, error) {
	if len(files) == 0 {
		return nil, &Error{Code: CodeInvalid, Message: "file: send at least one file part named \"file\"",
			Fields: []FieldError{{Field: "file", Message: "required"}}}
	}
	tags, err := validateUploadOptions(p, opts)
	if err != nil {
		return nil, err
	}
	var groupID *string
	if opts.GroupID != "" {
		groupID = &opts.GroupID
	}
	// Store the bytes first: a document row must never point at bytes that are missing.
	type pending struct {
		file *StagedFile
		id   string
	}
	var stored []pending
	cleanup := func() {
		for _, s := range stored {
			if err := d.objects.Delete(context.WithoutCancel(ctx), objectKey(s.id)); err != nil {
				d.logger.WarnContext(ctx, "remove orphaned upload", "document_id", s.id, "error", err)
			}
		}
	}
	seen := map[string]bool{}
	var fresh []*StagedFile
	var freshBytes int64
	for _, f := range files {
		if seen[f.SHA256] {
			continue
		}
		seen[f.SHA256] = true
		if _, err := d.store.FindDocumentBySHA(ctx, p.UserID, f.SHA256); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		fresh = append(fresh, f)
		freshBytes += f.Size
	}
	// A quick refusal before any byte is stored; the binding check is in the transaction.
	if err := d.admitUpload(ctx, d.store, p.UserID, freshBytes, int64(len(fresh)), false); err != nil {
		return nil, err
	}
	for _, f := range fresh {
		id := uuid.NewString()
		if err := d.putObject(ctx, id, f); err != nil {
			cleanup()
			return nil, err
		}
		stored = append(stored, pending{file: f, id: id})
	}
	var docs []Document
	err = d.store.InTx(ctx, func(st *store.Store) error {
		docs = docs[:0]
		if err := d.admitUpload(ctx, st, p.UserID, freshBytes, int64(len(stored)), true); err != nil {
			return err
		}
		byHash := map[string]store.Document{}
		for _, s := range stored {
			doc, err := st.InsertDocument(ctx, store.NewDocument{
				ID: s.id, OwnerID: p.UserID, GroupID: groupID, Private: opts.Private, Filename: s.file.Filename,
				MIME: s.file.Format.MIME(), Format: string(s.file.Format), SizeBytes: s.file.Size, SHA256: s.file.SHA256,
				ObjectKey: objectKey(s.id), Tags: tags,
			})
			if err != nil {
				return err
			}
			if err := outbox.Enqueue(ctx, st, job.IngestJob{DocumentID: doc.ID, Generation: doc.Generation}); err != nil {
				return err
			}
			byHash[doc.SHA256] = doc
		}
		for _, f := range files {
			if doc, ok := byHash[f.SHA256]; ok {
				docs = append(docs, documentFromRow(doc))
				delete(byHash, f.SHA256) // the same bytes twice in one request: the second is a duplicate
				continue
			}
			doc, err := st.FindDocumentBySHA(ctx, p.UserID, f.SHA256)
			if err != nil {
				return err
			}
			if p.GroupLimited() {
				// The same bytes may be a document the caller's key does not reach: it
				// must not be shown, and it cannot be made twice.
				if doc, err = st.GetVisibleDocument(ctx, p, doc.ID); errors.Is(err, store.ErrNotFound) {
					return Errorf(CodeConflict, "%s: you already have a document with these bytes, outside the groups this API key reaches", f.Filename)
				} else if err != nil {
					return err
				}
			}
			dup := documentFromRow(doc)
			dup.Duplicate = true
			docs = append(docs, dup)
		}
		return nil
	})
	if err != nil {
		cleanup()
		if ErrorCode(err) != "" {
			return nil, err
		}
		if errors.Is(err, store.ErrConflict) {
			return nil, Errorf(CodeConflict, "the same file is being uploaded concurrently; retry")
		}
		return nil, fmt.Errorf("commit upload: %w", err)
	}
	for _, s := range stored {
		d.audit.Record(ctx, nil, p, "document.upload", "document", s.id, OutcomeSuccess, map[string]any{"format": string(s.file.Format), "size_bytes": s.file.Size})
	}
	if len(stored) > 0 {
		d.notify()
	}
	return docs, nil
}

func (d *Documents) putObject(ctx context.Context, id string, f *StagedFile) error {
	return d.putObjectAt(ctx, objectKey(id), f)
}

func (d *Documents) putObjectAt(ctx context.Context, key string, f *StagedFile) error {
	file, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("reopen staged upload: %w", err)
	}
	defer file.Close()
	info, err := d.objects.Put(ctx, key, file)
	if errors.Is(err, queue.ErrStoreFull) {
		d.logger.WarnContext(ctx, "upload refused: the upload store is full", "error", err)
		msg := "the document store of this platform is full, so nothing of this upload was stored; ask an administrator to make room"
		return &Error{Code: CodeStorageFull, Message: msg, Fields: []FieldError{{Field: "file", Message: msg}}}
	}
	if err != nil {
		return fmt.Errorf("store upload: %w", err)
	}
	if info.SHA256 != f.SHA256 || info.Size != f.Size {
		if err := d.objects.Delete(context.WithoutCancel(ctx), key); err != nil {
			d.logger.WarnContext(ctx, "remove mismatched upload", "object", key, "error", err)
		}
		return fmt.Errorf("store upload: stored bytes differ from the upload")
	}
	return nil
}

// errNoSuchGroup refuses a group_id the caller may not share into: not being a
// member looks exactly like a group that does not exist.
var errNoSuchGroup = &Error{Code: CodeNotFound, Message: "group_id: no such group",
	Fields: []FieldError{{Field: "group_id", Message: "no such group"}}}

func objectKey(documentID string) string { return "documents/" + documentID }

// errGroupRequired refuses a document in no group from a key limited to some
// groups: such a key could never see it again.
var errGroupRequired = &Error{Code: CodeInvalid, Message: "group_id: required, since this API key reaches only some of your groups",
	Fields: []FieldError{{Field: "group_id", Message: "required, since this API key reaches only some of your groups"}}}

func validateUploadOptions(p access.Principal, opts UploadOptions) ([]string, error) {
	var v validation
	if opts.GroupID == "" && p.GroupLimited() {
		return nil, errGroupRequired
	}
	if opts.GroupID != "" {
		if _, err := uuid.Parse(opts.GroupID); err != nil {
			return nil, errNoSuchGroup
		}
		if err := access.CanShareWithGroup(p, opts.GroupID); err != nil {
			return nil, denied(err, errNoSuchGroup, nil)
		}
	}
	tags := make([]string, 0, len(opts.Tags))
	seen := map[string]bool{}
	for _, t := range opts.Tags {
		t = strings.TrimSpace(t)
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		if utf8.RuneCountInString(t) > MaxTagRunes || strings.IndexFunc(t, unicode.IsControl) >= 0 {
			v.add("tags", "each tag must be at most %d printable characters", MaxTagRunes)
			break
		}
		tags = append(tags, t)
	}
	if len(tags) > MaxTags {
		v.add("tags", "at most %d tags", MaxTags)
	}
	return tags, v.err()
}

// cleanFilename keeps the base name of what the client sent, without control
// characters or path parts, and rejects names that are empty or too long.
func cleanFilename(name string) (string, error) {
	name = strings.ReplaceAll(name, "\\", "/")
	name = filepath.Base(strings.TrimSpace(name))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	if name == "" || name == "." || name == ".." || name == "/" {
		return "", &Error{Code: CodeInvalid, Message: "file: every file part needs a filename",
			Fields: []FieldError{{Field: "file", Message: "filename required"}}}
	}
	if utf8.RuneCountInString(name) > 255 {
		return "", &Error{Code: CodeInvalid, Message: "file: filename longer than 255 characters",
			Fields: []FieldError{{Field: "file", Message: "filename longer than 255 characters"}}}
	}
	return name, nil
}
