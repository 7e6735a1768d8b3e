// Package apikey implements ApiKeyService: the signed-in user's API keys.
// The interceptor has already established that the caller is a session.
package apikey

import (
	"context"
	"errors"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/audit"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/paging"
	"github.com/keygate/keygate/service/rpcerr"
	"github.com/keygate/keygate/service/store"
)

// Rolling: how long the old key keeps working, by default and at most.
const (
	defaultRollGrace = 24 * time.Hour
	maxRollGrace     = 7 * 24 * time.Hour
)

// Service implements keygatev1.ApiKeyServiceServer.
type Service struct {
	keygatev1.UnimplementedApiKeyServiceServer
	store store.Store
	now   func() time.Time
}

// New returns the service on st.
func New(st store.Store) *Service { return &Service{store: st, now: time.Now} }

func (s *Service) CreateApiKey(ctx context.Context, req *keygatev1.CreateApiKeyRequest) (*keygatev1.CreateApiKeyResponse, error) {
	p := auth.FromContext(ctx)
	if !p.User.SubscriptionActive {
		return nil, status.Error(codes.PermissionDenied, "creating an API key needs an active subscription")
	}
	now := s.now()
	k := store.APIKey{ID: store.NewID(), UserID: p.User.ID, CreatedAt: now.Truncate(store.Precision).UTC()}
	v := apply(&k, req.GetApiKey(), inputPaths, now)
	if err := s.checkProperties(ctx, &k, &v); err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	secret := auth.NewSecret(auth.APIKeyPrefix)
	k.Digest = auth.Digest(secret)
	ev := audit.New(ctx, store.ActionAPIKeyCreated, "api_key", k.ID)
	ev.Changes = changes(store.APIKey{}, k)
	if err := s.store.CreateAPIKey(audit.Record(ctx, ev), k); err != nil {
		if errors.Is(err, store.ErrNotFound) { // a property was deleted meanwhile
			return nil, rpcerr.Invalid("property_ids", "a property was not found")
		}
		return nil, err
	}
	created, err := s.store.GetAPIKey(ctx, p.User.ID, k.ID)
	if err != nil {
		return nil, err
	}
	out := ToProto(created, now)
	out.ApiKey = &secret
	return &keygatev1.CreateApiKeyResponse{ApiKey: out}, nil
}

// checkProperties adds a violation for every property of a chosen scope
// that the user cannot access now.
func (s *Service) checkProperties(ctx context.Context, k *store.APIKey, v *rpcerr.Violations) error {
	if k.AllProperties || v.Has("property_ids") {
		return nil
	}
	for _, id := range k.PropertyIDs {
		role, err := s.store.PropertyRole(ctx, k.UserID, id)
		if err != nil {
			return err
		}
		if role == "" {
			v.Add("property_ids", "property "+id+" not found")
		}
	}
	return nil
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
	now := s.now()
	out := &keygatev1.ListApiKeysResponse{ApiKeys: make([]*keygatev1.ApiKey, 0, len(keys)), Meta: pg.Meta(total)}
	for _, k := range keys {
		out.ApiKeys = append(out.ApiKeys, ToProto(k, now))
	}
	return out, nil
}

