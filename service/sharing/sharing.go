// Package sharing implements PropertyUserService: who can access a
// property. Only owners change access; the interceptor has already
// refused API keys, and NOT_FOUND for properties the caller cannot access.
package sharing

import (
	"context"
	"encoding/json"
	"errors"
	"net/mail"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/audit"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/paging"
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

// CreatePropertyUser invites an email. The answer is the invitation as
// sent, whether or not an account has the email, so that it never reveals
// one; when one does, the access is effective at once and later reads
// show the record active.
func (s *Service) CreatePropertyUser(ctx context.Context, req *keygatev1.CreatePropertyUserRequest) (*keygatev1.CreatePropertyUserResponse, error) {
	in := req.GetInvite()
	if err := s.mustOwn(ctx, in.GetPropertyId()); err != nil {
		return nil, err
	}
	var v rpcerr.Violations
	email := InviteEmail(&v, in.GetUserEmail())
	role, ok := ParseRole(in.GetRole())
	if !ok {
		v.Add("role", "must be owner or user")
	}
	overrides := EncodeOverrides(&v, in.GetOverrides())
	if err := v.Err(); err != nil {
		return nil, err
	}
	invite := store.PropertyUser{
		ID:         store.NewID(),
		PropertyID: in.GetPropertyId(),
		UserEmail:  email,
		Role:       role,
		Overrides:  overrides,
		CreatedAt:  time.Now().Truncate(store.Precision).UTC(),
	}
	ev := event(ctx, store.ActionPropertyUserCreated, invite)
	ev.Changes = audit.Changes{"role": {nil, string(role)}}
	if _, err := s.store.AddPropertyUser(audit.Record(ctx, ev), invite); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return nil, rpcerr.Invalid("user_email", "already has access to this property or is invited")
		}
		return nil, err
	}
	return &keygatev1.CreatePropertyUserResponse{PropertyUser: toProto(invite)}, nil
}

// ListPropertyUsers is open to everyone with access to the property.
func (s *Service) ListPropertyUsers(ctx context.Context, req *keygatev1.ListPropertyUsersRequest) (*keygatev1.ListPropertyUsersResponse, error) {
	pg, err := paging.Parse(req.GetPagination())
	if err != nil {
		return nil, err
	}
	users, total, err := s.store.ListPropertyUsers(ctx, req.GetFilter().GetPropertyId(), pg.Offset(), pg.Limit)
	if err != nil {
		return nil, err
	}
	out := &keygatev1.ListPropertyUsersResponse{PropertyUsers: make([]*keygatev1.PropertyUser, 0, len(users)), Meta: pg.Meta(total)}
	for _, pu := range users {
		out.PropertyUsers = append(out.PropertyUsers, toProto(pu))
	}
	return out, nil
}

