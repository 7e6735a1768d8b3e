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

// KeyCache holds what the interceptor needs: API keys with their users by
// digest, and users' roles on the properties their requests name, so that
// a request with a cached key costs no store call (and verifying the key
// no allocation).
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
	users     map[string]*userEntry
	negatives map[[32]byte]time.Time
	bytes     int
}

// userEntry is what the cache holds about one user: the digests of their
// cached keys, and their roles on properties ("" for no access).
type userEntry struct {
	digests map[[32]byte]struct{}
	roles   map[string]roleEntry
}

type roleEntry struct {
	role    store.Role
	expires time.Time
}

// roleSize is the estimated memory of one cached role.
const roleSize = 128

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
	e, hit := c.entry(d)
	if e == nil {
		return k, u, false, hit
	}
	return e.key, e.user, true, true
}

// entry returns the cached entry of a digest, nil with hit true for a
// digest known to be unknown. An entry is never modified once cached, so
// callers may read it without the lock (and without copying it).
func (c *KeyCache) entry(d [32]byte) (e *cacheEntry, hit bool) {
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.trusted {
		return nil, false
	}
	if e, ok := c.entries[d]; ok && now.Before(e.expires) {
		return e, true
	}
	if exp, ok := c.negatives[d]; ok && now.Before(exp) {
		return nil, true
	}
	return nil, false
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
	c.makeRoom(1, e.size)
	c.entries[d] = e
	c.bytes += e.size
	c.user(u.ID).digests[d] = struct{}{}
}

// role returns a user's cached role on a property; ok reports whether
// there is one ("" means no access).
func (c *KeyCache) role(userID, propertyID string) (role store.Role, ok bool) {
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.trusted {
		return "", false
	}
	if ue := c.users[userID]; ue != nil {
		if r, ok := ue.roles[propertyID]; ok && now.Before(r.expires) {
			return r.role, true
		}
	}
	return "", false
}

// putRole caches a role read from the store, unless anything was
// invalidated since epoch was read.
func (c *KeyCache) putRole(userID, propertyID string, epoch uint64, role store.Role) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.trusted || epoch != c.epoch {
		return
	}
	ue := c.user(userID)
	if _, ok := ue.roles[propertyID]; !ok {
		c.makeRoom(0, roleSize)
		ue = c.user(userID) // makeRoom may have dropped it
		c.bytes += roleSize
	}
	ue.roles[propertyID] = roleEntry{role: role, expires: c.now().Add(c.cfg.TTL)}
}

// user returns the entry of a user, making it if needed.
func (c *KeyCache) user(id string) *userEntry {
	ue := c.users[id]
	if ue == nil {
		ue = &userEntry{digests: map[[32]byte]struct{}{}, roles: map[string]roleEntry{}}
		c.users[id] = ue
	}
	return ue
}

// makeRoom evicts until entries more keys and size more bytes fit. It
// drops arbitrary keys, then arbitrary users' roles (Go's map order is
// unspecified): cheap, and fair enough for a cache of this kind.
func (c *KeyCache) makeRoom(entries, size int) {
	for k := range c.entries {
		if len(c.entries)+entries <= c.cfg.MaxEntries && c.bytes+size <= c.cfg.MaxBytes {
			return
		}
		c.remove(k)
	}
	for id, ue := range c.users {
		if c.bytes+size <= c.cfg.MaxBytes {
			return
		}
		c.bytes -= roleSize * len(ue.roles)
		ue.roles = map[string]roleEntry{}
		if len(ue.digests) == 0 {
			delete(c.users, id)
		}
	}
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
	if ue := c.users[e.user.ID]; ue != nil {
		delete(ue.digests, d)
		if len(ue.digests) == 0 && len(ue.roles) == 0 {
			delete(c.users, e.user.ID)
		}
	}
}

func (c *KeyCache) clear() {
	c.entries = map[[32]byte]*cacheEntry{}
	c.users = map[string]*userEntry{}
	c.negatives = map[[32]byte]time.Time{}
	c.bytes = 0
}

// InvalidateUser forgets every key and role of a user.
func (c *KeyCache) InvalidateUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	ue := c.users[userID]
	if ue == nil {
		return
	}
	for d := range ue.digests {
		c.remove(d)
	}
	c.bytes -= roleSize * len(ue.roles)
	delete(c.users, userID)
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
