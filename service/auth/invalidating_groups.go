package auth

import (
	"context"
	"errors"

	"github.com/keygate/keygate/service/store"
)

// Groups change what their members reach: every change to a group's
// properties or members evicts the members it affects, read before the
// change (a member added meanwhile is evicted by their own addition).

// --- evicts ---

// DeleteGroup evicts its members: a group that holds properties cannot be
// deleted, but the store decides that, not the wrapper.
func (s invalidatingStore) DeleteGroup(ctx context.Context, id string) error {
	members, listErr := s.groupMembers(ctx, []store.Ref{{ID: id}})
	err := s.inner.DeleteGroup(ctx, id)
	s.evictMembers(members, listErr)
	return err
}

// LinkProperty evicts the group's members: a cached "no access" to the
// property is stale.
func (s invalidatingStore) LinkProperty(ctx context.Context, groupID, propertyID string) error {
	members, listErr := s.groupMembers(ctx, []store.Ref{{ID: groupID}})
	err := s.inner.LinkProperty(ctx, groupID, propertyID)
	s.evictMembers(members, listErr)
	return err
}

// UnlinkProperty evicts the group's members, who may lose the property.
func (s invalidatingStore) UnlinkProperty(ctx context.Context, groupID, propertyID string) error {
	members, listErr := s.groupMembers(ctx, []store.Ref{{ID: groupID}})
	err := s.inner.UnlinkProperty(ctx, groupID, propertyID)
	s.evictMembers(members, listErr)
	return err
}

func (s invalidatingStore) AddGroupUser(ctx context.Context, gu store.GroupUser) (store.GroupUser, error) {
	out, err := s.inner.AddGroupUser(ctx, gu)
	switch {
	case err == nil:
		s.cache.InvalidateUser(out.UserID)
	case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrAlreadyExists):
		s.cache.Flush()
	}
	return out, err
}

func (s invalidatingStore) UpdateGroupUser(ctx context.Context, id string, role store.Role, overrides []byte) (store.GroupUser, error) {
	gu, err := s.inner.UpdateGroupUser(ctx, id, role, overrides)
	switch {
	case err == nil:
		s.cache.InvalidateUser(gu.UserID)
	case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrLastOwner):
		s.cache.Flush()
	}
	return gu, err
}

func (s invalidatingStore) RemoveGroupUser(ctx context.Context, id string) error {
	gu, getErr := s.inner.GetGroupUser(ctx, id)
	err := s.inner.RemoveGroupUser(ctx, id)
	s.evictMembers([]string{gu.UserID}, getErr)
	return err
}

// groupMembers returns the user ids of the members of groups.
func (s invalidatingStore) groupMembers(ctx context.Context, groups []store.Ref) ([]string, error) {
	var ids []string
	for _, g := range groups {
		users, _, err := s.inner.ListGroupUsers(ctx, g.ID, 0, 0)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, gu := range users {
			ids = append(ids, gu.UserID)
		}
	}
	return ids, nil
}

// evictPropertyGroups evicts the members of a property's groups; when
// they cannot be read, everyone.
func (s invalidatingStore) evictPropertyGroups(ctx context.Context, propertyID string) {
	groups, err := s.inner.PropertyGroups(ctx, []string{propertyID})
	members, membersErr := s.groupMembers(ctx, groups[propertyID])
	s.evictMembers(members, errors.Join(err, membersErr))
}

// evictMembers forgets the given users, or everything when they could not
// be read (a missing record changes nothing).
func (s invalidatingStore) evictMembers(userIDs []string, readErr error) {
	if errors.Is(readErr, store.ErrNotFound) {
		return
	}
	if readErr != nil {
		s.cache.Flush()
		return
	}
	for _, id := range userIDs {
		if id != "" {
			s.cache.InvalidateUser(id)
		}
	}
}

// --- silent ---

// CreateGroup is silent: a new group holds no property.
func (s invalidatingStore) CreateGroup(ctx context.Context, g store.Group, ownerID string) error {
	return s.inner.CreateGroup(ctx, g, ownerID)
}

func (s invalidatingStore) GetGroup(ctx context.Context, id string) (store.Group, error) {
	return s.inner.GetGroup(ctx, id)
}

func (s invalidatingStore) ListGroups(ctx context.Context, userID string, offset, limit int) ([]store.Group, int, error) {
	return s.inner.ListGroups(ctx, userID, offset, limit)
}

// UpdateGroup is silent: a title shapes no one's access.
func (s invalidatingStore) UpdateGroup(ctx context.Context, id, title string) (store.Group, error) {
	return s.inner.UpdateGroup(ctx, id, title)
}

func (s invalidatingStore) GroupRole(ctx context.Context, userID, groupID string) (store.Role, error) {
	return s.inner.GroupRole(ctx, userID, groupID)
}

func (s invalidatingStore) GroupProperties(ctx context.Context, groupID string) ([]store.Ref, error) {
	return s.inner.GroupProperties(ctx, groupID)
}

func (s invalidatingStore) PropertyGroups(ctx context.Context, propertyIDs []string) (map[string][]store.Ref, error) {
	return s.inner.PropertyGroups(ctx, propertyIDs)
}

func (s invalidatingStore) GetGroupUser(ctx context.Context, id string) (store.GroupUser, error) {
	return s.inner.GetGroupUser(ctx, id)
}

func (s invalidatingStore) ListGroupUsers(ctx context.Context, groupID string, offset, limit int) ([]store.GroupUser, int, error) {
	return s.inner.ListGroupUsers(ctx, groupID, offset, limit)
}
