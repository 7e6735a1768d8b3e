package auth

import (
	"context"
	"errors"
	"time"

	"github.com/keygate/keygate/service/store"
)

// Invalidating wraps a store so that changes made through this process
// reach its KeyCache synchronously: once a call that changes a key, a
// subscription or someone's access to a property returns, no later
// request of this process sees the old state. Other processes learn of the
// change through a store.Watcher.
//
// Evictions happen whatever the error: a change may have committed even
// when its answer was lost. Where the affected user is not known after a
// failure, the whole cache is flushed.
func Invalidating(st store.Store, c *KeyCache) store.Store {
	return invalidatingStore{Store: st, cache: c}
}

type invalidatingStore struct {
	store.Store
	cache *KeyCache
}

func (s invalidatingStore) RevokeAPIKey(ctx context.Context, userID, id string, at time.Time) (store.APIKey, error) {
	defer s.cache.InvalidateUser(userID)
	return s.Store.RevokeAPIKey(ctx, userID, id, at)
}

func (s invalidatingStore) SetSubscription(ctx context.Context, userID string, active bool) (store.User, error) {
	defer s.cache.InvalidateUser(userID)
	return s.Store.SetSubscription(ctx, userID, active)
}

// CreateProperty evicts the owner, whose roles might include a cached "no
// access" to the new id.
func (s invalidatingStore) CreateProperty(ctx context.Context, p store.Property, ownerID string) error {
	defer s.cache.InvalidateUser(ownerID)
	return s.Store.CreateProperty(ctx, p, ownerID)
}

// DeleteProperty evicts everyone who had access to it.
func (s invalidatingStore) DeleteProperty(ctx context.Context, id string) error {
	users, listErr := s.Store.ListPropertyUsers(ctx, id)
	err := s.Store.DeleteProperty(ctx, id)
	s.evict(users, listErr)
	return err
}

func (s invalidatingStore) AddPropertyUser(ctx context.Context, pu store.PropertyUser) error {
	defer s.cache.InvalidateUser(pu.UserID)
	return s.Store.AddPropertyUser(ctx, pu)
}

// SetPropertyUserRole evicts the user the returned record names; after an
// error that leaves the outcome unknown, everyone.
func (s invalidatingStore) SetPropertyUserRole(ctx context.Context, id string, role store.Role) (store.PropertyUser, error) {
	pu, err := s.Store.SetPropertyUserRole(ctx, id, role)
	switch {
	case err == nil:
		s.cache.InvalidateUser(pu.UserID)
	case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrLastOwner):
		s.cache.Flush()
	}
	return pu, err
}

func (s invalidatingStore) RemovePropertyUser(ctx context.Context, id string) error {
	pu, getErr := s.Store.GetPropertyUser(ctx, id)
	err := s.Store.RemovePropertyUser(ctx, id)
	s.evict([]store.PropertyUser{pu}, getErr)
	return err
}

// evict forgets the users of access records read before a change, or
// everything when they could not be read (a missing record changes
// nothing).
func (s invalidatingStore) evict(users []store.PropertyUser, readErr error) {
	if errors.Is(readErr, store.ErrNotFound) {
		return
	}
	if readErr != nil {
		s.cache.Flush()
		return
	}
	for _, pu := range users {
		s.cache.InvalidateUser(pu.UserID)
	}
}