func (s *Service) GetApiKey(ctx context.Context, req *keygatev1.GetApiKeyRequest) (*keygatev1.GetApiKeyResponse, error) {
	k, err := s.get(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &keygatev1.GetApiKeyResponse{ApiKey: ToProto(k, s.now())}, nil
}

func (s *Service) get(ctx context.Context, id string) (store.APIKey, error) {
	if !store.ValidID(id) {
		return store.APIKey{}, status.Error(codes.NotFound, "API key not found")
	}
	return s.store.GetAPIKey(ctx, auth.FromContext(ctx).User.ID, id)
}

// RevokeApiKey works whatever the subscription, and on expired keys too:
// withdrawing a key must always be possible.
func (s *Service) RevokeApiKey(ctx context.Context, req *keygatev1.RevokeApiKeyRequest) (*keygatev1.RevokeApiKeyResponse, error) {
	if !store.ValidID(req.GetId()) {
		return nil, status.Error(codes.NotFound, "API key not found")
	}
	now := s.now()
	ev := audit.New(ctx, store.ActionAPIKeyRevoked, "api_key", req.GetId())
	ev.Changes = audit.Changes{"revoked_at": {nil, audit.Time(now.Truncate(store.Precision))}}
	k, err := s.store.RevokeAPIKey(audit.Record(ctx, ev), auth.FromContext(ctx).User.ID, req.GetId(), now)
	if err != nil {
		return nil, err
	}
	return &keygatev1.RevokeApiKeyResponse{ApiKey: ToProto(k, now)}, nil
}

// UpdateApiKey changes the attributes the mask names. Every rule is checked
// against the merged result. Narrowing needs no subscription (it must
// always be possible to make a key do less); widening does.
func (s *Service) UpdateApiKey(ctx context.Context, req *keygatev1.UpdateApiKeyRequest) (*keygatev1.UpdateApiKeyResponse, error) {
	paths, err := maskPaths(req)
	if err != nil {
		return nil, err
	}
	old, err := s.get(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := unchangeable(old, now); err != nil {
		return nil, err
	}
	k := old
	v := apply(&k, req.GetApiKey(), paths, now)
	if paths["all_properties"] || paths["property_ids"] {
		if err := s.checkProperties(ctx, &k, &v); err != nil {
			return nil, err
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !auth.FromContext(ctx).User.SubscriptionActive && widens(old, k) {
		return nil, status.Error(codes.PermissionDenied, "widening an API key needs an active subscription; narrowing it does not")
	}
	ev := audit.New(ctx, store.ActionAPIKeyUpdated, "api_key", k.ID)
	ev.Changes = changes(old, k)
	updated, err := s.store.UpdateAPIKey(audit.Record(ctx, ev), k, now)
	switch {
	case errors.Is(err, store.ErrKeyInactive):
		return nil, rpcerr.Invalid("status", "can't be changed: the key was withdrawn or expired meanwhile")
	case errors.Is(err, store.ErrNotFound) && !k.AllProperties:
		return nil, rpcerr.Invalid("property_ids", "a property was not found")
	case err != nil:
		return nil, err
	}
	return &keygatev1.UpdateApiKeyResponse{ApiKey: ToProto(updated, now)}, nil
}

// RollApiKey makes a successor of a key and lets the old one run out. It
// needs an active subscription: it creates a key.
func (s *Service) RollApiKey(ctx context.Context, req *keygatev1.RollApiKeyRequest) (*keygatev1.RollApiKeyResponse, error) {
	grace := defaultRollGrace
	if in := req.GetRoll(); in != nil && in.ExpiresInSeconds != nil {
		n := time.Duration(in.GetExpiresInSeconds()) * time.Second
		if n < 0 || n > maxRollGrace {
			return nil, rpcerr.Invalid("expires_in_seconds", "must be between 0 and 604800")
		}
		grace = n
	}
	p := auth.FromContext(ctx)
	old, err := s.get(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if !p.User.SubscriptionActive {
		return nil, status.Error(codes.PermissionDenied, "rolling an API key needs an active subscription")
	}
	now := s.now()
	if err := unchangeable(old, now); err != nil {
		return nil, err
	}
	if old.RolledTo != "" {
		return nil, rpcerr.Invalid("rolled_to", "is already set: roll the newer key "+old.RolledTo+" instead")
	}
	secret := auth.NewSecret(auth.APIKeyPrefix)
	next := store.APIKey{ID: store.NewID(), Digest: auth.Digest(secret), CreatedAt: now.Truncate(store.Precision).UTC()}
	ev := audit.New(ctx, store.ActionAPIKeyRolled, "api_key", old.ID)
	expires := now.Add(grace).Truncate(store.Precision)
	if !old.ExpiresAt.IsZero() && old.ExpiresAt.Before(expires) {
		expires = old.ExpiresAt
	}
	c := audit.Changes{"rolled_to": {nil, next.ID}}
	c.Add("expires_at", audit.Time(old.ExpiresAt), audit.Time(expires))
	ev.Changes = c
	k, err := s.store.RollAPIKey(audit.Record(ctx, ev), p.User.ID, old.ID, next, now.Add(grace), now)
	if errors.Is(err, store.ErrKeyInactive) {
		return nil, rpcerr.Invalid("status", "can't be rolled: the key was withdrawn, expired or rolled meanwhile")
	}
	if err != nil {
		return nil, err
	}
	out := ToProto(k, now)
	out.ApiKey = &secret
	return &keygatev1.RollApiKeyResponse{ApiKey: out}, nil
}

// unchangeable refuses changes to a withdrawn or expired key.
func unchangeable(k store.APIKey, now time.Time) error {
	switch {
	case k.Revoked():
		return rpcerr.Invalid("status", "is revoked: a withdrawn key can't be changed")
	case k.Expired(now):
		return rpcerr.Invalid("status", "is expired: an expired key can't be changed")
	}
	return nil
}

// Access values on the API.
const (
	accessReadWrite = "read_write"
	accessReadOnly  = "read_only"
)

// ToProto converts a stored key to its API form as of now, never with the
// secret.
func ToProto(k store.APIKey, now time.Time) *keygatev1.ApiKey {
	out := &keygatev1.ApiKey{
		Id:            k.ID,
		Name:          k.Name,
		AllProperties: k.AllProperties,
		PropertyIds:   k.PropertyIDs,
		Status:        keygatev1.ApiKeyStatus_API_KEY_STATUS_ACTIVE,
		CreatedAt:     timestamp(k.CreatedAt),
		RevokedAt:     timestamp(k.RevokedAt),
		LastUsedAt:    timestamp(k.LastUsedAt),
		ExpiresAt:     timestamp(k.ExpiresAt),
		Access:        accessReadWrite,
		AllowedIps:    make([]string, len(k.AllowedIPs)),
		RolledFrom:    optionalString(k.RolledFrom),
		RolledTo:      optionalString(k.RolledTo),
	}
	switch {
	case k.Revoked():
		out.Status = keygatev1.ApiKeyStatus_API_KEY_STATUS_REVOKED
	case k.Expired(now):
		out.Status = keygatev1.ApiKeyStatus_API_KEY_STATUS_EXPIRED
	}
	if k.ReadOnly {
		out.Access = accessReadOnly
	}
	for i, p := range k.AllowedIPs {
		out.AllowedIps[i] = p.String()
	}
	if k.LastUsedIP.IsValid() {
		out.LastUsedIp = wrapperspb.String(k.LastUsedIP.String())
	}
	return out
}

func optionalString(s string) *wrapperspb.StringValue {
	if s == "" {
		return nil
	}
	return wrapperspb.String(s)
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// changes lists the attributes of a key that differ between old and new,
// as the REST API writes them (a new key is a change from nothing). The
// secret and its digest are never among them.
func changes(old, new store.APIKey) audit.Changes {
	c := audit.Changes{}
	for name, pair := range map[string][2]any{
		"name":           {audit.Nullable(old.Name), audit.Nullable(new.Name)},
		"all_properties": {old.AllProperties, new.AllProperties},
		"property_ids":   {scopeValue(old), scopeValue(new)},
		"access":         {accessValue(old), accessValue(new)},
		"allowed_ips":    {ipsValue(old), ipsValue(new)},
		"expires_at":     {audit.Time(old.ExpiresAt), audit.Time(new.ExpiresAt)},
	} {
		if old.ID == "" {
			c.Add(name, nil, pair[1]) // a new key: every attribute set, from nothing
		} else {
			c.Add(name, pair[0], pair[1])
		}
	}
	return c
}

func scopeValue(k store.APIKey) any {
	if k.ID == "" || k.AllProperties {
		return nil
	}
	ids := slices.Clone(k.PropertyIDs)
	slices.Sort(ids)
	return slices.Compact(ids)
}

func accessValue(k store.APIKey) any {
	switch {
	case k.ID == "":
		return nil
	case k.ReadOnly:
		return accessReadOnly
	}
	return accessReadWrite
}

func ipsValue(k store.APIKey) any {
	if len(k.AllowedIPs) == 0 {
		return nil
	}
	out := make([]string, len(k.AllowedIPs))
	for i, p := range k.AllowedIPs {
		out[i] = p.Masked().String()
	}
	return out
}
