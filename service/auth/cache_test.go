package auth

import (
	"testing"
	"time"

	"github.com/keygate/keygate/service/store"
)

func digestFor(s string) [32]byte { return digest(s) }

func testKey(userID string, ids ...string) (store.APIKey, store.User) {
	return store.APIKey{ID: store.NewID(), UserID: userID, PropertyIDs: ids},
		store.User{ID: userID, SubscriptionActive: true, PasswordHash: "$argon2id$secret"}
}

func TestKeyCache(t *testing.T) {
	c := NewKeyCache(CacheConfig{}, true)
	d := digestFor("a")
	if _, _, _, hit := c.get(d); hit {
		t.Fatal("hit on an empty cache")
	}
	k, u := testKey("u1")
	c.put(d, c.currentEpoch(), k, u)
	gk, gu, found, hit := c.get(d)
	if !hit || !found || gk.ID != k.ID || gu.ID != "u1" {
		t.Fatalf("get after put: %v %v %v %v", gk, gu, found, hit)
	}
	if gu.PasswordHash != "" {
		t.Fatal("the cache keeps password hashes")
	}

	// Invalidating the user forgets all of their keys, and nobody else's.
	d2, d3 := digestFor("b"), digestFor("c")
	k2, u2 := testKey("u1")
	k3, u3 := testKey("u2")
	c.put(d2, c.currentEpoch(), k2, u2)
	c.put(d3, c.currentEpoch(), k3, u3)
	c.InvalidateUser("u1")
	for _, x := range [][32]byte{d, d2} {
		if _, _, _, hit := c.get(x); hit {
			t.Fatal("a key of an invalidated user is still cached")
		}
	}
	if _, _, _, hit := c.get(d3); !hit {
		t.Fatal("another user's key was evicted")
	}

	// A lookup that began before an invalidation must not be cached after it.
	epoch := c.currentEpoch()
	c.InvalidateUser("u9")
	c.put(d, epoch, k, u)
	if _, _, _, hit := c.get(d); hit {
		t.Fatal("a value read before an invalidation was cached")
	}

	// Negative entries.
	unknown := digestFor("nope")
	c.putNegative(unknown, c.currentEpoch())
	if _, _, found, hit := c.get(unknown); !hit || found {
		t.Fatal("negative entry not remembered")
	}

	// Not listening: bypassed and emptied; listening again starts empty.
	c.Apply(store.Change{Kind: store.NotListening})
	c.put(d, c.currentEpoch(), k, u)
	if _, _, _, hit := c.get(d3); hit || c.Len() != 0 {
		t.Fatal("an untrusted cache answered or kept entries")
	}
	c.Apply(store.Change{Kind: store.Listening})
	if _, _, _, hit := c.get(d3); hit {
		t.Fatal("entries from before a reconnection survived")
	}
	c.put(d, c.currentEpoch(), k, u)
	c.Apply(store.Change{Kind: store.UserChanged, UserID: "u1"})
	if _, _, _, hit := c.get(d); hit {
		t.Fatal("UserChanged did not evict")
	}
}

func TestKeyCacheBoundsAndTTL(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewKeyCache(CacheConfig{MaxEntries: 100, MaxBytes: 1 << 20, TTL: time.Minute, NegativeTTL: time.Second}, true)
	c.now = func() time.Time { return now }
	for i := 0; i < 1000; i++ {
		k, u := testKey("u")
		c.put(digestFor(k.ID), c.currentEpoch(), k, u)
	}
	if c.Len() != 100 {
		t.Fatalf("%d entries, bound is 100", c.Len())
	}
	// A key with a huge scope counts by its size.
	big := NewKeyCache(CacheConfig{MaxBytes: 64 << 10}, true)
	for i := 0; i < 10; i++ {
		k, u := testKey("u", make([]string, 500)...)
		big.put(digestFor(k.ID), big.currentEpoch(), k, u)
	}
	if big.bytes > 64<<10 || big.Len() > 2 {
		t.Fatalf("%d bytes in %d entries, bound is 64 KiB", big.bytes, big.Len())
	}

	k, u := testKey("v")
	d := digestFor(k.ID)
	c.put(d, c.currentEpoch(), k, u)
	c.putNegative(digestFor("x"), c.currentEpoch())
	now = now.Add(2 * time.Second)
	if _, _, _, hit := c.get(digestFor("x")); hit {
		t.Fatal("negative entry outlived its TTL")
	}
	if _, _, _, hit := c.get(d); !hit {
		t.Fatal("entry expired early")
	}
	now = now.Add(time.Minute)
	if _, _, _, hit := c.get(d); hit {
		t.Fatal("entry outlived its TTL")
	}
}

func TestKeyCacheRoles(t *testing.T) {
	c := NewKeyCache(CacheConfig{}, true)
	if _, ok := c.role("u1", "p1"); ok {
		t.Fatal("role on an empty cache")
	}
	c.putRole("u1", "p1", c.currentEpoch(), store.RoleOwner)
	c.putRole("u1", "p2", c.currentEpoch(), "")
	c.putRole("u2", "p1", c.currentEpoch(), store.RoleUser)
	if r, ok := c.role("u1", "p1"); !ok || r != store.RoleOwner {
		t.Fatalf("role: %q %v", r, ok)
	}
	if r, ok := c.role("u1", "p2"); !ok || r != "" {
		t.Fatalf("no access is not remembered: %q %v", r, ok)
	}
	k, u := testKey("u1")
	c.put(digestFor("k"), c.currentEpoch(), k, u)
	c.InvalidateUser("u1")
	if _, ok := c.role("u1", "p1"); ok {
		t.Fatal("a role of an invalidated user is still cached")
	}
	if _, _, _, hit := c.get(digestFor("k")); hit {
		t.Fatal("a key of an invalidated user is still cached")
	}
	if _, ok := c.role("u2", "p1"); !ok {
		t.Fatal("another user's role was evicted")
	}
	// A role read before an invalidation is not cached after it.
	epoch := c.currentEpoch()
	c.InvalidateUser("u9")
	c.putRole("u2", "p3", epoch, store.RoleOwner)
	if _, ok := c.role("u2", "p3"); ok {
		t.Fatal("a role read before an invalidation was cached")
	}
	// Roles count against the memory bound.
	small := NewKeyCache(CacheConfig{MaxBytes: 100 * roleSize}, true)
	for i := 0; i < 1000; i++ {
		small.putRole("u", store.NewID(), small.currentEpoch(), store.RoleUser)
	}
	if small.bytes > 100*roleSize {
		t.Fatalf("%d bytes of roles, bound %d", small.bytes, 100*roleSize)
	}
}
