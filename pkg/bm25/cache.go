package bm25

import "sync"

// Bounds of the stem cache: 16 shards of at most 4096 entries hold the
// common vocabulary of a collection in every language (a few MB at most).
const (
	cacheShards   = 16
	cacheShardMax = 4096
)

// stemCache maps a language and a word to the term ids of its stem and of its
// exact form (see stemIDs).
// Snowball stemming costs about ten times as much as the rest of the
// analysis, and word frequencies are Zipfian, so most words of a chunk have
// been stemmed before. It is shared by the encoder's goroutines; sharding
// keeps them from contending for one lock.
type stemCache struct {
	shards [cacheShards]stemShard
}

type stemShard struct {
	mu sync.RWMutex
	m  map[string]wordIDs
}

// wordIDs are the term ids of a word: its stem, and its exact form when that
// differs from the stem (0 otherwise).
type wordIDs struct {
	stem, exact uint32
}

// get returns the cached ids of key.
func (c *stemCache) get(key []byte, h uint32) (wordIDs, bool) {
	s := &c.shards[h%cacheShards]
	s.mu.RLock()
	ids, ok := s.m[string(key)]
	s.mu.RUnlock()
	return ids, ok
}

// put caches ids for key. A full shard is emptied rather than evicted entry
// by entry: simpler, and the frequent words come back at once.
func (c *stemCache) put(key []byte, h uint32, ids wordIDs) {
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	if s.m == nil || len(s.m) >= cacheShardMax {
		s.m = make(map[string]wordIDs, 256)
	}
	s.m[string(key)] = ids
	s.mu.Unlock()
}
