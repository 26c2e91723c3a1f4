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
	// Sparse configures the named sparse vectors. Absent in files written
	// before sparse vectors existed, which load as collections without any.
	Sparse map[string]sparseMeta `json:"sparse,omitempty"`
}

// sparseMeta is the configuration of one sparse vector. Modifier is kept as
// given (absent, None or Idf) so collection info reports it back unchanged.
type sparseMeta struct {
	Modifier *int32 `json:"modifier,omitempty"`
}

func (m sparseMeta) idf() bool {
	return m.Modifier != nil && qdrant.Modifier(*m.Modifier) == qdrant.Modifier_Idf
}

type indexMeta struct {
	Field    string `json:"field"`
	Schema   int32  `json:"schema"`
	IsTenant bool   `json:"is_tenant,omitempty"`
	// Text holds a full-text index's tokenizer settings; absent in data
	// written before they were kept, which loads with Qdrant's defaults.
	Text *textMeta `json:"text,omitempty"`
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
// the function that applies it, and whether it changes anything (it does not
// when it selects no point). Splitting validation from application lets a
// write be refused before it reaches the log, and makes replay run the same
// code as the RPC that produced the record.
func (c *collection) prepare(op byte, msg proto.Message) (apply func(), changes bool, err error) {
	switch req := msg.(type) {
	case *qdrant.UpsertPoints:
		pts, err := c.prepareUpsert(req.GetPoints())
		if err != nil {
			return nil, false, err
		}
		return func() { c.applyUpsert(pts, op == opUpsert) }, len(pts) > 0, nil
	case *qdrant.DeletePoints:
		slots, err := c.selectSlots(req.GetPoints())
		if err != nil {
			return nil, false, err
		}
		return func() { c.deleteSlots(slots) }, len(slots) > 0, nil
	case *qdrant.SetPayloadPoints:
		slots, err := c.selectSlots(req.GetPointsSelector())
		if err != nil {
			return nil, false, err
		}
		payload := fromPayload(req.GetPayload())
		if op == opOverwritePayload {
			return func() { c.overwritePayload(slots, payload) }, len(slots) > 0, nil
		}
		return func() { c.setPayload(slots, payload, req.GetKey()) }, len(slots) > 0, nil
	case *qdrant.DeletePayloadPoints:
		slots, err := c.selectSlots(req.GetPointsSelector())
		if err != nil {
			return nil, false, err
		}
		return func() { c.deletePayload(slots, req.GetKeys()) }, len(slots) > 0, nil
	case *qdrant.ClearPayloadPoints:
		slots, err := c.selectSlots(req.GetPoints())
		if err != nil {
			return nil, false, err
		}
		return func() { c.overwritePayload(slots, nil) }, len(slots) > 0, nil
	}
	return nil, false, fmt.Errorf("unknown operation %d", op)
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
	apply, _, err := c.prepare(op, msg)
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

// snapshotView is a consistent, immutable view of a collection's live
// points, taken under the write lock so a snapshot can be written without
// holding it. Nothing bulky is copied: vector segments are shared and
// copied by the first writer that changes one (see writableVec), and payload
// maps are shared because writers replace a point's map, never modify it.
type snapshotView struct {
	dim, segSlots int
	segs          [][]float32
	slots         []uint32
	keys          []pointKey
	payloads      []map[string]any
	// sparse holds, per sparse vector name, each live point's vector (nil
	// when it has none). Only the immutable parts of a sparseDoc are read.
	sparse map[string][]*sparseDoc
}

// view captures the live points. The caller holds the write lock.
func (c *collection) view() snapshotView {
	n := len(c.byKey)
	v := snapshotView{dim: c.dim, segSlots: c.segSlots, segs: slices.Clone(c.vecs),
		slots: make([]uint32, 0, n), keys: make([]pointKey, 0, n), payloads: make([]map[string]any, 0, n)}
	for s, ok := range c.alive {
		if !ok {
			continue
		}
		v.slots = append(v.slots, uint32(s))
		v.keys = append(v.keys, c.keys[s])
		v.payloads = append(v.payloads, c.payloads[s])
	}
	if len(c.sparse) > 0 {
		v.sparse = make(map[string][]*sparseDoc, len(c.sparse))
		for name, ix := range c.sparse {
			docs := make([]*sparseDoc, len(v.slots))
			for i, s := range v.slots {
				docs[i] = ix.doc(s)
			}
			v.sparse[name] = docs
		}
	}
	c.shared = make([]bool, len(c.vecs))
	for i := range c.shared {
		c.shared[i] = true
	}
	return v
}

// gather copies the vectors of live points [lo, hi) into dst, point after
// point. It walks component rows in the outer loop: live points are in slot
// order, so each row of a segment (see readVec for the layout) is read
// sequentially instead of one cache line per component per point.
func (v snapshotView) gather(lo, hi int, dst []float32) {
	for d := range v.dim {
		for i := lo; i < hi; i++ {
			s := int(v.slots[i])
			dst[(i-lo)*v.dim+d] = v.segs[s/v.segSlots][d*v.segSlots+s%v.segSlots]
		}
	}
}

// vectors is the wire form of live point i's vectors for a snapshot record:
// the dense vector alone, or with the sparse vectors the point has, the
// same forms an upsert takes.
func (v snapshotView) vectors(i int, dense []float32) *qdrant.Vectors {
	var named map[string]*qdrant.Vector
	for name, docs := range v.sparse {
		if d := docs[i]; d != nil {
			if named == nil {
				named = map[string]*qdrant.Vector{"": qdrant.NewVectorDense(dense)}
			}
			named[name] = qdrant.NewVectorSparse(d.idx, d.val)
		}
	}
	if named == nil {
		return qdrant.NewVectorsDense(dense)
	}
	return qdrant.NewVectorsMap(named)
}

// compact writes a snapshot of the current state and retires the log it
// covers, while writers and searches carry on. The slow parts (creating the
// next log, encoding and fsyncing the snapshot) run without the collection
// lock; under it, only a view of the live points is taken (see view) and the
// logs swapped, so the view is exactly the state produced by the retired log
// and everything after it lands in the next log. The caller holds compactMu.
//
// Crash safety: until the snapshot is renamed into place the retired log is
// still on disk and replayed on load; afterwards load discards it because
// the snapshot's generation covers it.
func (c *collection) compact(threshold int64) error {
	c.mu.RLock()
	skip := c.dropped || c.wal.size < max(threshold, c.snapBytes)
	gen := c.walGen
	c.mu.RUnlock()
	if skip {
		return nil
	}
	// Only compaction changes walGen, and compactMu keeps it to one at a
	// time, so gen is still current when the logs are swapped below.
	next, err := openWAL(filepath.Join(c.dir, walName(gen+1)), 0)
	if err != nil {
		return err
	}
	// The new log's directory entry must be durable before any write in it
	// is acknowledged as durable.
	if err := syncDir(c.dir); err != nil {
		_ = next.close()
		return fmt.Errorf("sync collection dir: %w", err)
	}

	c.mu.Lock()
	if c.dropped {
		c.mu.Unlock()
		return errors.Join(next.close(), os.Remove(next.path))
	}
	view := c.view()
	old := c.wal
	c.wal, c.walGen = next, gen+1
	c.mu.Unlock()

	size, werr := view.write(c.dir, gen)
	c.mu.Lock()
	c.shared = nil // the view is done with: writers may write in place again
	if werr == nil {
		c.snapBytes = size
	}
	c.mu.Unlock()
	// Closing waits for the retired log's last records to be durable, so
	// writers still waiting on it are answered whatever happens to the
	// snapshot.
	cerr := old.close()
	if werr != nil {
		// The retired log stays on disk and keeps its records; the next
		// successful snapshot covers it and removes it.
		c.retired = append(c.retired, old.path)
		return fmt.Errorf("write snapshot of %s: %w", c.name, errors.Join(werr, cerr))
	}
	var errs []error
	for _, p := range append(c.retired, old.path) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove compacted log: %w", err))
		}
	}
	c.retired = nil
	return errors.Join(errs...)
}

// write stores the view as the snapshot of generation gen: through a
// temporary file, fsynced and renamed into place, so a crash leaves either
// the previous snapshot or this one.
func (v snapshotView) write(dir string, gen uint64) (int64, error) {
	path := filepath.Join(dir, snapshotFile)
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
	// One gather buffer, reused: a batch is marshalled before the next
	// overwrites it.
	vbuf := make([]float32, snapshotBatch*v.dim)
	for i := 0; i < len(v.keys) && err == nil; i += snapshotBatch {
		batch.Points = batch.Points[:0]
		end := min(i+snapshotBatch, len(v.keys))
		v.gather(i, end, vbuf)
		for j := i; j < end; j++ {
			off := (j - i) * v.dim
			batch.Points = append(batch.Points, &qdrant.PointStruct{
				Id:      v.keys[j].proto(),
				Payload: toPayload(v.payloads[j]),
				Vectors: v.vectors(j, vbuf[off:off+v.dim:off+v.dim]),
			})
		}
		var body []byte
		if body, err = proto.Marshal(batch); err == nil {
			_, err = w.Write(frame(opSnapshotPoints, body))
		}
	}
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
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, err
	}
	return size, nil
}
