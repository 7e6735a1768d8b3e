package auth

import (
	"context"
	"time"

	"github.com/keygate/keygate/service/store"
)

// Invalidating wraps a store so that changes made through this process
// reach its KeyCache synchronously: once RevokeAPIKey or SetSubscription
// returns, no later request of this process sees the old state. Other
// processes learn of the change through a store.Watcher.
//
// Loss of access to a property and property deletion need no eviction for
// correctness: access is checked against the store on every request that
// names a property, and lists are narrowed by the store. (A cached scope
// may still name a deleted property until the watcher's eviction or the
// TTL; it grants nothing.)
func Invalidating(st store.Store, c *KeyCache) store.Store {
	return invalidatingStore{Store: st, cache: c}
}

type invalidatingStore struct {
	store.Store
	cache *KeyCache
}

// Evictions happen whatever the error: a change may have committed even
// when its answer was lost.

func (s invalidatingStore) RevokeAPIKey(ctx context.Context, userID, id string, at time.Time) (store.APIKey, error) {
	defer s.cache.InvalidateUser(userID)
	return s.Store.RevokeAPIKey(ctx, userID, id, at)
}

func (s invalidatingStore) SetSubscription(ctx context.Context, userID string, active bool) (store.User, error) {
	defer s.cache.InvalidateUser(userID)
	return s.Store.SetSubscription(ctx, userID, active)
}
