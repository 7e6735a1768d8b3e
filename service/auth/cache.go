package auth

import (
	"sync"
	"time"

	"github.com/keygate/keygate/service/store"
)

// CacheConfig bounds a KeyCache. Zero fields take the defaults.
type CacheConfig struct {
	// MaxEntries bounds the number of keys held (default 100,000).
	MaxEntries int
	// MaxBytes bounds their estimated memory (default 64 MiB).
	MaxBytes int
	// TTL bounds how long an entry is trusted even if no change is ever
	// reported: the last line of defence (default 30 s).
	TTL time.Duration
	// NegativeTTL is how long an unknown digest is remembered as unknown
	// (default 5 s). Negative entries are bounded by MaxEntries/10.
	NegativeTTL time.Duration
}

// KeyCache holds what verifying an API key needs (the key and its user)
// by digest, so that a cached key costs no store call and no allocation.
//
// Correctness rests on invalidation, not on the TTL: every change that can
// narrow or end a key's power is reported through Apply (from this process
// or, through a store.Watcher, from any other), and evicts the user's
// entries. While changes may go unreported (no watcher connection), the
// cache is bypassed altogether. An epoch counter makes a lookup that raced
// with an invalidation discard its result instead of caching it: a value
// read before a revocation committed can never be stored after it.
type KeyCache struct {
	cfg CacheConfig
	now func() time.Time

	mu        sync.RWMutex
	trusted   bool
	epoch     uint64
	entries   map[[32]byte]*cacheEntry
	byUser    map[string]map[[32]byte]struct{}
	negatives map[[32]byte]time.Time
	bytes     int
}

type cacheEntry struct {
	key     store.APIKey
	user    store.User
	expires time.Time
	size    int
}

// NewKeyCache returns an empty cache. trusted says whether it may be used
// at once: true for a store only this process changes, false when a
// watcher will report Listening first.
func NewKeyCache(cfg CacheConfig, trusted bool) *KeyCache {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100_000
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 64 << 20
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 30 * time.Second
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 5 * time.Second
	}
	c := &KeyCache{cfg: cfg, now: time.Now, trusted: trusted}
	c.clear()
	return c
}

// get returns the cached answer for a digest: hit reports whether there
// is one, found whether the key exists.
func (c *KeyCache) get(d [32]byte) (k store.APIKey, u store.User, found, hit bool) {
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.trusted {
		return k, u, false, false
	}
	if e, ok := c.entries[d]; ok && now.Before(e.expires) {
		return e.key, e.user, true, true
	}
	if exp, ok := c.negatives[d]; ok && now.Before(exp) {
		return k, u, false, true
	}
	return k, u, false, false
}

// currentEpoch is read before a store lookup and handed to put.
func (c *KeyCache) currentEpoch() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.epoch
}

// put caches a key read from the store, unless anything was invalidated
// since epoch was read.
func (c *KeyCache) put(d [32]byte, epoch uint64, k store.APIKey, u store.User) {
	u.PasswordHash = "" // not needed to verify a key; keep it out of memory
	e := &cacheEntry{key: k, user: u, expires: c.now().Add(c.cfg.TTL)}
	e.size = 256 + len(k.Name) + len(k.Digest) + len(u.Email) + len(u.Name) + 48*len(k.PropertyIDs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.trusted || epoch != c.epoch || e.size > c.cfg.MaxBytes {
		return
	}
	c.remove(d)
	// Evict arbitrary entries (Go's map order is unspecified) until the
	// new one fits: cheap, and fair enough for a cache of this kind.
	for k := range c.entries {
		if len(c.entries) < c.cfg.MaxEntries && c.bytes+e.size <= c.cfg.MaxBytes {
			break
		}
		c.remove(k)
	}
	c.entries[d] = e
	c.bytes += e.size
	if c.byUser[u.ID] == nil {
		c.byUser[u.ID] = map[[32]byte]struct{}{}
	}
	c.byUser[u.ID][d] = struct{}{}
}

// putNegative remembers that no key has digest d.
func (c *KeyCache) putNegative(d [32]byte, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.trusted || epoch != c.epoch {
		return
	}
	for k := range c.negatives {
		if len(c.negatives) < max(c.cfg.MaxEntries/10, 1) {
			break
		}
		delete(c.negatives, k)
	}
	c.negatives[d] = c.now().Add(c.cfg.NegativeTTL)
}

func (c *KeyCache) remove(d [32]byte) {
	e, ok := c.entries[d]
	if !ok {
		return
	}
	delete(c.entries, d)
	c.bytes -= e.size
	if digests := c.byUser[e.user.ID]; digests != nil {
		delete(digests, d)
		if len(digests) == 0 {
			delete(c.byUser, e.user.ID)
		}
	}
}

func (c *KeyCache) clear() {
	c.entries = map[[32]byte]*cacheEntry{}
	c.byUser = map[string]map[[32]byte]struct{}{}
	c.negatives = map[[32]byte]time.Time{}
	c.bytes = 0
}

// InvalidateUser forgets every key of a user.
func (c *KeyCache) InvalidateUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for d := range c.byUser[userID] {
		c.remove(d)
	}
}

// Flush forgets everything.
func (c *KeyCache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.clear()
}

// Apply takes a change reported by a store.Watcher.
func (c *KeyCache) Apply(ch store.Change) {
	switch ch.Kind {
	case store.UserChanged:
		c.InvalidateUser(ch.UserID)
	case store.Listening, store.NotListening:
		// Whatever happened while no one listened is unknown: start
		// afresh, and bypass the cache until listening again.
		c.mu.Lock()
		defer c.mu.Unlock()
		c.epoch++
		c.clear()
		c.trusted = ch.Kind == store.Listening
	}
}

// Len returns the number of keys cached.
func (c *KeyCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
