// Package memory is an in-memory store.Store: the zero-setup default. It is
// a complete implementation, held to the same conformance suite as the
// PostgreSQL store; it keeps nothing across restarts.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
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
	mu            sync.RWMutex
	users         map[string]store.User         // by id
	emails        map[string]string             // lower-case email → user id
	sessions      map[string]store.Session      // by digest
	keys          map[string]*store.APIKey      // by id
	keyDigests    map[string]string             // digest → key id
	properties    map[string]store.Property     // by id; Photos never nil
	propertyUsers map[string]store.PropertyUser // by id; UserEmail and UserName left empty but for pending ones
	access        map[string]map[string]string  // property id → user id → property user id
	invites       map[string]map[string]string  // property id → lower-case email → pending property user id
	groups        groupMaps
	events        []store.Event // in the order recorded
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		users:         map[string]store.User{},
		emails:        map[string]string{},
		sessions:      map[string]store.Session{},
		keys:          map[string]*store.APIKey{},
		keyDigests:    map[string]string{},
		properties:    map[string]store.Property{},
		propertyUsers: map[string]store.PropertyUser{},
		access:        map[string]map[string]string{},
		invites:       map[string]map[string]string{},
		groups:        newGroupMaps(),
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
	ev, err := pendingEvent(ctx)
	if err != nil {
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
	s.record(ev)
	s.users[u.ID] = u
	s.emails[email] = u.ID
	// Invitations of this email take effect.
	for propertyID, pending := range s.invites {
		puID, ok := pending[email]
		if !ok {
			continue
		}
		pu := s.propertyUsers[puID]
		pu.UserID, pu.UserEmail = u.ID, ""
		s.propertyUsers[puID] = pu
		s.access[propertyID][u.ID] = puID
		delete(pending, email)
	}
	s.createDefaultGroup(u)
	s.activateGroupInvites(u.ID, email)
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
	ev, err := pendingEvent(ctx)
	if err != nil {
		return store.User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	s.record(ev)
	u.SubscriptionActive = active
	s.users[userID] = u
	return u, nil
}

func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ev, err := pendingEvent(ctx)
	if err != nil {
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
	s.record(ev)
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
	ev, err := pendingEvent(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[string(digest)]; ok {
		s.record(ev)
	}
	delete(s.sessions, string(digest))
	return nil
}

func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ev, err := pendingEvent(ctx)
	if err != nil {
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
	normalizeScope(&k)
	k.CreatedAt, k.RevokedAt, k.LastUsedAt, k.ExpiresAt = ts(k.CreatedAt), ts(k.RevokedAt), ts(k.LastUsedAt), ts(k.ExpiresAt)
	s.record(ev)
	s.keys[k.ID] = &k
	s.keyDigests[string(k.Digest)] = k.ID
	return nil
}

// normalizeScope keeps a key's scope and networks as every store returns
// them: the scope sorted, without duplicates, and empty for an
// all-properties key; the networks masked.
func normalizeScope(k *store.APIKey) {
	if k.AllProperties {
		k.PropertyIDs = []string{}
	}
	slices.Sort(k.PropertyIDs)
	k.PropertyIDs = slices.Compact(k.PropertyIDs)
	for i, p := range k.AllowedIPs {
		k.AllowedIPs[i] = p.Masked()
	}
}

// cloneKey copies a key so that callers never share slices with the store.
func cloneKey(k store.APIKey) store.APIKey {
	k.Digest = slices.Clone(k.Digest)
	k.PropertyIDs = slices.Clone(k.PropertyIDs)
	if k.PropertyIDs == nil {
		k.PropertyIDs = []string{}
	}
	k.AllowedIPs = slices.Clone(k.AllowedIPs)
	if k.AllowedIPs == nil {
		k.AllowedIPs = []netip.Prefix{}
	}
	return k
}

func (s *Store) UpdateAPIKey(ctx context.Context, k store.APIKey, now time.Time) (store.APIKey, error) {
	if err := ctx.Err(); err != nil {
		return store.APIKey{}, err
	}
	ev, err := pendingEvent(ctx)
	if err != nil {
		return store.APIKey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.keys[k.ID]
	if !ok || old.UserID != k.UserID {
		return store.APIKey{}, store.ErrNotFound
	}
	if !old.Active(now) {
		return store.APIKey{}, store.ErrKeyInactive
	}
	for _, id := range k.PropertyIDs {
		if _, ok := s.properties[id]; !ok {
			return store.APIKey{}, store.ErrNotFound
		}
	}
	k = cloneKey(k)
	normalizeScope(&k)
	s.record(ev)
	old.Name, old.AllProperties, old.PropertyIDs = k.Name, k.AllProperties, k.PropertyIDs
	old.ReadOnly, old.AllowedIPs, old.ExpiresAt = k.ReadOnly, k.AllowedIPs, ts(k.ExpiresAt)
	return cloneKey(*old), nil
}

func (s *Store) RollAPIKey(ctx context.Context, userID, id string, next store.APIKey, expiresAt, now time.Time) (store.APIKey, error) {
	if err := ctx.Err(); err != nil {
		return store.APIKey{}, err
	}
	ev, err := pendingEvent(ctx)
	if err != nil {
		return store.APIKey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.keys[id]
	if !ok || old.UserID != userID {
		return store.APIKey{}, store.ErrNotFound
	}
	if !old.Active(now) || old.RolledTo != "" {
		return store.APIKey{}, store.ErrKeyInactive
	}
	if _, ok := s.keyDigests[string(next.Digest)]; ok {
		return store.APIKey{}, store.ErrAlreadyExists
	}
	if _, ok := s.keys[next.ID]; ok {
		return store.APIKey{}, store.ErrAlreadyExists
	}
	k := cloneKey(*old)
	k.ID, k.Digest, k.CreatedAt = next.ID, slices.Clone(next.Digest), ts(next.CreatedAt)
	k.RevokedAt, k.LastUsedAt, k.LastUsedIP = time.Time{}, time.Time{}, netip.Addr{}
	k.RolledFrom, k.RolledTo = old.ID, ""
	if expiresAt = ts(expiresAt); old.ExpiresAt.IsZero() || expiresAt.Before(old.ExpiresAt) {
		old.ExpiresAt = expiresAt
	}
	old.RolledTo = k.ID
	s.record(ev)
	s.keys[k.ID] = &k
	s.keyDigests[string(k.Digest)] = k.ID
	return cloneKey(k), nil
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
	ev, err := pendingEvent(ctx)
	if err != nil {
		return store.APIKey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok || k.UserID != userID {
		return store.APIKey{}, store.ErrNotFound
	}
	if !k.Revoked() {
		s.record(ev)
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

// RecordKeyUse moves the LastUsedAt of known keys forward, all under one
// hold of the lock. Ids the store does not know are skipped, and so are
// zero times.
func (s *Store) RecordKeyUse(ctx context.Context, uses map[string]store.KeyUse) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(uses) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, use := range uses {
		k, ok := s.keys[id]
		if !ok || use.At.IsZero() {
			continue
		}
		if t := ts(use.At); t.After(k.LastUsedAt) {
			k.LastUsedAt, k.LastUsedIP = t, use.IP
		}
	}
	return nil
}

func (s *Store) CreateProperty(ctx context.Context, p store.Property, ownerID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ev, err := pendingEvent(ctx)
	if err != nil {
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
	groupID, err := s.baseGroup(p.GroupID, ownerID)
	if err != nil {
		return err
	}
	p = cloneProperty(p)
	p.CreatedAt, p.UpdatedAt = ts(p.CreatedAt), ts(p.UpdatedAt)
	owner := store.PropertyUser{
		ID:         store.NewID(),
		PropertyID: p.ID,
		UserID:     ownerID,
		Role:       store.RoleOwner,
		CreatedAt:  p.CreatedAt,
	}
	s.properties[p.ID] = p
	s.propertyUsers[owner.ID] = owner
	s.access[p.ID] = map[string]string{ownerID: owner.ID}
	s.invites[p.ID] = map[string]string{}
	if groupID != "" {
		s.link(groupID, p.ID)
	}
	s.record(ev)
	return nil
}

// cloneProperty copies a property so that callers never share memory with
// the store. Photos is never nil in the copy.
func cloneProperty(p store.Property) store.Property {
	if p.Settings.MaxDayAdvance != nil {
		days := *p.Settings.MaxDayAdvance
		p.Settings.MaxDayAdvance = &days
	}
	p.Content.Photos = slices.Clone(p.Content.Photos)
	if p.Content.Photos == nil {
		p.Content.Photos = []store.Photo{}
	}
	p.Facilities = slices.Clone(p.Facilities)
	if p.Facilities == nil {
		p.Facilities = []string{}
	}
	p.GroupID = ""
	return p
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
	return cloneProperty(p), nil
}

func (s *Store) ListProperties(ctx context.Context, q store.PropertyQuery) ([]store.Property, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	order, err := propertyOrder(q.OrderBy, q.Desc)
	if err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	titleContains := strings.ToLower(q.TitleContains)
	var all []store.Property
	for id, p := range s.properties {
		switch {
		case s.role(q.UserID, id) == "",
			q.OnlyIDs && !slices.Contains(q.IDs, id),
			q.FilterIDs != nil && !slices.Contains(q.FilterIDs, id),
			titleContains != "" && !strings.Contains(strings.ToLower(p.Title), titleContains),
			q.IsActive != nil && p.IsActive != *q.IsActive:
			continue
		}
		all = append(all, p)
	}
	slices.SortFunc(all, order)
	props := page(all, q.Offset, q.Limit)
	for i, p := range props {
		props[i] = cloneProperty(p)
	}
	return props, len(all), nil
}

// propertyOrder returns the comparison of a property list: by the key,
// reversed when desc, then always by id ascending.
func propertyOrder(by store.PropertyOrder, desc bool) (func(a, b store.Property) int, error) {
	var key func(a, b store.Property) int
	switch by {
	case "", store.OrderByTitle:
		key = func(a, b store.Property) int { return strings.Compare(a.Title, b.Title) }
	case store.OrderByCreatedAt:
		key = func(a, b store.Property) int { return a.CreatedAt.Compare(b.CreatedAt) }
	default:
		return nil, fmt.Errorf("memory: unknown property order %q", by)
	}
	return func(a, b store.Property) int {
		c := key(a, b)
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	}, nil
}

func (s *Store) UpdateProperty(ctx context.Context, id string, apply func(*store.Property) error) (store.Property, error) {
	if err := ctx.Err(); err != nil {
		return store.Property{}, err
	}
	ev, err := pendingEvent(ctx)
	if err != nil {
		return store.Property{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.properties[id]
	if !ok {
		return store.Property{}, store.ErrNotFound
	}
	p := cloneProperty(old)
	if err := apply(&p); err != nil {
		return store.Property{}, err
	}
	p = cloneProperty(p)
	p.ID, p.IsActive, p.CreatedAt = old.ID, old.IsActive, old.CreatedAt
	p.UpdatedAt = ts(p.UpdatedAt)
	s.record(ev)
	s.properties[id] = p
	return cloneProperty(p), nil
}

func (s *Store) DeleteProperty(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ev, err := pendingEvent(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.properties[id]; !ok {
		return store.ErrNotFound
	}
	s.record(ev) // before the change: the owners it removes still read it
	for _, puID := range s.access[id] {
		delete(s.propertyUsers, puID)
	}
	for _, puID := range s.invites[id] {
		delete(s.propertyUsers, puID)
	}
	delete(s.properties, id)
	delete(s.access, id)
	delete(s.invites, id)
	for groupID := range s.groups.ofProperty[id] {
		s.unlink(groupID, id)
	}
	for _, k := range s.keys {
		k.PropertyIDs = slices.DeleteFunc(k.PropertyIDs, func(p string) bool { return p == id })
	}
	return nil
}

func (s *Store) PropertyRole(ctx context.Context, userID, propertyID string) (store.Role, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.role(userID, propertyID), nil
}

// role is the access function: the stronger of a user's property-user
// role on a property and their roles in the groups that hold it. The
// caller holds the lock.
func (s *Store) role(userID, propertyID string) store.Role {
	var r store.Role
	if puID, ok := s.access[propertyID][userID]; ok {
		r = s.propertyUsers[puID].Role
	}
	for groupID := range s.groups.ofProperty[propertyID] {
		if guID, ok := s.groups.members[groupID][userID]; ok {
			r = store.Stronger(r, s.groups.users[guID].Role)
		}
	}
	return r
}

// validRole refuses roles the store does not know; PostgreSQL's check
// constraint refuses them too.
func validRole(r store.Role) error {
	if r != store.RoleOwner && r != store.RoleUser {
		return fmt.Errorf("memory: unknown role %q", r)
	}
	return nil
}

// withUser returns pu with its user's email and name filled in. The
// caller holds the lock.
func (s *Store) withUser(pu store.PropertyUser) store.PropertyUser {
	if !pu.Pending() {
		u := s.users[pu.UserID]
		pu.UserEmail, pu.UserName = u.Email, u.Name
	}
	pu.Overrides = slices.Clone(pu.Overrides)
	return pu
}

// owners counts the owners of a property. The caller holds the lock.
func (s *Store) owners(propertyID string) int {
	n := 0
	for _, puID := range s.access[propertyID] {
		if s.propertyUsers[puID].Role == store.RoleOwner {
			n++
		}
	}
	return n
}

func (s *Store) AddPropertyUser(ctx context.Context, pu store.PropertyUser) (store.PropertyUser, error) {
	if err := ctx.Err(); err != nil {
		return store.PropertyUser{}, err
	}
	ev, err := pendingEvent(ctx)
	if err != nil {
		return store.PropertyUser{}, err
	}
	if err := validRole(pu.Role); err != nil {
		return store.PropertyUser{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.properties[pu.PropertyID]; !ok {
		return store.PropertyUser{}, store.ErrNotFound
	}
	email := strings.ToLower(pu.UserEmail)
	if pu.UserID == "" && email == "" {
		return store.PropertyUser{}, store.ErrNotFound
	}
	if pu.UserID == "" {
		pu.UserID = s.emails[email] // "" when no account has the email
	} else if _, ok := s.users[pu.UserID]; !ok {
		return store.PropertyUser{}, store.ErrNotFound
	}
	if _, ok := s.propertyUsers[pu.ID]; ok {
		return store.PropertyUser{}, store.ErrAlreadyExists
	}
	pu.UserName, pu.Overrides = "", slices.Clone(pu.Overrides)
	pu.CreatedAt = ts(pu.CreatedAt)
	if pu.Pending() {
		if _, ok := s.invites[pu.PropertyID][email]; ok {
			return store.PropertyUser{}, store.ErrAlreadyExists
		}
		s.invites[pu.PropertyID][email] = pu.ID
	} else {
		if _, ok := s.access[pu.PropertyID][pu.UserID]; ok {
			return store.PropertyUser{}, store.ErrAlreadyExists
		}
		pu.UserEmail = ""
		s.access[pu.PropertyID][pu.UserID] = pu.ID
	}
	s.record(ev)
	s.propertyUsers[pu.ID] = pu
	return s.withUser(pu), nil
}

func (s *Store) GetPropertyUser(ctx context.Context, id string) (store.PropertyUser, error) {
	if err := ctx.Err(); err != nil {
		return store.PropertyUser{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	pu, ok := s.propertyUsers[id]
	if !ok {
		return store.PropertyUser{}, store.ErrNotFound
	}
	return s.withUser(pu), nil
}

func (s *Store) ListPropertyUsers(ctx context.Context, propertyID string, offset, limit int) ([]store.PropertyUser, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.properties[propertyID]; !ok {
		return nil, 0, store.ErrNotFound
	}
	all := []store.PropertyUser{}
	for _, records := range []map[string]string{s.access[propertyID], s.invites[propertyID]} {
		for _, puID := range records {
			all = append(all, s.propertyUsers[puID])
		}
	}
	slices.SortFunc(all, func(a, b store.PropertyUser) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	list := page(all, offset, limit)
	for i, pu := range list {
		list[i] = s.withUser(pu)
	}
	return list, len(all), nil
}

func (s *Store) UpdatePropertyUser(ctx context.Context, id string, role store.Role, overrides []byte) (store.PropertyUser, error) {
	if err := ctx.Err(); err != nil {
		return store.PropertyUser{}, err
	}
	ev, err := pendingEvent(ctx)
	if err != nil {
		return store.PropertyUser{}, err
	}
	if role != "" {
		if err := validRole(role); err != nil {
			return store.PropertyUser{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pu, ok := s.propertyUsers[id]
	if !ok {
		return store.PropertyUser{}, store.ErrNotFound
	}
	if role != "" && role != pu.Role {
		if pu.Role == store.RoleOwner && !pu.Pending() && s.owners(pu.PropertyID) <= 1 {
			return store.PropertyUser{}, store.ErrLastOwner
		}
		pu.Role = role
	}
	if overrides != nil {
		pu.Overrides = slices.Clone(overrides)
	}
	s.record(ev)
	s.propertyUsers[id] = pu
	return s.withUser(pu), nil
}

func (s *Store) RemovePropertyUser(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ev, err := pendingEvent(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pu, ok := s.propertyUsers[id]
	if !ok {
		return store.ErrNotFound
	}
	if !pu.Pending() && pu.Role == store.RoleOwner && s.owners(pu.PropertyID) <= 1 {
		return store.ErrLastOwner
	}
	s.record(ev) // before the change: the owners it removes still read it
	if pu.Pending() {
		delete(s.invites[pu.PropertyID], strings.ToLower(pu.UserEmail))
	} else {
		delete(s.access[pu.PropertyID], pu.UserID)
	}
	delete(s.propertyUsers, id)
	return nil
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
