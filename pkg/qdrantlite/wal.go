package qdrantlite

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Records in logs and snapshots are framed as
//
//	[4 bytes length of op+body][4 bytes CRC-32C of op+body][1 byte op][body]
//
// A record whose length runs past the end of the file or whose checksum does
// not match is a torn write from a crash: loading stops there and the file is
// truncated to the last good record.

var crcTable = crc32.MakeTable(crc32.Castagnoli)

const recordHeader = 8

// maxRecord bounds a single record so a corrupt length cannot make the
// loader allocate gigabytes.
const maxRecord = 256 << 20

func frame(op byte, body []byte) []byte {
	buf := make([]byte, recordHeader+1+len(body))
	binary.LittleEndian.PutUint32(buf[0:4], uint32(1+len(body)))
	buf[8] = op
	copy(buf[9:], body)
	binary.LittleEndian.PutUint32(buf[4:8], crc32.Checksum(buf[8:], crcTable))
	return buf
}

var errTorn = errors.New("torn record")

// readRecord reads one record. It returns io.EOF at a clean end and errTorn
// for a partial or corrupt record.
func readRecord(r *bufio.Reader, scratch []byte) (op byte, body []byte, n int, err error) {
	var hdr [recordHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return 0, nil, 0, io.EOF
		}
		return 0, nil, 0, errTorn
	}
	size := binary.LittleEndian.Uint32(hdr[0:4])
	if size == 0 || size > maxRecord {
		return 0, nil, 0, errTorn
	}
	if cap(scratch) < int(size) {
		scratch = make([]byte, size)
	}
	buf := scratch[:size]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, 0, errTorn
	}
	if crc32.Checksum(buf, crcTable) != binary.LittleEndian.Uint32(hdr[4:8]) {
		return 0, nil, 0, errTorn
	}
	return buf[0], buf[1:], recordHeader + int(size), nil
}

// walFile is an append-only operation log with group commit. Appends happen
// under the collection's write lock, so the log order is the apply order;
// fsync happens after that lock is released. A writer that needs durability
// waits until a sync covers its offset: if none is running it becomes the
// leader and syncs everything appended so far, otherwise it waits for the
// running sync and, if that one started before its append, for the next.
// Writers arriving during one fsync are thus all committed by a single
// following fsync, whatever their number.
type walFile struct {
	path string
	f    *os.File
	// fsync is f.Sync; tests replace it to observe and stall syncs.
	fsync func() error
	// size and broken are only touched by appends, under the collection's
	// write lock.
	size   int64
	broken error

	mu   sync.Mutex
	cond sync.Cond // signalled when a sync ends or the log closes
	// written is the end offset of the last append; synced the offset the
	// last successful fsync covered.
	written, synced int64
	syncing         bool
	// failed records a failed fsync. After one, the kernel may have dropped
	// the dirty pages and a later fsync could succeed without them, so the
	// log never claims durability again: every waiter and append fails.
	failed error
	closed bool
}

func openWAL(path string, size int64) (*walFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("truncate log: %w", err)
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("seek log: %w", err)
	}
	w := &walFile{path: path, f: f, fsync: f.Sync, size: size, written: size, synced: size}
	w.cond.L = &w.mu
	return w, nil
}

// append writes one record and returns the offset a sync must reach for it
// to be durable. The caller holds the collection write lock. A failed write
// is rolled back so later records are never stranded behind garbage.
func (w *walFile) append(rec []byte) (int64, error) {
	if w.broken != nil {
		return 0, w.broken
	}
	w.mu.Lock()
	failed := w.failed
	w.mu.Unlock()
	if failed != nil {
		return 0, failed
	}
	if _, err := w.f.Write(rec); err != nil {
		if terr := w.f.Truncate(w.size); terr != nil {
			w.broken = fmt.Errorf("log unusable after failed write: %w", errors.Join(err, terr))
		} else if _, serr := w.f.Seek(w.size, io.SeekStart); serr != nil {
			w.broken = fmt.Errorf("log unusable after failed write: %w", errors.Join(err, serr))
		}
		return 0, fmt.Errorf("append to log: %w", err)
	}
	w.size += int64(len(rec))
	w.mu.Lock()
	w.written = w.size
	w.mu.Unlock()
	return w.size, nil
}

// sync returns once every record up to offset is durable.
func (w *walFile) sync(offset int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		switch {
		case w.synced >= offset:
			return nil
		case w.failed != nil:
			return w.failed
		case w.closed:
			// close syncs everything it can; only a failure leaves a gap.
			return errors.New("sync log: log closed")
		case w.syncing:
			w.cond.Wait()
		default:
			w.syncOnce()
		}
	}
}

// syncOnce fsyncs everything written so far, releasing mu during the fsync
// so appends and new waiters are not held up by the disk. mu is held on
// entry and on return.
func (w *walFile) syncOnce() {
	target := w.written
	w.syncing = true
	w.mu.Unlock()
	err := w.fsync()
	w.mu.Lock()
	w.syncing = false
	if err != nil {
		w.failed = fmt.Errorf("sync log: %w", err)
	} else {
		w.synced = max(w.synced, target)
	}
	w.cond.Broadcast()
}

// close makes the log durable and closes it. Waiters still blocked in sync
// return once it is done; no append may follow.
func (w *walFile) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.syncing {
		w.cond.Wait()
	}
	if w.closed {
		return nil
	}
	if w.failed == nil && w.synced < w.written {
		w.syncOnce()
	}
	w.closed = true
	w.cond.Broadcast()
	return errors.Join(w.failed, w.f.Close())
}

func walName(gen uint64) string { return fmt.Sprintf("wal-%08d.log", gen) }

// writeFileAtomic writes data to path through a temporary file, fsyncs it,
// renames it into place and fsyncs the directory, so readers see either the
// old or the new content after a crash.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
