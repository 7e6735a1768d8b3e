// Package memory is an in-memory store.Store: the zero-setup default. It is
// a complete implementation, held to the same conformance suite as the
// PostgreSQL store; it keeps nothing across restarts.
package memory

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keygate/keygate/service/store"
)

// Store keeps everything in maps behind one lock. Every method holds the
// lock for its whole duration, which makes each one atomic and serializes
// a revocation against every verification of the same key.
type Store struct {
	mu         sync.RWMutex
	users      map[string]store.User    // by id
	emails     map[string]string        // lower-case email → user id
	sessions   map[string]store.Session // by digest
	keys       map[string]*store.APIKey // by id
	keyDigests map[string]string        // digest → key id
	properties map[string]store.Property
	access     map[string]map[string]bool // property id → user ids
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		users:      map[string]store.User{},
		emails:     map[string]string{},
		sessions:   map[string]store.Session{},
		keys:       map[string]*store.APIKey{},
		keyDigests: map[string]string{},
		properties: map[string]store.Property{},
		access:     map[string]map[string]bool{},
	}
}

// ts normalises a time the way PostgreSQL's timestamptz does.
func ts(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(store.Precision).UTC()
}

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	email := strings.ToLower(u.Email)
	if _, ok := s.emails[email]; ok {
		return store.ErrAlreadyExists
	}
	if _, ok := s.users[u.ID]; ok {
		return store.ErrAlreadyExists
	}
	u.CreatedAt = ts(u.CreatedAt)
	s.users[u.ID] = u
	s.emails[email] = u.ID
	return nil
}

