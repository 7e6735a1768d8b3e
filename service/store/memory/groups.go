package memory

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/keygate/keygate/service/store"
)

// groupMaps holds groups, their properties and their users. Every access
// is under Store.mu.
type groupMaps struct {
	byID       map[string]store.Group
	users      map[string]store.GroupUser     // by id; UserEmail left empty but for pending ones
	members    map[string]map[string]string   // group id → user id → group user id
	invites    map[string]map[string]string   // group id → lower-case email → pending group user id
	properties map[string]map[string]struct{} // group id → property ids
	ofProperty map[string]map[string]struct{} // property id → group ids
	defaults   map[string]string              // user id → default group id
}

func newGroupMaps() groupMaps {
	return groupMaps{
		byID:       map[string]store.Group{},
		users:      map[string]store.GroupUser{},
		members:    map[string]map[string]string{},
		invites:    map[string]map[string]string{},
		properties: map[string]map[string]struct{}{},
		ofProperty: map[string]map[string]struct{}{},
		defaults:   map[string]string{},
	}
}

// addGroup stores a group with ownerID as its owner. The caller holds the
// lock.
func (s *Store) addGroup(g store.Group, ownerID string) {
	g.CreatedAt = ts(g.CreatedAt)
	owner := store.GroupUser{ID: store.NewID(), GroupID: g.ID, UserID: ownerID, Role: store.RoleOwner, CreatedAt: g.CreatedAt}
	s.groups.byID[g.ID] = g
	s.groups.users[owner.ID] = owner
	s.groups.members[g.ID] = map[string]string{ownerID: owner.ID}
	s.groups.invites[g.ID] = map[string]string{}
	s.groups.properties[g.ID] = map[string]struct{}{}
	if g.DefaultOf != "" {
		s.groups.defaults[g.DefaultOf] = g.ID
	}
}

// createDefaultGroup gives a new user their default group. The caller
// holds the lock.
func (s *Store) createDefaultGroup(u store.User) {
	s.addGroup(store.Group{ID: store.NewID(), Title: store.DefaultGroupTitle, DefaultOf: u.ID, CreatedAt: u.CreatedAt}, u.ID)
}

// activateGroupInvites turns the pending group invitations of an email
// into memberships of a new user. The caller holds the lock.
func (s *Store) activateGroupInvites(userID, email string) {
	for groupID, pending := range s.groups.invites {
		guID, ok := pending[email]
		if !ok {
			continue
		}
		gu := s.groups.users[guID]
		gu.UserID, gu.UserEmail = userID, ""
		s.groups.users[guID] = gu
		s.groups.members[groupID][userID] = guID
		delete(pending, email)
	}
}

// baseGroup returns the group a new property of ownerID joins: groupID,
// which ownerID must own, or else ownerID's default group ("" if they
// have none). The caller holds the lock.
func (s *Store) baseGroup(groupID, ownerID string) (string, error) {
	if groupID == "" {
		return s.groups.defaults[ownerID], nil
	}
	guID, ok := s.groups.members[groupID][ownerID]
	if !ok || s.groups.users[guID].Role != store.RoleOwner {
		return "", store.ErrNotFound
	}
	return groupID, nil
}

func (s *Store) link(groupID, propertyID string) {
	s.groups.properties[groupID][propertyID] = struct{}{}
	if s.groups.ofProperty[propertyID] == nil {
		s.groups.ofProperty[propertyID] = map[string]struct{}{}
	}
	s.groups.ofProperty[propertyID][groupID] = struct{}{}
}

func (s *Store) unlink(groupID, propertyID string) {
	delete(s.groups.properties[groupID], propertyID)
	delete(s.groups.ofProperty[propertyID], groupID)
	if len(s.groups.ofProperty[propertyID]) == 0 {
		delete(s.groups.ofProperty, propertyID)
	}
}

func (s *Store) CreateGroup(ctx context.Context, g store.Group, ownerID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[ownerID]; !ok {
		return store.ErrNotFound
	}
	if _, ok := s.groups.byID[g.ID]; ok {
		return store.ErrAlreadyExists
	}
	g.DefaultOf = "" // default groups come with accounts only
	s.addGroup(g, ownerID)
	return nil
}

