package legacyimport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/youworker/youworker/pkg/vector"
)

// The legacy collection holds one point per chunk with a random UUID id and the
// payload {id, chunk_id, source, uri, mime, path_hash, created_at, text, metadata:
// {chunk_index (from 1), total_chunks, filename, user_id, tags, path_hash, …}}
// (packages/ingestion/embedder_integration.py); older points carry the metadata
// keys at the top level. A point belongs to the legacy document with its owner
// and path_hash (the SHA-256 of the document's uri, else its path).

// chunkRef is one point of a legacy document, without its text.
type chunkRef struct {
	pointID string
	index   int
	created string
}

// collectionIndex is where each legacy document's chunks are in the collection.
type collectionIndex struct {
	points int
	byDoc  map[int64][]chunkRef
	// orphans are points no legacy document claims; ambiguous ones have no owner
	// and a path_hash several documents share.
	orphans, ambiguous int
	// duplicates are points dropped because a later ingestion of the same file
	// replaced them (or another point has the same chunk index).
	duplicates map[int64]int
}

type docKey struct {
	owner    int64
	pathHash string
}

// pathHashOf is the legacy document's path_hash, computed as the legacy
// deployment did when the row has none.
func pathHashOf(d legacyDocument) string {
	if d.PathHash != nil && *d.PathHash != "" {
		return *d.PathHash
	}
	basis := deref(d.URI)
	if basis == "" {
		basis = deref(d.Path)
	}
	if basis == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(basis))
	return hex.EncodeToString(sum[:])
}

// scanCollection reads every point of the legacy collection (without texts or
// vectors) and assigns it to its document.
func scanCollection(ctx context.Context, vs *vector.Store, collection string, docs []legacyDocument) (*collectionIndex, error) {
	byKey := map[docKey]int64{}
	byHash := map[string][]int64{}
	for _, d := range docs {
		h := pathHashOf(d)
		if h == "" {
			continue
		}
		byKey[docKey{d.UserID, h}] = d.ID
		byHash[h] = append(byHash[h], d.ID)
	}
	ix := &collectionIndex{byDoc: map[int64][]chunkRef{}, duplicates: map[int64]int{}}
	offset := ""
	for {
		page, next, err := vs.ScrollRaw(ctx, collection, vector.PayloadFields{Exclude: []string{"text"}}, offset, 512)
		if err != nil {
			if errors.Is(err, vector.ErrNotFound) {
				return nil, fmt.Errorf("the legacy vector store has no collection %q (--collection)", collection)
			}
			return nil, fmt.Errorf("read the legacy collection %q: %w", collection, err)
		}
		for _, p := range page {
			ix.points++
			meta, _ := p.Payload["metadata"].(map[string]any)
			hash := payloadString(p.Payload, meta, "path_hash")
			if hash == "" {
				if uri := payloadString(p.Payload, meta, "uri"); uri != "" {
					sum := sha256.Sum256([]byte(uri))
					hash = hex.EncodeToString(sum[:])
				}
			}
			var doc int64
			if owner, ok := payloadInt(p.Payload, meta, "user_id"); ok {
				doc = byKey[docKey{owner, hash}]
			} else if ids := byHash[hash]; len(ids) == 1 {
				doc = ids[0]
			} else if len(ids) > 1 {
				ix.ambiguous++
				continue
			}
			if doc == 0 {
				ix.orphans++
				continue
			}
			index, ok := payloadInt(p.Payload, meta, "chunk_index")
			if !ok {
				index, ok = payloadInt(p.Payload, meta, "chunk_id")
			}
			if !ok {
				index = math.MaxInt32
			}
			ix.byDoc[doc] = append(ix.byDoc[doc], chunkRef{pointID: p.ID, index: int(index),
				created: payloadString(p.Payload, meta, "created_at")})
		}
		if next == "" {
			break
		}
		offset = next
	}
	for doc, refs := range ix.byDoc {
		// Each ingestion of a file wrote all its points with one created_at and
		// left those of earlier ingestions behind: only the latest counts.
		latest := ""
		for _, r := range refs {
			latest = max(latest, r.created)
		}
		if latest != "" {
			current := refs[:0]
			for _, r := range refs {
				if r.created == latest || r.created == "" {
					current = append(current, r)
				} else {
					ix.duplicates[doc]++
				}
			}
			refs = current
		}
		// By chunk index, the newest point first among those of one index.
		slices.SortFunc(refs, func(a, b chunkRef) int {
			if a.index != b.index {
				return a.index - b.index
			}
			if c := strings.Compare(b.created, a.created); c != 0 {
				return c
			}
			return strings.Compare(a.pointID, b.pointID)
		})
		kept := refs[:0]
		for i, r := range refs {
			if i > 0 && r.index == refs[i-1].index && r.index != math.MaxInt32 {
				ix.duplicates[doc]++
				continue
			}
			kept = append(kept, r)
		}
		ix.byDoc[doc] = kept
	}
	return ix, nil
}

// fetchTexts returns the texts of the points, in order; a point without text
// gives "".
func fetchTexts(ctx context.Context, vs *vector.Store, collection string, refs []chunkRef) ([]string, error) {
	out := make([]string, len(refs))
	const batch = 256
	for start := 0; start < len(refs); start += batch {
		part := refs[start:min(start+batch, len(refs))]
		ids := make([]string, len(part))
		for i, r := range part {
			ids[i] = r.pointID
		}
		points, err := vs.GetRaw(ctx, collection, ids, vector.PayloadFields{Include: []string{"text"}})
		if err != nil {
			return nil, fmt.Errorf("read chunk texts from the legacy collection: %w", err)
		}
		text := make(map[string]string, len(points))
		for _, p := range points {
			s, _ := p.Payload["text"].(string)
			text[p.ID] = s
		}
		for i, r := range part {
			out[start+i] = text[r.pointID]
		}
	}
	return out, nil
}

// payloadString reads key from the point's metadata, else from its top level.
func payloadString(top, meta map[string]any, key string) string {
	for _, m := range []map[string]any{meta, top} {
		if s, ok := m[key].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// payloadInt reads an integer key from the point's metadata, else from its top
// level; numbers may have been stored as floats or strings.
func payloadInt(top, meta map[string]any, key string) (int64, bool) {
	for _, m := range []map[string]any{meta, top} {
		switch v := m[key].(type) {
		case int64:
			return v, true
		case float64:
			if v == math.Trunc(v) {
				return int64(v), true
			}
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
