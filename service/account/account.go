// Package account implements AuthService (sign-in, sign-out, who am I) and
// the internal AdminService (accounts and subscriptions).
package account

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/apikey"
	"github.com/keygate/keygate/service/audit"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/rpcerr"
	"github.com/keygate/keygate/service/store"
)

// SessionTTL is how long a session token stays valid.
const SessionTTL = 24 * time.Hour

const (
	minPasswordLen = 8
	// maxPasswordLen bounds the work a sign-in can demand of argon2id.
	maxPasswordLen = 256
	maxEmailLen    = 254
	maxNameLen     = 255
)

// AuthService implements keygatev1.AuthServiceServer.
type AuthService struct {
	keygatev1.UnimplementedAuthServiceServer
	store store.Store
}

// NewAuthService returns the service on st.
func NewAuthService(st store.Store) *AuthService { return &AuthService{store: st} }

func (s *AuthService) SignIn(ctx context.Context, req *keygatev1.SignInRequest) (*keygatev1.SignInResponse, error) {
	email, password := strings.TrimSpace(req.GetUser().GetEmail()), req.GetUser().GetPassword()
	var v rpcerr.Violations
	if email == "" {
		v.Add("email", "can't be blank")
	}
	if password == "" {
		v.Add("password", "can't be blank")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	u, err := s.store.GetUserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	// An unknown email costs a full hash too (CheckPassword with an empty
	// hash), so response times do not reveal which emails have accounts.
	if len(password) > maxPasswordLen || !auth.CheckPassword(u.PasswordHash, password) {
		if u.ID != "" {
			if err := s.recordFailure(ctx, u.ID); err != nil {
				return nil, err
			}
		}
		return nil, status.Error(codes.Unauthenticated, "wrong email or password")
	}
	token := auth.NewSecret(auth.SessionPrefix)
	now := time.Now().Truncate(store.Precision).UTC()
	sess := store.Session{ID: store.NewID(), Digest: auth.Digest(token), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	ev := audit.New(ctx, store.ActionSignInSucceeded, "session", sess.ID)
	ev.ActorUserID, ev.Credential, ev.UserIDs = u.ID, store.CredentialSession, []string{u.ID}
	if err := s.store.CreateSession(audit.Record(ctx, ev), sess); err != nil {
		return nil, err
	}
	return &keygatev1.SignInResponse{Session: &keygatev1.Session{
		Token:     token,
		ExpiresAt: timestamppb.New(sess.ExpiresAt),
		User:      UserToProto(u),
	}}, nil
}

// failedSignInWindow is the window in which the failed sign-ins of one
// account make one audit event (with a count), so that guessing cannot
// fill the audit trail.
const failedSignInWindow = time.Minute

// recordFailure notes a failed sign-in of an existing account. Unknown
// emails are not recorded: there is no account to show them to, and the
// trail must not collect what strangers type.
func (s *AuthService) recordFailure(ctx context.Context, userID string) error {
	ev := audit.New(ctx, store.ActionSignInFailed, "user", userID)
	ev.UserIDs = []string{userID}
	return s.store.RecordFailedSignIn(ctx, *ev, ev.OccurredAt.Add(-failedSignInWindow))
}

func (s *AuthService) SignOut(ctx context.Context, _ *keygatev1.SignOutRequest) (*keygatev1.SignOutResponse, error) {
	p := auth.FromContext(ctx)
	ev := audit.New(ctx, store.ActionSessionEnded, "session", p.SessionID)
	if err := s.store.DeleteSession(audit.Record(ctx, ev), p.SessionDigest); err != nil {
		return nil, err
	}
	return &keygatev1.SignOutResponse{}, nil
}

func (s *AuthService) WhoAmI(ctx context.Context, _ *keygatev1.WhoAmIRequest) (*keygatev1.WhoAmIResponse, error) {
	p := auth.FromContext(ctx)
	c := &keygatev1.Caller{Id: p.User.ID, User: UserToProto(p.User), Credential: "session"}
	if p.Key != nil {
		c.Credential = "api_key"
		c.ApiKey = apikey.ToProto(*p.Key, time.Now())
	}
	return &keygatev1.WhoAmIResponse{Caller: c}, nil
}

// AdminService implements keygatev1.AdminServiceServer.
type AdminService struct {
	keygatev1.UnimplementedAdminServiceServer
	store store.Store
}

// NewAdminService returns the service on st.
func NewAdminService(st store.Store) *AdminService { return &AdminService{store: st} }

func (s *AdminService) CreateUser(ctx context.Context, req *keygatev1.CreateUserRequest) (*keygatev1.CreateUserResponse, error) {
	var v rpcerr.Violations
	email := strings.TrimSpace(req.GetEmail())
	if addr, err := mail.ParseAddress(email); email == "" {
		v.Add("email", "can't be blank")
	} else if err != nil || addr.Address != email || len(email) > maxEmailLen {
		v.Add("email", "is not a valid email address")
	}
	if utf8.RuneCountInString(req.GetName()) > maxNameLen {
		v.Add("name", fmt.Sprintf("is too long (maximum is %d characters)", maxNameLen))
	}
	if n := utf8.RuneCountInString(req.GetPassword()); n < minPasswordLen || len(req.GetPassword()) > maxPasswordLen {
		v.Add("password", fmt.Sprintf("must be %d to %d characters long", minPasswordLen, maxPasswordLen))
	}
	active, err := subscription(req.GetSubscriptionStatus())
	if err != nil {
		v.Add("subscription_status", err.Error())
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	u := store.User{
		ID:                 store.NewID(),
		Email:              email,
		Name:               req.GetName(),
		PasswordHash:       auth.HashPassword(req.GetPassword()),
		SubscriptionActive: active,
		CreatedAt:          time.Now().Truncate(store.Precision).UTC(),
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return nil, status.Error(codes.AlreadyExists, "a user with this email already exists")
		}
		return nil, err
	}
	return &keygatev1.CreateUserResponse{User: UserToProto(u)}, nil
}

func (s *AdminService) SetSubscription(ctx context.Context, req *keygatev1.SetSubscriptionRequest) (*keygatev1.SetSubscriptionResponse, error) {
	active, err := subscription(req.GetSubscriptionStatus())
	if err != nil {
		return nil, rpcerr.Invalid("subscription_status", err.Error())
	}
	if !store.ValidID(req.GetUserId()) {
		return nil, status.Error(codes.NotFound, "user not found")
	}
	old, err := s.store.GetUser(ctx, req.GetUserId())
	if err != nil {
		return nil, err
	}
	if old.SubscriptionActive != active {
		ev := audit.New(ctx, store.ActionSubscriptionChanged, "user", old.ID)
		ev.Credential, ev.UserIDs = store.CredentialAdmin, []string{old.ID}
		ev.Changes = map[string][2]any{"subscription_status": {statusName(old.SubscriptionActive), statusName(active)}}
		ctx = audit.Record(ctx, ev)
	}
	u, err := s.store.SetSubscription(ctx, req.GetUserId(), active)
	if err != nil {
		return nil, err
	}
	return &keygatev1.SetSubscriptionResponse{User: UserToProto(u)}, nil
}

func subscription(s keygatev1.SubscriptionStatus) (active bool, err error) {
	switch s {
	case keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE:
		return true, nil
	case keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_INACTIVE:
		return false, nil
	}
	return false, errors.New("must be SUBSCRIPTION_STATUS_ACTIVE or SUBSCRIPTION_STATUS_INACTIVE")
}

// UserToProto converts a stored user to its API form, without the hash.
func UserToProto(u store.User) *keygatev1.User {
	out := &keygatev1.User{
		Id:                 u.ID,
		Email:              u.Email,
		Name:               u.Name,
		SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_INACTIVE,
		CreatedAt:          timestamppb.New(u.CreatedAt),
	}
	if u.SubscriptionActive {
		out.SubscriptionStatus = keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
	}
	return out
}

// statusName is a subscription status as the REST API writes it.
func statusName(active bool) string {
	if active {
		return "active"
	}
	return "inactive"
}
