package qdrantlite

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/protobuf/proto"
)

// collectionMeta is the persisted configuration of a collection. Payload
// indexes live here rather than in the log: they only speed up filters and
// never change results, so they need no ordering relative to point writes.
type collectionMeta struct {
	Dim      int         `json:"dim"`
	Distance int32       `json:"distance"`
	Indexes  []indexMeta `json:"indexes,omitempty"`
}

type indexMeta struct {
	Field    string `json:"field"`
	Schema   int32  `json:"schema"`
	IsTenant bool   `json:"is_tenant,omitempty"`
}

const (
	metaFile     = "collection.json"
	snapshotFile = "snapshot.bin"

	opSnapshotHeader byte = 0x10
	opSnapshotEnd    byte = 0x11

	snapshotBatch = 256
)

func writeMeta(dir string, m collectionMeta) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode collection config: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, metaFile), data); err != nil {
		return fmt.Errorf("write collection config: %w", err)
	}
	return nil
}

// prepare validates a logged operation against the current state and returns
// the function that applies it. Splitting validation from application lets a
// write be refused before it reaches the log, and makes replay run the same
// code as the RPC that produced the record.
func (c *collection) prepare(op byte, msg proto.Message) (func(), error) {
	switch req := msg.(type) {
	case *qdrant.UpsertPoints:
		pts, err := c.prepareUpsert(req.GetPoints())
		if err != nil {
			return nil, err
		}
		return func() { c.applyUpsert(pts, op == opUpsert) }, nil
	case *qdrant.DeletePoints:
		slots, err := c.selectSlots(req.GetPoints())
		if err != nil {
			return nil, err
		}
		return func() { c.deleteSlots(slots) }, nil
	case *qdrant.SetPayloadPoints:
		slots, err := c.selectSlots(req.GetPointsSelector())
		if err != nil {
			return nil, err
		}
		payload := fromPayload(req.GetPayload())
		if op == opOverwritePayload {
			return func() { c.overwritePayload(slots, payload) }, nil
		}
		return func() { c.setPayload(slots, payload, req.GetKey()) }, nil
	case *qdrant.DeletePayloadPoints:
		slots, err := c.selectSlots(req.GetPointsSelector())
		if err != nil {
			return nil, err
		}
		return func() { c.deletePayload(slots, req.GetKeys()) }, nil
	case *qdrant.ClearPayloadPoints:
		slots, err := c.selectSlots(req.GetPoints())
		if err != nil {
			return nil, err
		}
		return func() { c.overwritePayload(slots, nil) }, nil
	}
	return nil, fmt.Errorf("unknown operation %d", op)
}

func newOpMessage(op byte) (proto.Message, error) {
	switch op {
	case opUpsert, opSnapshotPoints:
		return &qdrant.UpsertPoints{}, nil
	case opDelete:
		return &qdrant.DeletePoints{}, nil
	case opSetPayload, opOverwritePayload:
		return &qdrant.SetPayloadPoints{}, nil
	case opDeletePayload:
		return &qdrant.DeletePayloadPoints{}, nil
	case opClearPayload:
		return &qdrant.ClearPayloadPoints{}, nil
	}
	return nil, fmt.Errorf("unknown operation %d", op)
}

func (c *collection) replay(op byte, body []byte) error {
	msg, err := newOpMessage(op)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(body, msg); err != nil {
		return fmt.Errorf("decode operation %d: %w", op, err)
	}
	apply, err := c.prepare(op, msg)
	if err != nil {
		return fmt.Errorf("replay operation %d: %w", op, err)
	}
	apply()
	return nil
}

// loadCollection rebuilds a collection from its snapshot and the logs
// written after it. Logs already covered by the snapshot are leftovers of an
// interrupted compaction and are removed.
func loadCollection(dir, name string, logger *slog.Logger) (*collection, error) {
	data, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil, fmt.Errorf("read collection config: %w", err)
	}
	var meta collectionMeta
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("decode collection config: %w", err)
	}
	c := newCollection(name, dir, meta)

	snapGen, err := c.loadSnapshot()
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list collection dir: %w", err)
	}
	var gens []uint64
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, "wal-") || !strings.HasSuffix(n, ".log") {
			continue
		}
		g, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(n, "wal-"), ".log"), 10, 64)
		if err != nil {
			continue
		}
		if g <= snapGen {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return nil, fmt.Errorf("remove compacted log: %w", err)
			}
			continue
		}
		gens = append(gens, g)
	}
	slices.Sort(gens)
	cur, size := snapGen+1, int64(0)
	for _, g := range gens {
		n, err := c.replayLog(filepath.Join(dir, walName(g)), logger)
		if err != nil {
			return nil, err
		}
		cur, size = g, n
	}
	if c.wal, err = openWAL(filepath.Join(dir, walName(cur)), size); err != nil {
		return nil, err
	}
	c.walGen = cur
	return c, nil
}

