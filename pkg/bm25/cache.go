package bm25

import "sync"

// Bounds of the stem cache: 16 shards of at most 4096 entries hold the
// common vocabulary of a collection in every language (a few MB at most).
const (
	cacheShards   = 16
	cacheShardMax = 4096
)

// stemCache maps a language and a word to the term id of its stem.
// Snowball stemming costs about ten times as much as the rest of the
// analysis, and word frequencies are Zipfian, so most words of a chunk have
// been stemmed before. It is shared by the encoder's goroutines; sharding
// keeps them from contending for one lock.
type stemCache struct {
	shards [cacheShards]stemShard
}

type stemShard struct {
	mu sync.RWMutex
	m  map[string]uint32
}

// get returns the cached id of key.
func (c *stemCache) get(key []byte, h uint32) (uint32, bool) {
	s := &c.shards[h%cacheShards]
	s.mu.RLock()
	id, ok := s.m[string(key)]
	s.mu.RUnlock()
	return id, ok
}

// put caches id for key. A full shard is emptied rather than evicted entry
// by entry: simpler, and the frequent words come back at once.
func (c *stemCache) put(key []byte, h, id uint32) {
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	if s.m == nil || len(s.m) >= cacheShardMax {
		s.m = make(map[string]uint32, 256)
	}
	s.m[string(key)] = id
	s.mu.Unlock()
}
