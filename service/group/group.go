// Package group implements GroupService: groups of properties shared with
// groups of users. Only group owners change a group; the interceptor has
// already refused API keys on writes, and keys limited to chosen
// properties on reads. A group the caller is not a member of is NOT_FOUND,
// as if it did not exist.
package group

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/paging"
	"github.com/keygate/keygate/service/rpcerr"
	"github.com/keygate/keygate/service/sharing"
	"github.com/keygate/keygate/service/store"
)

// Service implements keygatev1.GroupServiceServer.
type Service struct {
	keygatev1.UnimplementedGroupServiceServer
	store store.Store
}

// New returns the service on st.
func New(st store.Store) *Service { return &Service{store: st} }

var (
	errGroupNotFound     = status.Error(codes.NotFound, "group not found")
	errGroupUserNotFound = status.Error(codes.NotFound, "group user not found")
	errNotGroupOwner     = status.Error(codes.PermissionDenied, "only an owner of this group can change it")
)

func (s *Service) ListGroups(ctx context.Context, req *keygatev1.ListGroupsRequest) (*keygatev1.ListGroupsResponse, error) {
	pg, err := paging.Parse(req.GetPagination())
	if err != nil {
		return nil, err
	}
	groups, total, err := s.store.ListGroups(ctx, caller(ctx), pg.Offset(), pg.Limit)
	if err != nil {
		return nil, err
	}
	out := &keygatev1.ListGroupsResponse{Groups: make([]*keygatev1.Group, 0, len(groups)), Meta: pg.Meta(total)}
	for _, g := range groups {
		out.Groups = append(out.Groups, toProto(g, nil))
	}
	return out, nil
}

func (s *Service) ListGroupOptions(ctx context.Context, _ *keygatev1.ListGroupOptionsRequest) (*keygatev1.ListGroupOptionsResponse, error) {
	groups, _, err := s.store.ListGroups(ctx, caller(ctx), 0, 0)
	if err != nil {
		return nil, err
	}
	out := &keygatev1.ListGroupOptionsResponse{GroupOptions: make([]*keygatev1.GroupOption, 0, len(groups))}
	for _, g := range groups {
		out.GroupOptions = append(out.GroupOptions, &keygatev1.GroupOption{Id: g.ID, Title: g.Title})
	}
	return out, nil
}