func (s *Store) GetGroup(ctx context.Context, id string) (store.Group, error) {
	if err := ctx.Err(); err != nil {
		return store.Group{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.groups.byID[id]
	if !ok {
		return store.Group{}, store.ErrNotFound
	}
	return g, nil
}

func (s *Store) ListGroups(ctx context.Context, userID string, offset, limit int) ([]store.Group, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	all := []store.Group{}
	for id, members := range s.groups.members {
		if _, ok := members[userID]; ok {
			all = append(all, s.groups.byID[id])
		}
	}
	slices.SortFunc(all, func(a, b store.Group) int {
		if c := strings.Compare(a.Title, b.Title); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return page(all, offset, limit), len(all), nil
}

func (s *Store) UpdateGroup(ctx context.Context, id, title string) (store.Group, error) {
	if err := ctx.Err(); err != nil {
		return store.Group{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups.byID[id]
	if !ok {
		return store.Group{}, store.ErrNotFound
	}
	g.Title = title
	s.groups.byID[id] = g
	return g, nil
}

func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups.byID[id]
	switch {
	case !ok:
		return store.ErrNotFound
	case g.DefaultOf != "":
		return store.ErrDefaultGroup
	case len(s.groups.properties[id]) > 0:
		return store.ErrGroupNotEmpty
	}
	for _, records := range []map[string]string{s.groups.members[id], s.groups.invites[id]} {
		for _, guID := range records {
			delete(s.groups.users, guID)
		}
	}
	delete(s.groups.byID, id)
	delete(s.groups.members, id)
	delete(s.groups.invites, id)
	delete(s.groups.properties, id)
	return nil
}

func (s *Store) GroupRole(ctx context.Context, userID, groupID string) (store.Role, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	guID, ok := s.groups.members[groupID][userID]
	if !ok {
		return "", nil
	}
	return s.groups.users[guID].Role, nil
}

// sortRefs orders related records by title (byte-wise), then id.
func sortRefs(refs []store.Ref) {
	slices.SortFunc(refs, func(a, b store.Ref) int {
		if c := strings.Compare(a.Title, b.Title); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

func (s *Store) GroupProperties(ctx context.Context, groupID string) ([]store.Ref, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.groups.byID[groupID]; !ok {
		return nil, store.ErrNotFound
	}
	refs := []store.Ref{}
	for id := range s.groups.properties[groupID] {
		refs = append(refs, store.Ref{ID: id, Title: s.properties[id].Title})
	}
	sortRefs(refs)
	return refs, nil
}

func (s *Store) PropertyGroups(ctx context.Context, propertyIDs []string) (map[string][]store.Ref, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string][]store.Ref{}
	for _, pid := range propertyIDs {
		if _, ok := s.properties[pid]; !ok {
			continue
		}
		refs := []store.Ref{}
		for gid := range s.groups.ofProperty[pid] {
			refs = append(refs, store.Ref{ID: gid, Title: s.groups.byID[gid].Title})
		}
		sortRefs(refs)
		out[pid] = refs
	}
	return out, nil
}

func (s *Store) LinkProperty(ctx context.Context, groupID, propertyID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups.byID[groupID]; !ok {
		return store.ErrNotFound
	}
	if _, ok := s.properties[propertyID]; !ok {
		return store.ErrNotFound
	}
	if _, ok := s.groups.properties[groupID][propertyID]; ok {
		return store.ErrAlreadyExists
	}
	s.link(groupID, propertyID)
	return nil
}

func (s *Store) UnlinkProperty(ctx context.Context, groupID, propertyID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups.properties[groupID][propertyID]; !ok {
		return store.ErrNotFound
	}
	if len(s.groups.ofProperty[propertyID]) <= 1 {
		return store.ErrLastGroup
	}
	s.unlink(groupID, propertyID)
	return nil
}

// withGroupUser returns gu with its user's email and name filled in. The
// caller holds the lock.
func (s *Store) withGroupUser(gu store.GroupUser) store.GroupUser {
	if !gu.Pending() {
		u := s.users[gu.UserID]
		gu.UserEmail, gu.UserName = u.Email, u.Name
	}
	gu.Overrides = slices.Clone(gu.Overrides)
	return gu
}

// groupOwners counts the owners of a group. The caller holds the lock.
func (s *Store) groupOwners(groupID string) int {
	n := 0
	for _, guID := range s.groups.members[groupID] {
		if s.groups.users[guID].Role == store.RoleOwner {
			n++
		}
	}
	return n
}

func (s *Store) AddGroupUser(ctx context.Context, gu store.GroupUser) (store.GroupUser, error) {
	if err := ctx.Err(); err != nil {
		return store.GroupUser{}, err
	}
	if err := validRole(gu.Role); err != nil {
		return store.GroupUser{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups.byID[gu.GroupID]; !ok {
		return store.GroupUser{}, store.ErrNotFound
	}
	email := strings.ToLower(gu.UserEmail)
	if gu.UserID == "" && email == "" {
		return store.GroupUser{}, store.ErrNotFound
	}
	if gu.UserID == "" {
		gu.UserID = s.emails[email]
	} else if _, ok := s.users[gu.UserID]; !ok {
		return store.GroupUser{}, store.ErrNotFound
	}
	if _, ok := s.groups.users[gu.ID]; ok {
		return store.GroupUser{}, store.ErrAlreadyExists
	}
	gu.UserName, gu.Overrides = "", slices.Clone(gu.Overrides)
	gu.CreatedAt = ts(gu.CreatedAt)
	if gu.Pending() {
		if _, ok := s.groups.invites[gu.GroupID][email]; ok {
			return store.GroupUser{}, store.ErrAlreadyExists
		}
		s.groups.invites[gu.GroupID][email] = gu.ID
	} else {
		if _, ok := s.groups.members[gu.GroupID][gu.UserID]; ok {
			return store.GroupUser{}, store.ErrAlreadyExists
		}
		gu.UserEmail = ""
		s.groups.members[gu.GroupID][gu.UserID] = gu.ID
	}
	s.groups.users[gu.ID] = gu
	return s.withGroupUser(gu), nil
}

func (s *Store) GetGroupUser(ctx context.Context, id string) (store.GroupUser, error) {
	if err := ctx.Err(); err != nil {
		return store.GroupUser{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	gu, ok := s.groups.users[id]
	if !ok {
		return store.GroupUser{}, store.ErrNotFound
	}
	return s.withGroupUser(gu), nil
}

func (s *Store) ListGroupUsers(ctx context.Context, groupID string, offset, limit int) ([]store.GroupUser, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.groups.byID[groupID]; !ok {
		return nil, 0, store.ErrNotFound
	}
	all := []store.GroupUser{}
	for _, records := range []map[string]string{s.groups.members[groupID], s.groups.invites[groupID]} {
		for _, guID := range records {
			all = append(all, s.groups.users[guID])
		}
	}
	slices.SortFunc(all, func(a, b store.GroupUser) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	list := page(all, offset, limit)
	for i, gu := range list {
		list[i] = s.withGroupUser(gu)
	}
	return list, len(all), nil
}

func (s *Store) UpdateGroupUser(ctx context.Context, id string, role store.Role, overrides []byte) (store.GroupUser, error) {
	if err := ctx.Err(); err != nil {
		return store.GroupUser{}, err
	}
	if role != "" {
		if err := validRole(role); err != nil {
			return store.GroupUser{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gu, ok := s.groups.users[id]
	if !ok {
		return store.GroupUser{}, store.ErrNotFound
	}
	if role != "" && role != gu.Role {
		if gu.Role == store.RoleOwner && !gu.Pending() && s.groupOwners(gu.GroupID) <= 1 {
			return store.GroupUser{}, store.ErrLastOwner
		}
		gu.Role = role
	}
	if overrides != nil {
		gu.Overrides = slices.Clone(overrides)
	}
	s.groups.users[id] = gu
	return s.withGroupUser(gu), nil
}

func (s *Store) RemoveGroupUser(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gu, ok := s.groups.users[id]
	if !ok {
		return store.ErrNotFound
	}
	if gu.Pending() {
		delete(s.groups.invites[gu.GroupID], strings.ToLower(gu.UserEmail))
	} else {
		if gu.Role == store.RoleOwner && s.groupOwners(gu.GroupID) <= 1 {
			return store.ErrLastOwner
		}
		delete(s.groups.members[gu.GroupID], gu.UserID)
	}
	delete(s.groups.users, id)
	return nil
}
