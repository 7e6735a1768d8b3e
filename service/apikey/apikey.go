// Package apikey implements ApiKeyService: the signed-in user's API keys.
// The interceptor has already established that the caller is a session.
package apikey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/paging"
	"github.com/keygate/keygate/service/rpcerr"
	"github.com/keygate/keygate/service/store"
)

const (
	maxNameLen = 255
	// maxScope bounds how many properties one key may name.
	maxScope = 1000
)

// Service implements keygatev1.ApiKeyServiceServer.
type Service struct {
	keygatev1.UnimplementedApiKeyServiceServer
	store store.Store
}

// New returns the service on st.
func New(st store.Store) *Service { return &Service{store: st} }

func (s *Service) CreateApiKey(ctx context.Context, req *keygatev1.CreateApiKeyRequest) (*keygatev1.CreateApiKeyResponse, error) {
	p := auth.FromContext(ctx)
	if !p.User.SubscriptionActive {
		return nil, status.Error(codes.PermissionDenied, "creating an API key needs an active subscription")
	}
	in := req.GetApiKey()
	var v rpcerr.Violations
	name := strings.TrimSpace(in.GetName())
	switch {
	case name == "":
		v.Add("name", "can't be blank")
	case utf8.RuneCountInString(name) > maxNameLen:
		v.Add("name", fmt.Sprintf("is too long (maximum is %d characters)", maxNameLen))
	}
	ids := in.GetPropertyIds()
	switch {
	case in.GetAllProperties() && len(ids) > 0:
		v.Add("property_ids", "must be empty when all_properties is true")
	case !in.GetAllProperties() && len(ids) == 0:
		v.Add("property_ids", "can't be empty unless all_properties is true")
	case len(ids) > maxScope:
		v.Add("property_ids", fmt.Sprintf("is too long (maximum is %d properties)", maxScope))
	default:
		for n, id := range ids {
			if !store.ValidID(id) {
				v.Add("property_ids", fmt.Sprintf("item %d is not a property id", n+1))
				continue
			}
			role, err := s.store.PropertyRole(ctx, p.User.ID, id)
			if err != nil {
				return nil, err
			}
			if role == "" {
				v.Add("property_ids", fmt.Sprintf("property %s not found", id))
			}
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	secret := auth.NewSecret(auth.APIKeyPrefix)
	k := store.APIKey{
		ID:            store.NewID(),
		UserID:        p.User.ID,
		Name:          name,
		Digest:        auth.Digest(secret),
		AllProperties: in.GetAllProperties(),
		PropertyIDs:   ids,
		CreatedAt:     time.Now().Truncate(store.Precision).UTC(),
	}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		if errors.Is(err, store.ErrNotFound) { // a property was deleted meanwhile
			return nil, rpcerr.Invalid("property_ids", "a property was not found")
		}
		return nil, err
	}
	created, err := s.store.GetAPIKey(ctx, p.User.ID, k.ID)
	if err != nil {
		return nil, err
	}
	out := ToProto(created)
	out.ApiKey = &secret
	return &keygatev1.CreateApiKeyResponse{ApiKey: out}, nil
}

func (s *Service) ListApiKeys(ctx context.Context, req *keygatev1.ListApiKeysRequest) (*keygatev1.ListApiKeysResponse, error) {
	pg, err := paging.Parse(req.GetPagination())
	if err != nil {
		return nil, err
	}
	keys, total, err := s.store.ListAPIKeys(ctx, auth.FromContext(ctx).User.ID, pg.Offset(), pg.Limit)
	if err != nil {
		return nil, err
	}
	out := &keygatev1.ListApiKeysResponse{ApiKeys: make([]*keygatev1.ApiKey, 0, len(keys)), Meta: pg.Meta(total)}
	for _, k := range keys {
		out.ApiKeys = append(out.ApiKeys, ToProto(k))
	}
	return out, nil
}

func (s *Service) GetApiKey(ctx context.Context, req *keygatev1.GetApiKeyRequest) (*keygatev1.GetApiKeyResponse, error) {
	if !store.ValidID(req.GetId()) {
		return nil, status.Error(codes.NotFound, "API key not found")
	}
	k, err := s.store.GetAPIKey(ctx, auth.FromContext(ctx).User.ID, req.GetId())
	if err != nil {
		return nil, err
	}
	return &keygatev1.GetApiKeyResponse{ApiKey: ToProto(k)}, nil
}

// RevokeApiKey works whatever the subscription: withdrawing a key must
// always be possible.
func (s *Service) RevokeApiKey(ctx context.Context, req *keygatev1.RevokeApiKeyRequest) (*keygatev1.RevokeApiKeyResponse, error) {
	if !store.ValidID(req.GetId()) {
		return nil, status.Error(codes.NotFound, "API key not found")
	}
	k, err := s.store.RevokeAPIKey(ctx, auth.FromContext(ctx).User.ID, req.GetId(), time.Now())
	if err != nil {
		return nil, err
	}
	return &keygatev1.RevokeApiKeyResponse{ApiKey: ToProto(k)}, nil
}

// ToProto converts a stored key to its API form, never with the secret.
func ToProto(k store.APIKey) *keygatev1.ApiKey {
	out := &keygatev1.ApiKey{
		Id:            k.ID,
		Name:          k.Name,
		AllProperties: k.AllProperties,
		PropertyIds:   k.PropertyIDs,
		Status:        keygatev1.ApiKeyStatus_API_KEY_STATUS_ACTIVE,
		CreatedAt:     timestamp(k.CreatedAt),
		RevokedAt:     timestamp(k.RevokedAt),
		LastUsedAt:    timestamp(k.LastUsedAt),
	}
	if k.Revoked() {
		out.Status = keygatev1.ApiKeyStatus_API_KEY_STATUS_REVOKED
	}
	return out
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