func (s *Service) GetGroup(ctx context.Context, req *keygatev1.GetGroupRequest) (*keygatev1.GetGroupResponse, error) {
	if _, err := s.member(ctx, req.GetId()); err != nil {
		return nil, err
	}
	g, err := s.store.GetGroup(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	props, err := s.store.GroupProperties(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	return &keygatev1.GetGroupResponse{Group: toProto(g, props)}, nil
}

func (s *Service) CreateGroup(ctx context.Context, req *keygatev1.CreateGroupRequest) (*keygatev1.CreateGroupResponse, error) {
	in := req.GetGroup()
	if err := validTitle(in.Title); err != nil {
		return nil, err
	}
	g := store.Group{ID: store.NewID(), Title: in.GetTitle(), CreatedAt: time.Now().Truncate(store.Precision).UTC()}
	if err := s.store.CreateGroup(ctx, g, caller(ctx)); err != nil {
		return nil, err
	}
	return &keygatev1.CreateGroupResponse{Group: toProto(g, []store.Ref{})}, nil
}

func (s *Service) UpdateGroup(ctx context.Context, req *keygatev1.UpdateGroupRequest) (*keygatev1.UpdateGroupResponse, error) {
	if err := s.owner(ctx, req.GetId()); err != nil {
		return nil, err
	}
	in := req.GetGroup()
	var g store.Group
	var err error
	if in.Title == nil { // nothing to change
		g, err = s.store.GetGroup(ctx, req.GetId())
	} else if err = validTitle(in.Title); err == nil {
		g, err = s.store.UpdateGroup(ctx, req.GetId(), in.GetTitle())
	}
	if err != nil {
		return nil, err
	}
	props, err := s.store.GroupProperties(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	return &keygatev1.UpdateGroupResponse{Group: toProto(g, props)}, nil
}

func (s *Service) DeleteGroup(ctx context.Context, req *keygatev1.DeleteGroupRequest) (*keygatev1.DeleteGroupResponse, error) {
	if err := s.owner(ctx, req.GetId()); err != nil {
		return nil, err
	}
	switch err := s.store.DeleteGroup(ctx, req.GetId()); {
	case errors.Is(err, store.ErrGroupNotEmpty):
		return nil, status.Error(codes.InvalidArgument, "the group holds properties: take them out of it first")
	case errors.Is(err, store.ErrDefaultGroup):
		return nil, status.Error(codes.InvalidArgument, "a default group cannot be deleted")
	case err != nil:
		return nil, err
	}
	return &keygatev1.DeleteGroupResponse{}, nil
}

// LinkGroupProperty needs an owner of both the group and the property.
func (s *Service) LinkGroupProperty(ctx context.Context, req *keygatev1.LinkGroupPropertyRequest) (*keygatev1.LinkGroupPropertyResponse, error) {
	if err := s.owner(ctx, req.GetGroupId()); err != nil {
		return nil, err
	}
	role, err := s.propertyRole(ctx, req.GetPropertyId())
	if err != nil {
		return nil, err
	}
	if role != store.RoleOwner {
		return nil, status.Error(codes.PermissionDenied, "only an owner of the property can put it in a group")
	}
	switch err := s.store.LinkProperty(ctx, req.GetGroupId(), req.GetPropertyId()); {
	case errors.Is(err, store.ErrAlreadyExists):
		return nil, rpcerr.Invalid("property_id", "is already in this group")
	case err != nil:
		return nil, err
	}
	return &keygatev1.LinkGroupPropertyResponse{}, nil
}

// UnlinkGroupProperty needs an owner of the group or of the property.
func (s *Service) UnlinkGroupProperty(ctx context.Context, req *keygatev1.UnlinkGroupPropertyRequest) (*keygatev1.UnlinkGroupPropertyResponse, error) {
	// An owner of the property need not be a member of the group (the
	// property's groups are listed on it anyway).
	groupRole, err := s.member(ctx, req.GetGroupId())
	if err != nil && status.Code(err) != codes.NotFound {
		return nil, err
	}
	propertyRole, perr := s.propertyRole(ctx, req.GetPropertyId())
	if perr != nil && status.Code(perr) != codes.NotFound {
		return nil, perr
	}
	if groupRole == "" && propertyRole == "" {
		return nil, errGroupNotFound
	}
	if groupRole != store.RoleOwner && propertyRole != store.RoleOwner {
		return nil, status.Error(codes.PermissionDenied, "only an owner of the group or of the property can take it out of the group")
	}
	switch err := s.store.UnlinkProperty(ctx, req.GetGroupId(), req.GetPropertyId()); {
	case errors.Is(err, store.ErrNotFound):
		return nil, status.Error(codes.NotFound, "the property is not in this group")
	case errors.Is(err, store.ErrLastGroup):
		return nil, status.Error(codes.InvalidArgument, "a property must keep at least one group")
	case err != nil:
		return nil, err
	}
	return &keygatev1.UnlinkGroupPropertyResponse{}, nil
}

// CreateGroupUser invites an email. As for property users, the answer is
// the invitation as sent, whether or not an account has the email.
func (s *Service) CreateGroupUser(ctx context.Context, req *keygatev1.CreateGroupUserRequest) (*keygatev1.CreateGroupUserResponse, error) {
	in := req.GetInvite()
	if err := s.owner(ctx, in.GetGroupId()); err != nil {
		return nil, err
	}
	var v rpcerr.Violations
	email := sharing.InviteEmail(&v, in.GetUserEmail())
	role, ok := sharing.ParseRole(in.GetRole())
	if !ok {
		v.Add("role", "must be owner or user")
	}
	overrides := sharing.EncodeOverrides(&v, in.GetOverrides())
	if err := v.Err(); err != nil {
		return nil, err
	}
	invite := store.GroupUser{
		ID:        store.NewID(),
		GroupID:   in.GetGroupId(),
		UserEmail: email,
		Role:      role,
		Overrides: overrides,
		CreatedAt: time.Now().Truncate(store.Precision).UTC(),
	}
	if _, err := s.store.AddGroupUser(ctx, invite); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return nil, status.Error(codes.InvalidArgument, "User already invited")
		}
		return nil, err
	}
	return &keygatev1.CreateGroupUserResponse{GroupUser: userToProto(invite)}, nil
}

func (s *Service) ListGroupUsers(ctx context.Context, req *keygatev1.ListGroupUsersRequest) (*keygatev1.ListGroupUsersResponse, error) {
	pg, err := paging.Parse(req.GetPagination())
	if err != nil {
		return nil, err
	}
	groupID := req.GetFilter().GetGroupId()
	if groupID == "" {
		return nil, rpcerr.Invalid("filter.group_id", "can't be blank")
	}
	if _, err := s.member(ctx, groupID); err != nil {
		return nil, err
	}
	users, total, err := s.store.ListGroupUsers(ctx, groupID, pg.Offset(), pg.Limit)
	if err != nil {
		return nil, err
	}
	out := &keygatev1.ListGroupUsersResponse{GroupUsers: make([]*keygatev1.GroupUser, 0, len(users)), Meta: pg.Meta(total)}
	for _, gu := range users {
		out.GroupUsers = append(out.GroupUsers, userToProto(gu))
	}
	return out, nil
}

func (s *Service) GetGroupUser(ctx context.Context, req *keygatev1.GetGroupUserRequest) (*keygatev1.GetGroupUserResponse, error) {
	gu, _, err := s.record(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &keygatev1.GetGroupUserResponse{GroupUser: userToProto(gu)}, nil
}

func (s *Service) UpdateGroupUser(ctx context.Context, req *keygatev1.UpdateGroupUserRequest) (*keygatev1.UpdateGroupUserResponse, error) {
	gu, role, err := s.record(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if role != store.RoleOwner {
		return nil, errNotGroupOwner
	}
	in := req.GetGroupUser()
	var v rpcerr.Violations
	var newRole store.Role
	if in.Role != nil {
		var ok bool
		if newRole, ok = sharing.ParseRole(in.GetRole()); !ok {
			v.Add("role", "must be owner or user")
		}
	}
	var overrides []byte
	if in.Overrides != nil {
		overrides = sharing.EncodeOverrides(&v, in.GetOverrides())
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	gu, err = s.store.UpdateGroupUser(ctx, gu.ID, newRole, overrides)
	if errors.Is(err, store.ErrLastOwner) {
		return nil, rpcerr.Invalid("role", "a group must keep at least one owner")
	}
	if err != nil {
		return nil, err
	}
	return &keygatev1.UpdateGroupUserResponse{GroupUser: userToProto(gu)}, nil
}

// RemoveGroupUser is for group owners, and for a member leaving.
func (s *Service) RemoveGroupUser(ctx context.Context, req *keygatev1.RemoveGroupUserRequest) (*keygatev1.RemoveGroupUserResponse, error) {
	gu, role, err := s.record(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if role != store.RoleOwner && gu.UserID != caller(ctx) {
		return nil, status.Error(codes.PermissionDenied, "only an owner of this group can remove its members; you can remove only yourself")
	}
	err = s.store.RemoveGroupUser(ctx, gu.ID)
	if errors.Is(err, store.ErrLastOwner) {
		return nil, rpcerr.Invalid("role", "a group must keep at least one owner")
	}
	if err != nil {
		return nil, err
	}
	return &keygatev1.RemoveGroupUserResponse{}, nil
}

func caller(ctx context.Context) string { return auth.FromContext(ctx).User.ID }

// member returns the caller's role in a group: NOT_FOUND when they are not
// a member (or it is not an id at all).
func (s *Service) member(ctx context.Context, groupID string) (store.Role, error) {
	if !store.ValidID(groupID) {
		return "", errGroupNotFound
	}
	role, err := s.store.GroupRole(ctx, caller(ctx), groupID)
	if err != nil {
		return "", err
	}
	if role == "" {
		return "", errGroupNotFound
	}
	return role, nil
}

// owner checks that the caller owns a group: NOT_FOUND when they are not
// a member, PERMISSION_DENIED when they are but not an owner.
func (s *Service) owner(ctx context.Context, groupID string) error {
	role, err := s.member(ctx, groupID)
	if err != nil {
		return err
	}
	if role != store.RoleOwner {
		return errNotGroupOwner
	}
	return nil
}

// propertyRole returns the caller's role on a property: NOT_FOUND when
// they cannot access it.
func (s *Service) propertyRole(ctx context.Context, propertyID string) (store.Role, error) {
	notFound := status.Error(codes.NotFound, "property not found")
	if !store.ValidID(propertyID) {
		return "", notFound
	}
	role, err := s.store.PropertyRole(ctx, caller(ctx), propertyID)
	if err != nil {
		return "", err
	}
	if role == "" {
		return "", notFound
	}
	return role, nil
}

// record returns a group user record and the caller's role in its group:
// NOT_FOUND when the caller is not a member.
func (s *Service) record(ctx context.Context, id string) (store.GroupUser, store.Role, error) {
	if !store.ValidID(id) {
		return store.GroupUser{}, "", errGroupUserNotFound
	}
	gu, err := s.store.GetGroupUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.GroupUser{}, "", errGroupUserNotFound
	}
	if err != nil {
		return store.GroupUser{}, "", err
	}
	role, err := s.store.GroupRole(ctx, caller(ctx), gu.GroupID)
	if err != nil {
		return store.GroupUser{}, "", err
	}
	if role == "" {
		return store.GroupUser{}, "", errGroupUserNotFound
	}
	return gu, role, nil
}

// maxTitle bounds a group's title, in characters.
const maxTitle = 255

func validTitle(title *string) error {
	switch {
	case title == nil || strings.TrimSpace(*title) == "":
		return rpcerr.Invalid("title", "can't be blank")
	case utf8.RuneCountInString(*title) > maxTitle:
		return rpcerr.Invalid("title", "is too long (maximum is 255 characters)")
	}
	return nil
}

func toProto(g store.Group, props []store.Ref) *keygatev1.Group {
	out := &keygatev1.Group{Id: g.ID, Title: g.Title, Properties: make([]*keygatev1.RelatedProperty, 0, len(props))}
	for _, p := range props {
		out.Properties = append(out.Properties, &keygatev1.RelatedProperty{
			Id: p.ID, Attributes: &keygatev1.RelatedProperty_Attributes{Id: p.ID, Title: p.Title},
		})
	}
	return out
}

func userToProto(gu store.GroupUser) *keygatev1.GroupUser {
	out := &keygatev1.GroupUser{
		Id:      gu.ID,
		GroupId: gu.GroupID,
		Role:    string(gu.Role),
		Status:  "pending",
		Group:   &keygatev1.GroupRef{Id: gu.GroupID},
	}
	if !gu.Pending() {
		out.UserId, out.Status = &gu.UserID, "active"
		out.User = &keygatev1.RelatedUser{Id: gu.UserID, Email: gu.UserEmail, Name: gu.UserName}
	}
	out.Overrides = sharing.DecodeOverrides(gu.Overrides)
	return out
}
