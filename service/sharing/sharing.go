// Package sharing implements PropertyUserService: who can access a
// property. Only owners change access; the interceptor has already
// refused API keys, and NOT_FOUND for properties the caller cannot access.
package sharing

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/rpcerr"
	"github.com/keygate/keygate/service/store"
)

// Service implements keygatev1.PropertyUserServiceServer.
type Service struct {
	keygatev1.UnimplementedPropertyUserServiceServer
	store store.Store
}

// New returns the service on st.
func New(st store.Store) *Service { return &Service{store: st} }

func (s *Service) CreatePropertyUser(ctx context.Context, req *keygatev1.CreatePropertyUserRequest) (*keygatev1.CreatePropertyUserResponse, error) {
	in := req.GetInvite()
	if err := s.mustOwn(ctx, in.GetPropertyId()); err != nil {
		return nil, err
	}
	var v rpcerr.Violations
	email := strings.TrimSpace(in.GetUserEmail())
	if email == "" {
		v.Add("user_email", "can't be blank")
	}
	role, ok := parseRole(in.GetRole())
	if !ok {
		v.Add("role", "must be owner or user")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	u, err := s.store.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		// Accounts are created by AdminService; an invitation cannot make one.
		return nil, status.Error(codes.NotFound, "no account has this email")
	}
	if err != nil {
		return nil, err
	}
	pu := store.PropertyUser{
		ID:         store.NewID(),
		PropertyID: in.GetPropertyId(),
		UserID:     u.ID,
		Role:       role,
		CreatedAt:  time.Now().Truncate(store.Precision).UTC(),
	}
	if err := s.store.AddPropertyUser(ctx, pu); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return nil, rpcerr.Invalid("user_email", "already has access to this property")
		}
		return nil, err
	}
	created, err := s.store.GetPropertyUser(ctx, pu.ID)
	if err != nil {
		return nil, err
	}
	return &keygatev1.CreatePropertyUserResponse{PropertyUser: toProto(created)}, nil
}

// ListPropertyUsers is open to everyone with access to the property.
func (s *Service) ListPropertyUsers(ctx context.Context, req *keygatev1.ListPropertyUsersRequest) (*keygatev1.ListPropertyUsersResponse, error) {
	users, err := s.store.ListPropertyUsers(ctx, req.GetFilter().GetPropertyId())
	if err != nil {
		return nil, err
	}
	out := &keygatev1.ListPropertyUsersResponse{PropertyUsers: make([]*keygatev1.PropertyUser, 0, len(users))}
	for _, pu := range users {
		out.PropertyUsers = append(out.PropertyUsers, toProto(pu))
	}
	return out, nil
}

func (s *Service) UpdatePropertyUser(ctx context.Context, req *keygatev1.UpdatePropertyUserRequest) (*keygatev1.UpdatePropertyUserResponse, error) {
	pu, err := s.ownedRecord(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	role, ok := parseRole(req.GetPropertyUser().GetRole())
	if !ok {
		return nil, rpcerr.Invalid("role", "must be owner or user")
	}
	pu, err = s.store.SetPropertyUserRole(ctx, pu.ID, role)
	if errors.Is(err, store.ErrLastOwner) {
		return nil, rpcerr.Invalid("role", "a property must keep at least one owner")
	}
	if err != nil {
		return nil, err
	}
	return &keygatev1.UpdatePropertyUserResponse{PropertyUser: toProto(pu)}, nil
}

func (s *Service) RemovePropertyUser(ctx context.Context, req *keygatev1.RemovePropertyUserRequest) (*keygatev1.RemovePropertyUserResponse, error) {
	pu, err := s.ownedRecord(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	err = s.store.RemovePropertyUser(ctx, pu.ID)
	if errors.Is(err, store.ErrLastOwner) {
		return nil, rpcerr.Invalid("role", "a property must keep at least one owner")
	}
	if err != nil {
		return nil, err
	}
	return &keygatev1.RemovePropertyUserResponse{}, nil
}

// ownedRecord returns a property user record whose property the caller
// owns: NOT_FOUND when the caller cannot see the property at all,
// PERMISSION_DENIED when they can but are not an owner.
func (s *Service) ownedRecord(ctx context.Context, id string) (store.PropertyUser, error) {
	if !store.ValidID(id) {
		return store.PropertyUser{}, status.Error(codes.NotFound, "property user not found")
	}
	pu, err := s.store.GetPropertyUser(ctx, id)
	if err != nil {
		return store.PropertyUser{}, err
	}
	role, err := s.store.PropertyRole(ctx, auth.FromContext(ctx).User.ID, pu.PropertyID)
	if err != nil {
		return store.PropertyUser{}, err
	}
	switch role {
	case "":
		return store.PropertyUser{}, status.Error(codes.NotFound, "property user not found")
	case store.RoleOwner:
		return pu, nil
	}
	return store.PropertyUser{}, status.Error(codes.PermissionDenied, "only an owner of this property can change who has access")
}

// mustOwn checks that the caller owns a property the interceptor has
// already found accessible.
func (s *Service) mustOwn(ctx context.Context, propertyID string) error {
	role, err := s.store.PropertyRole(ctx, auth.FromContext(ctx).User.ID, propertyID)
	if err != nil {
		return err
	}
	if role != store.RoleOwner {
		return status.Error(codes.PermissionDenied, "only an owner of this property can change who has access")
	}
	return nil
}

func parseRole(s string) (store.Role, bool) {
	switch r := store.Role(s); r {
	case store.RoleOwner, store.RoleUser:
		return r, true
	}
	return "", false
}

func toProto(pu store.PropertyUser) *keygatev1.PropertyUser {
	return &keygatev1.PropertyUser{
		Id:         pu.ID,
		PropertyId: pu.PropertyID,
		UserId:     pu.UserID,
		UserEmail:  pu.UserEmail,
		Role:       string(pu.Role),
		CreatedAt:  timestamppb.New(pu.CreatedAt),
	}
}
