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
//
// The wrapper does not embed store.Store: it implements every method
// itself, so a method added to the interface does not compile here until
// someone decides whether it evicts. Each method is one of two kinds:
//
//   - evicts: it can narrow or end the power of someone's API keys, or
//     turn a cached "no access" stale (revocations, key updates and rolls,
//     subscriptions, properties and access to them);
//   - silent: it reads, or writes only what no key's power depends on
//     (users are created with no keys; sessions are not cached; recording
//     a use narrows nothing; a new key is not cached before its first use;
//     the audit trail).
func Invalidating(st store.Store, c *KeyCache) store.Store {
	return invalidatingStore{inner: st, cache: c}
}

type invalidatingStore struct {
	inner store.Store
	cache *KeyCache
}

var _ store.Store = invalidatingStore{}

// --- evicts ---

func (s invalidatingStore) RevokeAPIKey(ctx context.Context, userID, id string, at time.Time) (store.APIKey, error) {
	defer s.cache.InvalidateUser(userID)
	return s.inner.RevokeAPIKey(ctx, userID, id, at)
}

func (s invalidatingStore) UpdateAPIKey(ctx context.Context, k store.APIKey, now time.Time) (store.APIKey, error) {
	defer s.cache.InvalidateUser(k.UserID)
	return s.inner.UpdateAPIKey(ctx, k, now)
}

func (s invalidatingStore) RollAPIKey(ctx context.Context, userID, id string, next store.APIKey, expiresAt, now time.Time) (store.APIKey, error) {
	defer s.cache.InvalidateUser(userID)
	return s.inner.RollAPIKey(ctx, userID, id, next, expiresAt, now)
}

func (s invalidatingStore) SetSubscription(ctx context.Context, userID string, active bool) (store.User, error) {
	defer s.cache.InvalidateUser(userID)
	return s.inner.SetSubscription(ctx, userID, active)
}

// CreateProperty evicts the owner and the members of the property's
// groups, whose roles might include a cached "no access" to the new id.
func (s invalidatingStore) CreateProperty(ctx context.Context, p store.Property, ownerID string) error {
	defer s.cache.InvalidateUser(ownerID)
	err := s.inner.CreateProperty(ctx, p, ownerID)
	if err == nil {
		s.evictPropertyGroups(ctx, p.ID)
	}
	return err
}

// DeleteProperty evicts everyone who had access to it, directly or
// through a group.
func (s invalidatingStore) DeleteProperty(ctx context.Context, id string) error {
	users, _, listErr := s.inner.ListPropertyUsers(ctx, id, 0, 0)
	groups, groupsErr := s.inner.PropertyGroups(ctx, []string{id})
	members, membersErr := s.groupMembers(ctx, groups[id])
	err := s.inner.DeleteProperty(ctx, id)
	s.evict(users, listErr)
	s.evictMembers(members, errors.Join(groupsErr, membersErr))
	return err
}

// AddPropertyUser evicts the user the stored record names (it may be an
// account found by email); after an error that leaves the outcome
// unknown, everyone.
func (s invalidatingStore) AddPropertyUser(ctx context.Context, pu store.PropertyUser) (store.PropertyUser, error) {
	out, err := s.inner.AddPropertyUser(ctx, pu)
	switch {
	case err == nil:
		s.cache.InvalidateUser(out.UserID)
	case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrAlreadyExists):
		s.cache.Flush()
	}
	return out, err
}

// UpdatePropertyUser evicts the user the returned record names; after an
// error that leaves the outcome unknown, everyone.
func (s invalidatingStore) UpdatePropertyUser(ctx context.Context, id string, role store.Role, overrides []byte) (store.PropertyUser, error) {
	pu, err := s.inner.UpdatePropertyUser(ctx, id, role, overrides)
	switch {
	case err == nil:
		s.cache.InvalidateUser(pu.UserID)
	case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrLastOwner):
		s.cache.Flush()
	}
	return pu, err
}