func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	if err := ctx.Err(); err != nil {
		return store.User{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

func (s *Store) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	if err := ctx.Err(); err != nil {
		return store.User{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.emails[strings.ToLower(email)]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return s.users[id], nil
}

func (s *Store) SetSubscription(ctx context.Context, userID string, active bool) (store.User, error) {
	if err := ctx.Err(); err != nil {
		return store.User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	u.SubscriptionActive = active
	s.users[userID] = u
	return u, nil
}

func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[sess.UserID]; !ok {
		return store.ErrNotFound
	}
	if _, ok := s.sessions[string(sess.Digest)]; ok {
		return store.ErrAlreadyExists
	}
	sess.Digest = slices.Clone(sess.Digest)
	sess.CreatedAt, sess.ExpiresAt = ts(sess.CreatedAt), ts(sess.ExpiresAt)
	s.sessions[string(sess.Digest)] = sess
	return nil
}

func (s *Store) GetSession(ctx context.Context, digest []byte) (store.Session, error) {
	if err := ctx.Err(); err != nil {
		return store.Session{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess, ok := s.sessions[string(digest)]
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	sess.Digest = slices.Clone(sess.Digest)
	return sess, nil
}

func (s *Store) DeleteSession(ctx context.Context, digest []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, string(digest))
	return nil
}

func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[k.UserID]; !ok {
		return store.ErrNotFound
	}
	if _, ok := s.keyDigests[string(k.Digest)]; ok {
		return store.ErrAlreadyExists
	}
	if _, ok := s.keys[k.ID]; ok {
		return store.ErrAlreadyExists
	}
	for _, id := range k.PropertyIDs {
		if _, ok := s.properties[id]; !ok {
			return store.ErrNotFound
		}
	}
	k = cloneKey(k)
	if k.AllProperties {
		k.PropertyIDs = nil
	}
	slices.Sort(k.PropertyIDs)
	k.PropertyIDs = slices.Compact(k.PropertyIDs)
	k.CreatedAt, k.RevokedAt, k.LastUsedAt = ts(k.CreatedAt), ts(k.RevokedAt), ts(k.LastUsedAt)
	s.keys[k.ID] = &k
	s.keyDigests[string(k.Digest)] = k.ID
	return nil
}

// cloneKey copies a key so that callers never share slices with the store.
func cloneKey(k store.APIKey) store.APIKey {
	k.Digest = slices.Clone(k.Digest)
	k.PropertyIDs = slices.Clone(k.PropertyIDs)
	if k.PropertyIDs == nil {
		k.PropertyIDs = []string{}
	}
	return k
}

func (s *Store) GetAPIKey(ctx context.Context, userID, id string) (store.APIKey, error) {
	if err := ctx.Err(); err != nil {
		return store.APIKey{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[id]
	if !ok || k.UserID != userID {
		return store.APIKey{}, store.ErrNotFound
	}
	return cloneKey(*k), nil
}

func (s *Store) ListAPIKeys(ctx context.Context, userID string, offset, limit int) ([]store.APIKey, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var all []store.APIKey
	for _, k := range s.keys {
		if k.UserID == userID {
			all = append(all, cloneKey(*k))
		}
	}
	slices.SortFunc(all, func(a, b store.APIKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return page(all, offset, limit), len(all), nil
}

func (s *Store) RevokeAPIKey(ctx context.Context, userID, id string, at time.Time) (store.APIKey, error) {
	if err := ctx.Err(); err != nil {
		return store.APIKey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok || k.UserID != userID {
		return store.APIKey{}, store.ErrNotFound
	}
	if !k.Revoked() {
		k.RevokedAt = ts(at)
	}
	return cloneKey(*k), nil
}

func (s *Store) AuthenticateAPIKey(ctx context.Context, digest []byte) (store.APIKey, store.User, error) {
	if err := ctx.Err(); err != nil {
		return store.APIKey{}, store.User{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.keyDigests[string(digest)]
	if !ok {
		return store.APIKey{}, store.User{}, store.ErrNotFound
	}
	k := s.keys[id]
	return cloneKey(*k), s.users[k.UserID], nil
}

func (s *Store) CreateProperty(ctx context.Context, p store.Property, ownerID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[ownerID]; !ok {
		return store.ErrNotFound
	}
	if _, ok := s.properties[p.ID]; ok {
		return store.ErrAlreadyExists
	}
	p.CreatedAt, p.UpdatedAt = ts(p.CreatedAt), ts(p.UpdatedAt)
	s.properties[p.ID] = p
	s.access[p.ID] = map[string]bool{ownerID: true}
	return nil
}

func (s *Store) GetProperty(ctx context.Context, id string) (store.Property, error) {
	if err := ctx.Err(); err != nil {
		return store.Property{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.properties[id]
	if !ok {
		return store.Property{}, store.ErrNotFound
	}
	return p, nil
}

func (s *Store) ListProperties(ctx context.Context, q store.PropertyQuery) ([]store.Property, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var all []store.Property
	for id, p := range s.properties {
		if !s.access[id][q.UserID] || (q.OnlyIDs && !slices.Contains(q.IDs, id)) {
			continue
		}
		all = append(all, p)
	}
	slices.SortFunc(all, func(a, b store.Property) int {
		if c := strings.Compare(a.Title, b.Title); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return page(all, q.Offset, q.Limit), len(all), nil
}

func (s *Store) UpdateProperty(ctx context.Context, p store.Property) (store.Property, error) {
	if err := ctx.Err(); err != nil {
		return store.Property{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.properties[p.ID]
	if !ok {
		return store.Property{}, store.ErrNotFound
	}
	old.Title, old.Currency, old.UpdatedAt = p.Title, p.Currency, ts(p.UpdatedAt)
	s.properties[p.ID] = old
	return old, nil
}

func (s *Store) DeleteProperty(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.properties[id]; !ok {
		return store.ErrNotFound
	}
	delete(s.properties, id)
	delete(s.access, id)
	for _, k := range s.keys {
		k.PropertyIDs = slices.DeleteFunc(k.PropertyIDs, func(p string) bool { return p == id })
	}
	return nil
}

func (s *Store) HasPropertyAccess(ctx context.Context, userID, propertyID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.access[propertyID][userID], nil
}

func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

func (s *Store) Close() {}

// page returns the items of one page; limit 0 means all from offset.
func page[T any](all []T, offset, limit int) []T {
	if offset >= len(all) {
		return []T{}
	}
	all = all[offset:]
	if limit > 0 && limit < len(all) {
		all = all[:limit]
	}
	return all
}