// GetPropertyUser is open to everyone with access to the record's property.
func (s *Service) GetPropertyUser(ctx context.Context, req *keygatev1.GetPropertyUserRequest) (*keygatev1.GetPropertyUserResponse, error) {
	pu, _, err := s.record(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &keygatev1.GetPropertyUserResponse{PropertyUser: toProto(pu)}, nil
}

func (s *Service) UpdatePropertyUser(ctx context.Context, req *keygatev1.UpdatePropertyUserRequest) (*keygatev1.UpdatePropertyUserResponse, error) {
	pu, err := s.ownedRecord(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	in := req.GetPropertyUser()
	var v rpcerr.Violations
	var role store.Role
	if in.Role != nil {
		var ok bool
		if role, ok = ParseRole(in.GetRole()); !ok {
			v.Add("role", "must be owner or user")
		}
	}
	var overrides []byte
	if in.Overrides != nil {
		overrides = EncodeOverrides(&v, in.GetOverrides())
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	ev := event(ctx, store.ActionPropertyUserUpdated, pu)
	c := audit.Changes{}
	if role != "" {
		c.Add("role", string(pu.Role), string(role))
	}
	if overrides != nil {
		c.Add("overrides", jsonValue(pu.Overrides), jsonValue(overrides))
	}
	ev.Changes = c
	pu, err = s.store.UpdatePropertyUser(audit.Record(ctx, ev), pu.ID, role, overrides)
	if errors.Is(err, store.ErrLastOwner) {
		return nil, rpcerr.Invalid("role", "a property must keep at least one owner")
	}
	if err != nil {
		return nil, err
	}
	return &keygatev1.UpdatePropertyUserResponse{PropertyUser: toProto(pu)}, nil
}

// RemovePropertyUser is for owners, and for anyone leaving: removing their
// own record.
func (s *Service) RemovePropertyUser(ctx context.Context, req *keygatev1.RemovePropertyUserRequest) (*keygatev1.RemovePropertyUserResponse, error) {
	pu, role, err := s.record(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if role != store.RoleOwner && pu.UserID != auth.FromContext(ctx).User.ID {
		return nil, status.Error(codes.PermissionDenied, "only an owner of this property can change who has access; you can remove only your own access")
	}
	err = s.store.RemovePropertyUser(audit.Record(ctx, event(ctx, store.ActionPropertyUserDeleted, pu)), pu.ID)
	if errors.Is(err, store.ErrLastOwner) {
		return nil, rpcerr.Invalid("role", "a property must keep at least one owner")
	}
	if err != nil {
		return nil, err
	}
	return &keygatev1.RemovePropertyUserResponse{}, nil
}

// record returns a property user record and the caller's role on its
// property: NOT_FOUND when the caller cannot see the property at all.
func (s *Service) record(ctx context.Context, id string) (store.PropertyUser, store.Role, error) {
	if !store.ValidID(id) {
		return store.PropertyUser{}, "", status.Error(codes.NotFound, "property user not found")
	}
	pu, err := s.store.GetPropertyUser(ctx, id)
	if err != nil {
		return store.PropertyUser{}, "", err
	}
	role, err := s.store.PropertyRole(ctx, auth.FromContext(ctx).User.ID, pu.PropertyID)
	if err != nil {
		return store.PropertyUser{}, "", err
	}
	if role == "" {
		return store.PropertyUser{}, "", status.Error(codes.NotFound, "property user not found")
	}
	return pu, role, nil
}

// ownedRecord returns a property user record whose property the caller
// owns: NOT_FOUND when the caller cannot see the property at all,
// PERMISSION_DENIED when they can but are not an owner.
func (s *Service) ownedRecord(ctx context.Context, id string) (store.PropertyUser, error) {
	pu, role, err := s.record(ctx, id)
	if err != nil {
		return store.PropertyUser{}, err
	}
	if role != store.RoleOwner {
		return store.PropertyUser{}, status.Error(codes.PermissionDenied, "only an owner of this property can change who has access")
	}
	return pu, nil
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

// The rules of an invitation, shared by property users and group users.

// InviteEmail returns the invited email, trimmed, and adds a violation at
// user_email when it is blank or not one email address.
func InviteEmail(v *rpcerr.Violations, s string) string {
	email := strings.TrimSpace(s)
	if a, err := mail.ParseAddress(email); email == "" {
		v.Add("user_email", "can't be blank")
	} else if err != nil || a.Address != email || len(email) > 254 {
		v.Add("user_email", "is not a valid email address")
	}
	return email
}

// ParseRole returns the role a string names: owner or user.
func ParseRole(s string) (store.Role, bool) {
	switch r := store.Role(s); r {
	case store.RoleOwner, store.RoleUser:
		return r, true
	}
	return "", false
}

// maxOverridesBytes bounds the JSON of a record's overrides.
const maxOverridesBytes = 16 << 10

// EncodeOverrides returns the JSON of overrides, or nil for none, and adds
// a violation when it is too large.
func EncodeOverrides(v *rpcerr.Violations, o *structpb.Struct) []byte {
	if o == nil {
		return nil
	}
	b, err := protojson.Marshal(o)
	switch {
	case err != nil:
		v.Add("overrides", "must be a JSON object")
	case len(b) > maxOverridesBytes:
		v.Add("overrides", "is too large (maximum is 16 KiB)")
	}
	return b
}

// DecodeOverrides returns the overrides a store keeps, or nil for none.
func DecodeOverrides(b []byte) *structpb.Struct {
	if b == nil {
		return nil
	}
	o := &structpb.Struct{}
	if err := protojson.Unmarshal(b, o); err != nil {
		return nil // stores keep only what EncodeOverrides made
	}
	return o
}

func toProto(pu store.PropertyUser) *keygatev1.PropertyUser {
	out := &keygatev1.PropertyUser{
		Id:         pu.ID,
		PropertyId: pu.PropertyID,
		UserEmail:  pu.UserEmail,
		Role:       string(pu.Role),
		Status:     "pending",
		CreatedAt:  timestamppb.New(pu.CreatedAt),
	}
	if !pu.Pending() {
		out.UserId, out.Status = &pu.UserID, "active"
		out.User = &keygatev1.RelatedUser{Id: pu.UserID, Email: pu.UserEmail, Name: pu.UserName}
	}
	out.Overrides = DecodeOverrides(pu.Overrides)
	return out
}

// event is the audit event of a change to a property user record: the
// property's owners read it.
func event(ctx context.Context, action string, pu store.PropertyUser) *store.Event {
	ev := audit.New(ctx, action, "property_user", pu.ID)
	ev.PropertyID = pu.PropertyID
	return ev
}

// jsonValue is stored overrides as a JSON value (nil for none).
func jsonValue(b []byte) any {
	var v any
	if len(b) > 0 {
		_ = json.Unmarshal(b, &v) // the store keeps only valid JSON
	}
	return v
}