func (s invalidatingStore) RemovePropertyUser(ctx context.Context, id string) error {
	pu, getErr := s.inner.GetPropertyUser(ctx, id)
	err := s.inner.RemovePropertyUser(ctx, id)
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

// --- silent ---

func (s invalidatingStore) CreateUser(ctx context.Context, u store.User) error {
	return s.inner.CreateUser(ctx, u)
}

func (s invalidatingStore) GetUser(ctx context.Context, id string) (store.User, error) {
	return s.inner.GetUser(ctx, id)
}

func (s invalidatingStore) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	return s.inner.GetUserByEmail(ctx, email)
}

func (s invalidatingStore) CreateSession(ctx context.Context, sess store.Session) error {
	return s.inner.CreateSession(ctx, sess)
}

func (s invalidatingStore) GetSession(ctx context.Context, digest []byte) (store.Session, error) {
	return s.inner.GetSession(ctx, digest)
}

func (s invalidatingStore) DeleteSession(ctx context.Context, digest []byte) error {
	return s.inner.DeleteSession(ctx, digest)
}

func (s invalidatingStore) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	return s.inner.CreateAPIKey(ctx, k)
}

func (s invalidatingStore) GetAPIKey(ctx context.Context, userID, id string) (store.APIKey, error) {
	return s.inner.GetAPIKey(ctx, userID, id)
}

func (s invalidatingStore) ListAPIKeys(ctx context.Context, userID string, offset, limit int) ([]store.APIKey, int, error) {
	return s.inner.ListAPIKeys(ctx, userID, offset, limit)
}

func (s invalidatingStore) AuthenticateAPIKey(ctx context.Context, digest []byte) (store.APIKey, store.User, error) {
	return s.inner.AuthenticateAPIKey(ctx, digest)
}

func (s invalidatingStore) RecordKeyUse(ctx context.Context, uses map[string]store.KeyUse) error {
	return s.inner.RecordKeyUse(ctx, uses)
}

func (s invalidatingStore) GetProperty(ctx context.Context, id string) (store.Property, error) {
	return s.inner.GetProperty(ctx, id)
}

func (s invalidatingStore) ListProperties(ctx context.Context, q store.PropertyQuery) ([]store.Property, int, error) {
	return s.inner.ListProperties(ctx, q)
}

func (s invalidatingStore) UpdateProperty(ctx context.Context, id string, apply func(*store.Property) error) (store.Property, error) {
	return s.inner.UpdateProperty(ctx, id, apply)
}

func (s invalidatingStore) PropertyRole(ctx context.Context, userID, propertyID string) (store.Role, error) {
	return s.inner.PropertyRole(ctx, userID, propertyID)
}

func (s invalidatingStore) GetPropertyUser(ctx context.Context, id string) (store.PropertyUser, error) {
	return s.inner.GetPropertyUser(ctx, id)
}

func (s invalidatingStore) ListPropertyUsers(ctx context.Context, propertyID string, offset, limit int) ([]store.PropertyUser, int, error) {
	return s.inner.ListPropertyUsers(ctx, propertyID, offset, limit)
}

func (s invalidatingStore) Ping(ctx context.Context) error { return s.inner.Ping(ctx) }

func (s invalidatingStore) Close() { s.inner.Close() }

// The audit trail is silent: no key's power depends on it.

func (s invalidatingStore) ListAuditEvents(ctx context.Context, q store.AuditQuery) ([]store.Event, int, error) {
	return s.inner.ListAuditEvents(ctx, q)
}

func (s invalidatingStore) RecordFailedSignIn(ctx context.Context, ev store.Event, since time.Time) error {
	return s.inner.RecordFailedSignIn(ctx, ev, since)
}

func (s invalidatingStore) PurgeAuditEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.inner.PurgeAuditEvents(ctx, before, limit)
}
