package qdrantlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const aliasesFile = "aliases.json"

// engine owns every collection and the alias table. mu guards the two maps;
// each collection has its own lock for its points.
type engine struct {
	dir          string
	logger       *slog.Logger
	compactBytes int64

	mu      sync.RWMutex
	colls   map[string]*collection
	aliases map[string]string

	// compactions tracks background compactions so closeAll can wait for
	// them.
	compactions sync.WaitGroup
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$`)

func (e *engine) collDir(name string) string { return filepath.Join(e.dir, "collections", name) }

func openEngine(dir string, compactBytes int64, logger *slog.Logger) (*engine, error) {
	e := &engine{dir: dir, logger: logger, compactBytes: compactBytes, colls: map[string]*collection{}, aliases: map[string]string{}}
	root := filepath.Join(dir, "collections")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	for _, ent := range entries {
		name := ent.Name()
		if strings.HasPrefix(name, ".") {
			// Leftovers of an interrupted create or delete.
			if err := os.RemoveAll(filepath.Join(root, name)); err != nil {
				return nil, fmt.Errorf("remove leftover %s: %w", name, err)
			}
			continue
		}
		if !ent.IsDir() {
			continue
		}
		c, err := loadCollection(filepath.Join(root, name), name, logger)
		if err != nil {
			e.closeAll()
			return nil, fmt.Errorf("load collection %s: %w", name, err)
		}
		e.colls[name] = c
		logger.Info("loaded collection", "collection", name, "points", c.count())
	}
	data, err := os.ReadFile(filepath.Join(dir, aliasesFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		e.closeAll()
		return nil, fmt.Errorf("read aliases: %w", err)
	default:
		if err := json.Unmarshal(data, &e.aliases); err != nil {
			e.closeAll()
			return nil, fmt.Errorf("decode aliases: %w", err)
		}
	}
	return e, nil
}

// closeAll waits for running compactions, then makes every log durable and
// closes it. compactMu stays locked afterwards: a closed collection must
// never start another compaction.
func (e *engine) closeAll() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, c := range e.colls {
		c.compactMu.Lock()
		c.mu.Lock()
		if c.wal != nil {
			errs = append(errs, c.wal.close())
		}
		c.dropped = true
		c.mu.Unlock()
	}
	e.compactions.Wait()
	return errors.Join(errs...)
}

// startCompaction compacts c in the background unless a compaction of it is
// already running: the write that crossed the threshold is not held up by
// it, and neither are the writes that follow.
func (e *engine) startCompaction(c *collection) {
	if !c.compactMu.TryLock() {
		return
	}
	e.compactions.Add(1)
	go func() {
		defer e.compactions.Done()
		defer c.compactMu.Unlock()
		if err := c.compact(e.compactBytes); err != nil {
			// Every acknowledged operation is durable in a log; a failed
			// compaction only means the logs keep growing.
			e.logger.Error("compaction failed", "collection", c.name, "error", err)
		}
	}()
}

// resolve finds a collection by name or alias, as every points RPC does.
func (e *engine) resolve(name string) (*collection, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if c, ok := e.colls[name]; ok {
		return c, nil
	}
	if target, ok := e.aliases[name]; ok {
		if c, ok := e.colls[target]; ok {
			return c, nil
		}
	}
	return nil, errNotFound(name)
}

func (e *engine) create(req *qdrant.CreateCollection) error {
	name := req.GetCollectionName()
	if !validName.MatchString(name) {
		return errWrongInput("collection name %q must be 1-255 letters, digits, '_', '-' or '.'", name)
	}
	params := req.GetVectorsConfig().GetParams()
	if params == nil {
		if req.GetVectorsConfig().GetParamsMap() != nil {
			return status.Errorf(codes.Unimplemented, "collection %s: named dense vectors are not supported, only one unnamed dense vector (sparse vectors may be named)", name)
		}
		return errWrongInput("collection %s: a single unnamed dense vector config is required", name)
	}
	if params.GetSize() == 0 || params.GetSize() > 65536 {
		return errWrongInput("collection %s: vector size must be between 1 and 65536", name)
	}
	switch params.GetDistance() {
	case qdrant.Distance_Cosine, qdrant.Distance_Dot, qdrant.Distance_Euclid, qdrant.Distance_Manhattan:
	default:
		return errWrongInput("collection %s: unknown distance", name)
	}
	sparse, err := sparseConfig(name, req.GetSparseVectorsConfig())
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.colls[name]; ok {
		// Qdrant answers AlreadyExists here, so clients can tell a lost
		// creation race from a bad request by the code alone.
		return status.Errorf(codes.AlreadyExists, "Collection `%s` already exists!", name)
	}
	if _, ok := e.aliases[name]; ok {
		return errWrongInput("Can't create collection with name %s. Alias with the same name already exists", name)
	}
	meta := collectionMeta{Dim: int(params.GetSize()), Distance: int32(params.GetDistance()), Sparse: sparse}
	tmp := e.collDir("." + name + ".creating")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("create collection %s: %w", name, err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("create collection %s: %w", name, err)
	}
	if err := writeMeta(tmp, meta); err != nil {
		return err
	}
	dir := e.collDir(name)
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("create collection %s: %w", name, err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("create collection %s: %w", name, err)
	}
	c := newCollection(name, dir, meta)
	w, err := openWAL(filepath.Join(dir, walName(1)), 0)
	if err != nil {
		return err
	}
	c.wal, c.walGen = w, 1
	e.colls[name] = c
	return nil
}

// sparseConfig checks the sparse vectors of a new collection. Their index
// parameters (on disk, full scan threshold, datatype) only tune Qdrant's
// storage and are accepted and ignored; the modifier changes scores, so an
// unknown one is refused.
func sparseConfig(coll string, cfg *qdrant.SparseVectorConfig) (map[string]sparseMeta, error) {
	if len(cfg.GetMap()) == 0 {
		return nil, nil
	}
	out := make(map[string]sparseMeta, len(cfg.GetMap()))
	for name, p := range cfg.GetMap() {
		if name == "" {
			return nil, errWrongInput("collection %s: a sparse vector needs a name (the unnamed vector is dense)", coll)
		}
		if len(name) > 255 {
			return nil, errWrongInput("collection %s: sparse vector name %.20q... is longer than 255 bytes", coll, name)
		}
		var m sparseMeta
		if p.Modifier != nil {
			switch p.GetModifier() {
			case qdrant.Modifier_None, qdrant.Modifier_Idf:
				m.Modifier = qdrant.PtrOf(int32(p.GetModifier()))
			default:
				return nil, errWrongInput("collection %s: sparse vector %q: unknown modifier %d", coll, name, p.GetModifier())
			}
		}
		out[name] = m
	}
	return out, nil
}

// drop deletes a collection and, as Qdrant does, the aliases pointing at it.
func (e *engine) drop(name string) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.colls[name]
	if !ok {
		return false, nil
	}
	aliases := maps.Clone(e.aliases)
	for a, t := range aliases {
		if t == name {
			delete(aliases, a)
		}
	}
	if len(aliases) != len(e.aliases) {
		if err := e.saveAliases(aliases); err != nil {
			return false, err
		}
		e.aliases = aliases
	}
	// Wait for a running compaction: it writes into the directory that is
	// about to move. compactMu stays locked, as in closeAll.
	c.compactMu.Lock()
	c.mu.Lock()
	c.dropped = true
	werr := c.wal.close()
	c.mu.Unlock()
	delete(e.colls, name)
	trash := e.collDir(fmt.Sprintf(".%s.deleted-%d", name, time.Now().UnixNano()))
	if err := os.Rename(c.dir, trash); err != nil {
		return false, fmt.Errorf("delete collection %s: %w", name, errors.Join(err, werr))
	}
	if err := syncDir(filepath.Dir(trash)); err != nil {
		return false, fmt.Errorf("delete collection %s: %w", name, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		e.logger.Warn("could not remove deleted collection files", "collection", name, "error", err)
	}
	return true, nil
}

func (e *engine) saveAliases(a map[string]string) error {
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode aliases: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(e.dir, aliasesFile), data); err != nil {
		return fmt.Errorf("write aliases: %w", err)
	}
	return nil
}

// updateAliases applies all actions to a copy and installs it only when every
// action succeeded and the new table is durable: the change is atomic.
func (e *engine) updateAliases(actions []*qdrant.AliasOperations) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	next := maps.Clone(e.aliases)
	for _, a := range actions {
		switch x := a.GetAction().(type) {
		case *qdrant.AliasOperations_CreateAlias:
			alias, target := x.CreateAlias.GetAliasName(), x.CreateAlias.GetCollectionName()
			if _, ok := e.colls[target]; !ok {
				return errNotFound(target)
			}
			if _, ok := e.colls[alias]; ok {
				// As in Qdrant: the name is taken by a collection.
				return status.Errorf(codes.AlreadyExists, "Collection `%s` already exists!", alias)
			}
			if !validName.MatchString(alias) {
				return errWrongInput("alias name %q is not valid", alias)
			}
			next[alias] = target
		case *qdrant.AliasOperations_DeleteAlias:
			alias := x.DeleteAlias.GetAliasName()
			if _, ok := next[alias]; !ok {
				return status.Errorf(codes.NotFound, "Not found: Alias %s not found", alias)
			}
			delete(next, alias)
		case *qdrant.AliasOperations_RenameAlias:
			from, to := x.RenameAlias.GetOldAliasName(), x.RenameAlias.GetNewAliasName()
			target, ok := next[from]
			if !ok {
				return status.Errorf(codes.NotFound, "Not found: Alias %s not found", from)
			}
			if _, ok := e.colls[to]; ok {
				return errWrongInput("Alias `%s` conflicts with an existing collection", to)
			}
			delete(next, from)
			next[to] = target
		default:
			return errWrongInput("empty alias action")
		}
	}
	if err := e.saveAliases(next); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	e.aliases = next
	return nil
}

func (e *engine) listAliases(collection string) []*qdrant.AliasDescription {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []*qdrant.AliasDescription
	for a, t := range e.aliases {
		if collection == "" || t == collection {
			out = append(out, &qdrant.AliasDescription{AliasName: a, CollectionName: t})
		}
	}
	slices.SortFunc(out, func(x, y *qdrant.AliasDescription) int { return strings.Compare(x.AliasName, y.AliasName) })
	return out
}

func (e *engine) names() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]string, 0, len(e.colls))
	for n := range e.colls {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// mutate logs and applies one change to a collection. The record is written
// before the change is visible; with wait it is also fsynced before return.
func (e *engine) mutate(name string, op byte, req proto.Message, wait bool) (*qdrant.UpdateResult, error) {
	c, err := e.resolve(name)
	if err != nil {
		return nil, err
	}
	body, err := proto.Marshal(req)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode operation: %v", err)
	}
	rec := frame(op, body)

	c.mu.Lock()
	if c.dropped {
		c.mu.Unlock()
		return nil, errNotFound(name)
	}
	apply, changes, err := c.prepare(op, req)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	w := c.wal
	// An operation that selects nothing is not logged: replay would find it
	// selects nothing too. Waiting for it still waits for everything logged
	// before it, as it would if it were logged. This spares an append and an
	// fsync for the common cleanup that finds nothing to delete.
	end := w.size
	if changes {
		if end, err = w.append(rec); err != nil {
			c.mu.Unlock()
			return nil, status.Errorf(codes.Internal, "collection %s: %v", c.name, err)
		}
		apply()
	}
	c.opSeq++
	opID := c.opSeq
	needCompact := w.size >= max(e.compactBytes, c.snapBytes)
	c.mu.Unlock()

	res := &qdrant.UpdateResult{OperationId: &opID, Status: qdrant.UpdateStatus_Acknowledged}
	if wait {
		if err := w.sync(end); err != nil {
			return nil, status.Errorf(codes.Internal, "collection %s: %v", c.name, err)
		}
		res.Status = qdrant.UpdateStatus_Completed
	}
	if needCompact {
		e.startCompaction(c)
	}
	return res, nil
}

// createIndex records a payload index in the collection config and builds it
// from the current payloads. Creating an existing index replaces it.
func (e *engine) createIndex(req *qdrant.CreateFieldIndexCollection) error {
	c, err := e.resolve(req.GetCollectionName())
	if err != nil {
		return err
	}
	field := req.GetFieldName()
	if field == "" {
		return errWrongInput("field name is required")
	}
	if _, err := parsePath(field); err != nil {
		return errWrongInput("%v", err)
	}
	schema := schemaForFieldType(req.GetFieldType())
	text := textMetaFrom(req.GetFieldIndexParams().GetTextIndexParams())
	if text != nil && text.Tokenizer == int32(qdrant.TokenizerType_Unknown) {
		return errWrongInput("unknown tokenizer type")
	}
	tenant := req.GetFieldIndexParams().GetKeywordIndexParams().GetIsTenant() ||
		req.GetFieldIndexParams().GetUuidIndexParams().GetIsTenant()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped {
		return errNotFound(req.GetCollectionName())
	}
	meta := c.meta
	meta.Indexes = slices.DeleteFunc(slices.Clone(meta.Indexes), func(m indexMeta) bool { return m.Field == field })
	meta.Indexes = append(meta.Indexes, indexMeta{Field: field, Schema: int32(schema), IsTenant: tenant, Text: text})
	if err := writeMeta(c.dir, meta); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	c.meta = meta
	ix := newFieldIndex(schema, tenant, text)
	for s, ok := range c.alive {
		if ok {
			ix.update(uint32(s), nil, lookup(c.payloads[s], field))
		}
	}
	c.indexes[field] = ix
	return nil
}

func (e *engine) deleteIndex(collection, field string) error {
	c, err := e.resolve(collection)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped {
		return errNotFound(collection)
	}
	meta := c.meta
	meta.Indexes = slices.DeleteFunc(slices.Clone(meta.Indexes), func(m indexMeta) bool { return m.Field == field })
	if err := writeMeta(c.dir, meta); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	c.meta = meta
	delete(c.indexes, field)
	return nil
}
