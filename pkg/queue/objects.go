package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrObjectNotFound is returned when an object does not exist.
var ErrObjectNotFound = errors.New("object not found")

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
	store jetstream.ObjectStore
}

// NewObjects binds to the uploads bucket declared by Setup.
func NewObjects(ctx context.Context, js jetstream.JetStream) (*Objects, error) {
	store, err := js.ObjectStore(ctx, BucketUploads)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", BucketUploads, err)
	}
	return &Objects{store: store}, nil
}

// Put streams r into the object name (replacing any object of that name),
// hashing it on the way, and returns its size and SHA-256.
func (o *Objects) Put(ctx context.Context, name string, r io.Reader) (ObjectInfo, error) {
	h := sha256.New()
	info, err := o.store.Put(ctx, jetstream.ObjectMeta{Name: name}, io.TeeReader(r, h))
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("put object %s: %w", name, err)
	}
	return ObjectInfo{
		Name:    info.Name,
		Size:    int64(info.Size),
		SHA256:  hex.EncodeToString(h.Sum(nil)),
		ModTime: info.ModTime,
	}, nil
}

// Get opens the object name for reading; the caller closes it. The reader
// fails with an error at the end if the content does not match the digest
// stored at Put, so a corrupted object is never read as valid.
func (o *Objects) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	res, err := o.store.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("get object %s: %w", name, translateObjectErr(err))
	}
	return res, nil
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
// so a delete job can run twice.
func (o *Objects) Delete(ctx context.Context, name string) error {
	if err := o.store.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("delete object %s: %w", name, err)
	}
	return nil
}

func translateObjectErr(err error) error {
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return ErrObjectNotFound
	}
	return err
}
