package queue

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrObjectNotFound is returned when an object does not exist.
var ErrObjectNotFound = errors.New("object not found")

// ErrStoreFull is returned by Put when the uploads object store has reached its
// cap (Config.UploadMaxBytes) or JetStream has no storage left. Nothing of the
// refused object is kept.
var ErrStoreFull = errors.New("the upload store is full")

// JetStream API error codes that mean "no room": a stream at its MaxBytes with
// discard-new (the store-failed error carries "maximum bytes exceeded"), and an
// account or server out of storage.
const (
	errCodeInsufficientResources jetstream.ErrorCode = 10023
	errCodeStorageExceeded       jetstream.ErrorCode = 10047
	errCodeStoreFailed           jetstream.ErrorCode = 10077
)

func isStoreFull(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case errCodeInsufficientResources, errCodeStorageExceeded:
		return true
	case errCodeStoreFailed:
		return strings.Contains(apiErr.Description, "maximum bytes")
	}
	return false
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Name string
	// Size in bytes.
	Size int64
	// SHA256 is the hex-encoded SHA-256 of the content, the form the
	// documents table stores to detect duplicate uploads.
	SHA256  string
	ModTime time.Time
}

// Objects stores uploaded files in the BucketUploads object store, in chunks,
// so no file is ever held in memory whole.
type Objects struct {
	store  jetstream.ObjectStore
	stream jetstream.Stream
}

// NewObjects binds to the uploads bucket declared by Setup.
func NewObjects(ctx context.Context, js jetstream.JetStream) (*Objects, error) {
	store, err := js.ObjectStore(ctx, BucketUploads)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", BucketUploads, err)
	}
	stream, err := js.Stream(ctx, objectStream)
	if err != nil {
		return nil, fmt.Errorf("open object store stream %s: %w", objectStream, err)
	}
	return &Objects{store: store, stream: stream}, nil
}

// Put streams r into the object name (replacing any object of that name),
// hashing it on the way, and returns its size and SHA-256. A store without room
// for it answers ErrStoreFull.
func (o *Objects) Put(ctx context.Context, name string, r io.Reader) (ObjectInfo, error) {
	_, err := o.store.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
	existed := err == nil
	h := sha256.New()
	info, err := o.store.Put(ctx, jetstream.ObjectMeta{Name: name}, io.TeeReader(r, h))
	if err != nil {
		if !existed {
			o.discardFailed(ctx, name)
		}
		if isStoreFull(err) {
			return ObjectInfo{}, fmt.Errorf("put object %s: %w: %w", name, ErrStoreFull, err)
		}
		return ObjectInfo{}, fmt.Errorf("put object %s: %w", name, err)
	}
	return ObjectInfo{
		Name:    info.Name,
		Size:    int64(info.Size),
		SHA256:  hex.EncodeToString(h.Sum(nil)),
		ModTime: info.ModTime,
	}, nil
}

// discardFailed removes what a failed Put of a new object left: the client
// library publishes chunks asynchronously, so a refused chunk can be noticed
// only after the small meta message was stored, leaving an entry whose chunks
// are gone. Purging needs no room, so this works on a full store too.
func (o *Objects) discardFailed(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	info, err := o.store.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
	if err != nil {
		return
	}
	if info.NUID != "" {
		_ = o.stream.Purge(ctx, jetstream.WithPurgeSubject(fmt.Sprintf(objectChunksSubject, BucketUploads, info.NUID)))
	}
	_ = o.stream.Purge(ctx, jetstream.WithPurgeSubject(fmt.Sprintf(objectMetaSubject, BucketUploads, base64.URLEncoding.EncodeToString([]byte(name)))))
}

// Get opens the object name for reading; the caller closes it. The reader
// fails with an error at the end if the content does not match the digest
// stored at Put, so a corrupted object is never read as valid.
//
// Opening and reading are bounded whatever ctx allows: opening by
// objectOpenTimeout, the whole read by that plus a second per MiB. The read's
// chunks come through a consumer of the object stream; when the NATS node
// serving it dies, the chunks can stop coming for good, and the read would wait
// for ctx's deadline — half an hour for an ingest job, whose heartbeats keep it
// from any other worker meanwhile. Bounded, the read fails and its job is retried.
func (o *Objects) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	octx, cancel := context.WithTimeout(ctx, objectOpenTimeout)
	info, err := o.store.GetInfo(octx, name)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("get object %s: %w", name, translateObjectErr(err))
	}
	budget := objectOpenTimeout + time.Duration(int64(info.Size)/objectMinRate)*time.Second
	rctx, cancel := context.WithTimeout(ctx, budget)
	res, err := o.store.Get(rctx, name)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("get object %s: %w", name, translateObjectErr(err))
	}
	return &boundedObject{ReadCloser: res, cancel: cancel}, nil
}

// Bounds of Get (variables so a test can shorten them).
var (
	objectOpenTimeout       = 30 * time.Second
	objectMinRate     int64 = 1 << 20 // bytes a second: the slowest read allowed
)

// boundedObject releases the read's deadline when it is closed.
type boundedObject struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *boundedObject) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// Info describes the object name.
func (o *Objects) Info(ctx context.Context, name string) (ObjectInfo, error) {
	info, err := o.store.GetInfo(ctx, name)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("object info %s: %w", name, translateObjectErr(err))
	}
	out := ObjectInfo{Name: info.Name, Size: int64(info.Size), ModTime: info.ModTime}
	if sum, err := jetstream.DecodeObjectDigest(info.Digest); err == nil {
		out.SHA256 = hex.EncodeToString(sum)
	}
	return out, nil
}

// Delete removes the object name. Deleting a missing object is not an error,
// so a delete job can run twice. The object's chunks are purged before its
// delete marker is written: a store at its cap has no room for the marker
// until the chunks are gone, and a full store must always be able to shrink.
func (o *Objects) Delete(ctx context.Context, name string) error {
	info, err := o.store.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete object %s: %w", name, err)
	}
	if info.NUID != "" && !info.Deleted {
		if err := o.stream.Purge(ctx, jetstream.WithPurgeSubject(fmt.Sprintf(objectChunksSubject, BucketUploads, info.NUID))); err != nil {
			return fmt.Errorf("delete object %s: purge chunks: %w", name, err)
		}
	}
	if err := o.store.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("delete object %s: %w", name, err)
	}
	return nil
}

// Usage reports the bytes the uploads store holds and its cap (0: unbounded).
func (o *Objects) Usage(ctx context.Context) (used, limit int64, err error) {
	info, err := o.stream.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("upload store usage: %w", err)
	}
	limit = info.Config.MaxBytes
	if limit < 0 {
		limit = 0
	}
	return int64(info.State.Bytes), limit, nil
}

func translateObjectErr(err error) error {
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return ErrObjectNotFound
	}
	return err
}