func (c *collection) loadSnapshot() (uint64, error) {
	path := filepath.Join(c.dir, snapshotFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open snapshot: %w", err)
	}
	defer func() { _ = f.Close() }()
	if st, err := f.Stat(); err == nil {
		c.snapBytes = st.Size()
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var gen uint64
	var scratch []byte
	for first := true; ; first = false {
		op, body, _, err := readRecord(r, scratch)
		if err != nil {
			// Snapshots are renamed into place complete, so a bad one is
			// real corruption, not a torn write: refuse to guess.
			return 0, fmt.Errorf("snapshot of %s is corrupt: %w", c.name, err)
		}
		scratch = body[:0:cap(body)]
		switch {
		case first && op == opSnapshotHeader && len(body) == 8:
			gen = binary.LittleEndian.Uint64(body)
		case first:
			return 0, fmt.Errorf("snapshot of %s has no header", c.name)
		case op == opSnapshotEnd:
			return gen, nil
		default:
			if err := c.replay(op, body); err != nil {
				return 0, fmt.Errorf("load snapshot of %s: %w", c.name, err)
			}
		}
	}
}

// replayLog applies every intact record of a log and returns the length of
// its intact prefix; a torn tail is cut off so new records follow good ones.
func (c *collection) replayLog(path string, logger *slog.Logger) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open log: %w", err)
	}
	defer func() { _ = f.Close() }()
	r := bufio.NewReaderSize(f, 1<<20)
	var good int64
	var scratch []byte
	for {
		op, body, n, err := readRecord(r, scratch)
		if err == io.EOF {
			return good, nil
		}
		if errors.Is(err, errTorn) {
			logger.Warn("ignoring torn tail of operation log", "collection", c.name, "file", filepath.Base(path), "offset", good)
			return good, nil
		}
		if err != nil {
			return 0, err
		}
		scratch = body[:0:cap(body)]
		if err := c.replay(op, body); err != nil {
			return 0, fmt.Errorf("replay log of %s: %w", c.name, err)
		}
		good += int64(n)
	}
}

// compact writes a snapshot of the current state and starts a new log. It
// holds the read lock: searches continue, writers wait, and the state on disk
// is exactly the state covered by the log being retired.
func (c *collection) compact(threshold int64) error {
	if !c.compacting.CompareAndSwap(false, true) {
		return nil
	}
	defer c.compacting.Store(false)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.dropped || c.wal.size < max(threshold, c.snapBytes) {
		return nil
	}
	gen := c.walGen
	size, err := c.writeSnapshot(gen)
	if err != nil {
		return err
	}
	next, err := openWAL(filepath.Join(c.dir, walName(gen+1)), 0)
	if err != nil {
		return err
	}
	if err := syncDir(c.dir); err != nil {
		_ = next.close()
		return fmt.Errorf("sync collection dir: %w", err)
	}
	old := c.wal
	c.wal, c.walGen, c.snapBytes = next, gen+1, size
	if err := old.close(); err != nil {
		return err
	}
	if err := os.Remove(old.path); err != nil {
		return fmt.Errorf("remove compacted log: %w", err)
	}
	return nil
}

func (c *collection) writeSnapshot(gen uint64) (int64, error) {
	path := filepath.Join(c.dir, snapshotFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("create snapshot: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], gen)
	_, err = w.Write(frame(opSnapshotHeader, hdr[:]))
	batch := &qdrant.UpsertPoints{}
	flush := func() {
		if err != nil || len(batch.Points) == 0 {
			return
		}
		var body []byte
		if body, err = proto.Marshal(batch); err == nil {
			_, err = w.Write(frame(opSnapshotPoints, body))
		}
		batch.Points = batch.Points[:0]
	}
	for s, ok := range c.alive {
		if !ok || err != nil {
			continue
		}
		slot := uint32(s)
		batch.Points = append(batch.Points, &qdrant.PointStruct{
			Id:      c.keys[slot].proto(),
			Payload: toPayload(c.payloads[slot]),
			Vectors: qdrant.NewVectorsDense(c.vecs[s*c.dim : (s+1)*c.dim]),
		})
		if len(batch.Points) == snapshotBatch {
			flush()
		}
	}
	flush()
	if err == nil {
		_, err = w.Write(frame(opSnapshotEnd, nil))
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	var size int64
	if st, serr := f.Stat(); serr == nil {
		size = st.Size()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(c.dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("write snapshot of %s: %w", c.name, err)
	}
	return size, nil
}
