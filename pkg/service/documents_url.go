package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/google/uuid"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/outbox"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/safehttp"
	"github.com/youworker/youworker/pkg/store"
)

// Failure codes of documents fetched from a URL, besides those of uploads.
const (
	// FailFetch: the URL could not be fetched (no answer, an error status, a
	// redirect loop, a time-out).
	FailFetch = "fetch_failed"
	// FailBlocked: the URL points at (or redirects to) a loopback, private,
	// link-local or cloud metadata address.
	FailBlocked = "blocked_address"
	// FailDuplicate: the fetched bytes are those of another document of the owner.
	FailDuplicate = "duplicate"
	// FailQuota: the fetched bytes would take the owner past their storage quota.
	FailQuota = string(CodeQuotaExceeded)
	// FailStorageFull: the platform's upload store has no room for the bytes.
	FailStorageFull = string(CodeStorageFull)
)

// MaxURLsPerRequest bounds the URLs of one request, as files bound an upload.
const MaxURLsPerRequest = 20

// URLRequest asks for documents to be fetched from URLs.
type URLRequest struct {
	URLs []string
	UploadOptions
}

// SubmitURLs records a document for every URL and queues its fetch: the ingest
// worker fetches it through the guarded client, then parses it like an upload.
// A URL the owner already has a live document of returns that document with
// Duplicate set. Every new document counts against the document quota now, and
// its bytes against the storage quota once fetched.
func (d *Documents) SubmitURLs(ctx context.Context, p access.Principal, req URLRequest) ([]Document, error) {
	if d.fetcher == nil {
		return nil, Errorf(CodeUnsupported, "this platform does not fetch documents from URLs; upload the files instead")
	}
	var v validation
	if len(req.URLs) == 0 {
		v.add("urls", "give at least one URL")
	}
	if len(req.URLs) > MaxURLsPerRequest {
		v.add("urls", "at most %d URLs per request", MaxURLsPerRequest)
	}
	var urls []*url.URL
	seen := map[string]bool{}
	for i, raw := range req.URLs {
		u, err := safehttp.ParseURL(raw)
		if err != nil {
			v.add(fmt.Sprintf("urls[%d]", i), "%s", strings.TrimPrefix(err.Error(), safehttp.ErrURL.Error()+": "))
			continue
		}
		u.Host = strings.ToLower(u.Host)
		if s := u.String(); !seen[s] {
			seen[s] = true
			urls = append(urls, u)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	tags, err := validateUploadOptions(p, req.UploadOptions)
	if err != nil {
		return nil, err
	}
	var groupID *string
	if req.GroupID != "" {
		groupID = &req.GroupID
	}
	var docs []Document
	var added []store.Document
	err = d.store.InTx(ctx, func(st *store.Store) error {
		docs, added = docs[:0], added[:0]
		var fresh []*url.URL
		existing := map[string]store.Document{}
		for _, u := range urls {
			doc, err := st.FindDocumentByURL(ctx, p.UserID, u.String())
			switch {
			case err == nil:
				existing[u.String()] = doc
			case errors.Is(err, store.ErrNotFound):
				fresh = append(fresh, u)
			default:
				return err
			}
		}
		if err := d.admitUpload(ctx, st, p.UserID, 0, int64(len(fresh)), true); err != nil {
			return err
		}
		for _, u := range urls {
			if doc, ok := existing[u.String()]; ok {
				if p.GroupLimited() {
					if doc, err = st.GetVisibleDocument(ctx, p, doc.ID); errors.Is(err, store.ErrNotFound) {
						return Errorf(CodeConflict, "%s: you already have a document from this URL, outside the groups this API key reaches", u)
					} else if err != nil {
						return err
					}
				}
				dup := documentFromRow(doc)
				dup.Duplicate = true
				docs = append(docs, dup)
				continue
			}
			id, source := uuid.NewString(), u.String()
			doc, err := st.InsertDocument(ctx, store.NewDocument{
				ID: id, OwnerID: p.UserID, GroupID: groupID, Private: req.Private, Filename: nameFromURL(u),
				ObjectKey: objectKey(id), Tags: tags, SourceURL: &source,
			})
			if err != nil {
				return err
			}
			if err := outbox.Enqueue(ctx, st, job.IngestJob{DocumentID: doc.ID, Generation: doc.Generation}); err != nil {
				return err
			}
			docs = append(docs, documentFromRow(doc))
			added = append(added, doc)
		}
		return nil
	})
	if err != nil {
		if ErrorCode(err) != "" {
			return nil, err
		}
		if errors.Is(err, store.ErrConflict) {
			return nil, Errorf(CodeConflict, "the same URL is being added concurrently; retry")
		}
		return nil, fmt.Errorf("submit urls: %w", err)
	}
	for _, doc := range added {
		d.audit.Record(ctx, nil, p, "document.add_url", "document", doc.ID, OutcomeSuccess, map[string]any{"host": hostOf(doc.SourceURL)})
	}
	if len(added) > 0 {
		d.notify()
	}
	return docs, nil
}

func hostOf(raw *string) string {
	if raw == nil {
		return ""
	}
	u, err := url.Parse(*raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// Refetch queues a ready or failed document of the caller that came from a URL to
// be fetched again; its content is replaced by what the URL serves now.
func (d *Documents) Refetch(ctx context.Context, p access.Principal, id string) (Document, error) {
	var doc store.Document
	err := d.store.InTx(ctx, func(st *store.Store) error {
		cur, err := d.modifiable(ctx, st, p, id)
		if err != nil {
			return err
		}
		if cur.SourceURL == nil {
			return Errorf(CodeConflict, "only a document added from a URL can be fetched again; upload the file again instead")
		}
		if cur.Status != store.StatusReady && cur.Status != store.StatusFailed {
			return Errorf(CodeConflict, "this document is %s; fetch it again once it is ready or failed", cur.Status)
		}
		if doc, err = st.RequeueFetch(ctx, p, id); err != nil {
			return err
		}
		if err := outbox.Enqueue(ctx, st, job.IngestJob{DocumentID: doc.ID, Generation: doc.Generation}); err != nil {
			return err
		}
		d.audit.Record(ctx, st, p, "document.refetch", "document", id, OutcomeSuccess, nil)
		return nil
	})
	if err != nil {
		return Document{}, err
	}
	d.notify()
	return documentFromRow(doc), nil
}

// FetchFailure is why a document could not be had from its URL: its code and a
// message for the owner. The ingest worker records it as the document's failure.
type FetchFailure struct {
	Code    string
	Message string
	Err     error
}

func (f *FetchFailure) Error() string {
	if f.Err != nil {
		return f.Code + ": " + f.Message + ": " + f.Err.Error()
	}
	return f.Code + ": " + f.Message
}

func (f *FetchFailure) Unwrap() error { return f.Err }

// FailureCode is the document's failure code.
func (f *FetchFailure) FailureCode() string { return f.Code }

// FailureMessage is the sentence the owner reads.
func (f *FetchFailure) FailureMessage() string { return f.Message }

// FetchDocument fetches the bytes of a document being processed that comes from a
// URL, through the guarded client, and records them like an upload's: stored
// under a key of their own, hashed, typed from their content, counted against the
// owner's storage quota, refused when the owner has the same bytes in another
// document. ok is false when the document moved on meanwhile (deleted,
// re-queued). Why the document cannot be had is a *FetchFailure.
func (d *Documents) FetchDocument(ctx context.Context, doc store.Document) (_ store.Document, ok bool, err error) {
	if doc.SourceURL == nil {
		return doc, true, nil
	}
	if d.fetcher == nil {
		return doc, false, &FetchFailure{Code: FailFetch, Message: "this platform does not fetch documents from URLs"}
	}
	resp, err := d.fetcher.Get(ctx, *doc.SourceURL, safehttp.Options{})
	if err != nil {
		return doc, false, d.fetchFailure(ctx, err)
	}
	defer resp.Body.Close()
	name := doc.Filename
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		if clean, err := cleanFilename(params["filename"]); err == nil {
			name = clean
		}
	}
	staged, err := d.stageFetched(ctx, name, resp)
	if err != nil {
		return doc, false, err
	}
	defer staged.Discard()

	key := objectKey(doc.ID) + "/" + staged.SHA256[:32]
	if err := d.putObjectAt(ctx, key, staged); err != nil {
		if ErrorCode(err) == CodeStorageFull {
			return doc, false, &FetchFailure{Code: FailStorageFull, Message: "the document store of this platform is full; ask an administrator to make room, then fetch it again", Err: err}
		}
		return doc, false, err
	}
	var updated store.Document
	err = d.store.InTx(ctx, func(st *store.Store) error {
		if other, err := st.FindDocumentBySHA(ctx, doc.OwnerID, staged.SHA256); err == nil && other.ID != doc.ID {
			return &FetchFailure{Code: FailDuplicate, Message: fmt.Sprintf("you already have this content as “%s” (document %s)", other.Filename, other.ID)}
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		u, err := st.LockUser(ctx, doc.OwnerID)
		if err != nil {
			return err
		}
		use, err := st.UsageOf(ctx, doc.OwnerID)
		if err != nil {
			return err
		}
		// The usage counts what this document held before (nothing, the first time).
		if q := d.quotas.quotaOf(u, use); q.BytesLimit != nil && use.Bytes-doc.SizeBytes+staged.Size > *q.BytesLimit {
			return &FetchFailure{Code: FailQuota, Message: fmt.Sprintf("storage quota exceeded: you use %s of your %s, and this document needs %s; delete documents to make room, then fetch it again",
				HumanBytes(use.Bytes), HumanBytes(*q.BytesLimit), HumanBytes(staged.Size))}
		}
		updated, err = st.RecordFetched(ctx, doc.ID, doc.Generation, store.Fetched{
			Filename: staged.Filename, MIME: staged.Format.MIME(), Format: string(staged.Format),
			SizeBytes: staged.Size, SHA256: staged.SHA256, ObjectKey: key,
		})
		return err
	})
	if err != nil {
		if key != doc.ObjectKey {
			d.removeObject(ctx, doc.ID, key)
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			return doc, false, nil
		case errors.Is(err, store.ErrConflict):
			return doc, false, &FetchFailure{Code: FailDuplicate, Message: "you already have a document with this content", Err: err}
		}
		return doc, false, err
	}
	if doc.ObjectKey != key {
		d.removeObject(ctx, doc.ID, doc.ObjectKey) // what an earlier fetch stored, if anything
	}
	return updated, true, nil
}

func (d *Documents) removeObject(ctx context.Context, id, key string) {
	if err := d.objects.Delete(context.WithoutCancel(ctx), key); err != nil && !errors.Is(err, queue.ErrObjectNotFound) {
		d.logger.WarnContext(ctx, "remove replaced document bytes", "document_id", id, "error", err)
	}
}

// fetchFailure says in words why a URL could not be fetched.
func (d *Documents) fetchFailure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: another worker fetches it
	}
	var blocked *safehttp.BlockedError
	var status *safehttp.StatusError
	switch {
	case errors.As(err, &blocked):
		return &FetchFailure{Code: FailBlocked, Message: "the URL leads to an address inside the network (" + blocked.Range + "), which is not fetched", Err: err}
	case errors.As(err, &status):
		return &FetchFailure{Code: FailFetch, Message: status.Error() + "; fetch it again later", Err: err}
	case errors.Is(err, safehttp.ErrTooLarge):
		return &FetchFailure{Code: parse.CodeTooLarge, Message: fmt.Sprintf("the document is larger than the limit of %s", HumanBytes(d.fetcher.MaxBytes())), Err: err}
	case errors.Is(err, safehttp.ErrTimeout):
		return &FetchFailure{Code: FailFetch, Message: "the server did not send the document in time; fetch it again later", Err: err}
	case errors.Is(err, safehttp.ErrTooManyRedirects):
		return &FetchFailure{Code: FailFetch, Message: "the URL redirects too many times", Err: err}
	case errors.Is(err, safehttp.ErrURL):
		return &FetchFailure{Code: FailFetch, Message: strings.TrimPrefix(err.Error(), safehttp.ErrURL.Error()+": "), Err: err}
	}
	var dnsErr interface{ Timeout() bool }
	msg := "the server could not be reached; fetch it again later"
	if errors.As(err, &dnsErr) && dnsErr.Timeout() {
		msg = "the server did not answer in time; fetch it again later"
	}
	return &FetchFailure{Code: FailFetch, Message: msg, Err: err}
}

// stageFetched streams a response to a temporary file, hashing it, and decides its
// type from its content, its name and the type the server declared.
func (d *Documents) stageFetched(ctx context.Context, name string, resp *safehttp.Response) (*StagedFile, error) {
	tmp, err := os.CreateTemp(d.tmpDir, "yw-fetch-*")
	if err != nil {
		return nil, fmt.Errorf("stage fetched document: %w", err)
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
	src := &readErrors{r: resp.Body}
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err != nil {
		if src.err == nil {
			return nil, fmt.Errorf("stage fetched document: %w", err) // our disk
		}
		return nil, d.fetchFailure(ctx, src.err)
	}
	staged.Size, staged.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	format, err := parse.Detect(tmp, n, detectName(name, resp.MediaType))
	if err != nil {
		return nil, &FetchFailure{Code: parse.CodeUnsupported, Message: detectMessage(err), Err: err}
	}
	staged.Format = format
	ok = true
	return staged, nil
}

// detectName is the name the type is detected by: servers know HTML when they
// send it (a page at /index.php is HTML), and name the type of a file whose URL
// has no extension.
func detectName(name, mediaType string) string {
	ext := strings.ToLower(path.Ext(name))
	switch mediaType {
	case "text/html", "application/xhtml+xml":
		if ext != ".html" && ext != ".htm" && ext != ".xhtml" {
			return name + ".html"
		}
		return name
	}
	if ext != "" {
		return name
	}
	switch mediaType {
	case "text/markdown", "text/x-markdown":
		return name + ".md"
	case "text/csv":
		return name + ".csv"
	case "text/tab-separated-values":
		return name + ".tsv"
	case "message/rfc822":
		return name + ".eml"
	case "text/plain":
		return name + ".txt"
	}
	return name
}

// nameFromURL names a document after the last part of its URL's path, or its
// host for a site's root.
func nameFromURL(u *url.URL) string {
	p := strings.TrimRight(u.Path, "/")
	if i := strings.LastIndex(p, "/"); i >= 0 {
		p = p[i+1:]
	}
	if p != "" {
		if name, err := cleanFilename(p); err == nil {
			return name
		}
	}
	return u.Hostname()
}
