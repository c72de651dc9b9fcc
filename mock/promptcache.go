package mock

import (
	"container/list"
	"sync"
	"time"
)

// promptCacheEntries bounds each provider's simulated prompt cache.
const promptCacheEntries = 4096

// promptCache is the simulated Anthropic prompt cache of one provider: the
// hashes of the prompt prefixes written to it, each kept until its time to
// live passes without a read, the least recently used evicted first when it
// is full. It is safe for concurrent use.
type promptCache struct {
	mu       sync.Mutex
	capacity int
	entries  map[uint64]*list.Element
	order    list.List // front: most recently used
	// now is time.Now, replaceable by tests.
	now func() time.Time
}

type cacheEntry struct {
	key     uint64
	expires time.Time
}

func newPromptCache(capacity int) *promptCache {
	return &promptCache{capacity: capacity, entries: make(map[uint64]*list.Element), now: time.Now}
}

// lookup reports whether the prefix with hash key is cached, and if so
// refreshes it for ttl, as a read does on Anthropic's cache.
func (c *promptCache) lookup(key uint64, ttl time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return false
	}
	entry := e.Value.(*cacheEntry)
	now := c.now()
	if now.After(entry.expires) {
		c.order.Remove(e)
		delete(c.entries, key)
		return false
	}
	entry.expires = later(entry.expires, now.Add(ttl))
	c.order.MoveToFront(e)
	return true
}

// store writes the prefix with hash key for ttl.
func (c *promptCache) store(key uint64, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	expires := c.now().Add(ttl)
	if e, ok := c.entries[key]; ok {
		entry := e.Value.(*cacheEntry)
		entry.expires = later(entry.expires, expires)
		c.order.MoveToFront(e)
		return
	}
	if c.order.Len() >= c.capacity {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, expires: expires})
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
