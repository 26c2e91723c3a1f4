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
	"sync/atomic"
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

// walFile is an append-only operation log with group commit: appends happen
// under the collection's write lock, fsync happens after it is released, and
// one fsync covers every append made before it started.
type walFile struct {
	path     string
	f        *os.File
	size     int64
	broken   error
	appended atomic.Uint64

	syncMu sync.Mutex
	synced uint64
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
	return &walFile{path: path, f: f, size: size}, nil
}

// append writes one record and returns its sequence number for sync. The
// caller holds the collection write lock. A failed write is rolled back so
// later records are never stranded behind garbage.
func (w *walFile) append(rec []byte) (uint64, error) {
	if w.broken != nil {
		return 0, w.broken
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
	return w.appended.Add(1), nil
}

// sync makes every record up to seq durable. A log closed by compaction has
// had its contents captured in a durable snapshot, so there is nothing left
// to do.
func (w *walFile) sync(seq uint64) error {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	if w.closed || w.synced >= seq {
		return nil
	}
	target := w.appended.Load()
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync log: %w", err)
	}
	w.synced = target
	return nil
}

func (w *walFile) close() error {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.f.Sync()
	return errors.Join(err, w.f.Close())
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
