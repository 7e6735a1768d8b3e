// Package auth holds everything about credentials: the format and digests
// of API keys and session tokens, password hashing, the principal a request
// acts for, and the one interceptor that authenticates and authorizes every
// RPC, for gRPC callers and for the REST gateway alike.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/store"
)

// APIKeyHeader is the metadata key (and HTTP header) that carries API keys.
const APIKeyHeader = "user-api-key"

// Interceptor authenticates the caller of every RPC against the rule its
// method declares in the proto, and rejects it unless the rule allows it.
// Methods without a rule are denied.
type Interceptor struct {
	store store.Store
	rules map[string]*rule
	// adminDigest is the SHA-256 of the admin token; comparing digests in
	// constant time hides the token's length as well as its content.
	adminDigest []byte
	keys        *KeyCache
	usage       *Usage
	failures    *failureLimiter
	gateway     []byte // SHA-256 of Options.GatewayToken; nil: none
	now         func() time.Time
}

// Options configures an Interceptor.
type Options struct {
	// AdminToken is the bearer token of AdminService; empty disables it.
	AdminToken string
	// Keys caches verified keys; nil caches nothing.
	Keys *KeyCache
	// Usage records key use for last_used_at; nil records nothing.
	Usage *Usage
	// FailuresPerSecond and FailureBurst bound the failed credential
	// lookups one source may cause (defaults: 10 per second, bursts of 50).
	FailuresPerSecond float64
	FailureBurst      int
	// GatewayToken authenticates the REST gateway of this process: calls
	// that carry it in GatewayTokenHeader are attributed to the client
	// address in GatewayClientHeader instead of the gateway's own.
	GatewayToken string
}

// NewInterceptor reads the auth rules from the compiled-in descriptors.
func NewInterceptor(st store.Store, o Options) (*Interceptor, error) {
	rules, err := loadRules()
	if err != nil {
		return nil, err
	}
	if o.FailuresPerSecond <= 0 {
		o.FailuresPerSecond = 10
	}
	if o.FailureBurst <= 0 {
		o.FailureBurst = 50
	}
	if o.Keys == nil {
		o.Keys = NewKeyCache(CacheConfig{}, false) // never trusted: always bypassed
	}
	i := &Interceptor{
		store: st, rules: rules, now: time.Now,
		keys: o.Keys, usage: o.Usage, failures: newFailureLimiter(o.FailuresPerSecond, o.FailureBurst),
	}
	if o.AdminToken != "" {
		d := sha256.Sum256([]byte(o.AdminToken))
		i.adminDigest = d[:]
	}
	if o.GatewayToken != "" {
		d := sha256.Sum256([]byte(o.GatewayToken))
		i.gateway = d[:]
	}
	return i, nil
}

// openMethods are served without credentials: infrastructure that tools
// and load balancers call. They carry no user data.
func openMethod(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.v1.ServerReflection/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.v1alpha.ServerReflection/")
}

// Unary is the unary server interceptor.
func (i *Interceptor) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if openMethod(info.FullMethod) {
		return handler(ctx, req)
	}
	r, ok := i.rules[info.FullMethod]
	if !ok {
		return nil, status.Error(codes.PermissionDenied, "method declares no auth rule")
	}
	msg, ok := req.(proto.Message)
	if !ok {
		return nil, status.Error(codes.Internal, "request is not a protobuf message")
	}
	// Two lookups rather than FromIncomingContext, which copies every entry.
	keys := metadata.ValueFromIncomingContext(ctx, APIKeyHeader)
	authz := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(keys) > 0 && len(authz) > 0 {
		return nil, unauthenticated("send either a user-api-key or an authorization header, not both")
	}
	if len(keys) > 1 || len(authz) > 1 {
		return nil, unauthenticated("send one credential only")
	}
	if r.allow[keygatev1.Credential_CREDENTIAL_PUBLIC] {
		return i.public(ctx, req, handler)
	}
	p, err := i.authorize(ctx, r, msg, keys, authz)
	if err != nil {
		return nil, err
	}
	if p != nil {
		ctx = WithPrincipal(ctx, p)
	}
	return handler(ctx, req)
}

// Stream is the stream server interceptor. keygate has no streaming RPCs
// of its own; only health watches and reflection stream.
func (i *Interceptor) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if openMethod(info.FullMethod) {
		return handler(srv, ss)
	}
	return status.Error(codes.PermissionDenied, "method declares no auth rule")
}

// public runs a public RPC (SignIn): it needs no credential, but its
// failures count against the caller's budget like failed lookups do, which
// bounds password guessing per address.
func (i *Interceptor) public(ctx context.Context, req any, handler grpc.UnaryHandler) (any, error) {
	src := i.source(ctx)
	if !i.failures.take(src) {
		return nil, tooManyFailures
	}
	resp, err := handler(ctx, req)
	if status.Code(err) != codes.Unauthenticated {
		i.failures.refund(src)
	}
	return resp, err
}

// authorize returns the principal of a request that carries at most one
// credential (keys or authz), nil for an admin call, or a gRPC status
// error.
func (i *Interceptor) authorize(ctx context.Context, r *rule, req proto.Message, keys, authz []string) (*Principal, error) {
	if r.allow[keygatev1.Credential_CREDENTIAL_ADMIN] {
		return nil, i.checkAdmin(authz)
	}
	switch {
	case len(keys) == 1:
		return i.apiKeyPrincipal(ctx, r, req, keys[0])
	case len(authz) == 1:
		p, err := i.sessionPrincipal(ctx, r, authz[0])
		if err != nil {
			return nil, err
		}
		if r.propertyField != nil {
			// A property the user cannot access is NOT_FOUND, exactly
			// like a missing one.
			role, err := i.propertyRole(ctx, p.User.ID, r.propertyID(req.ProtoReflect()))
			if err != nil {
				return nil, err
			}
			if role == "" {
				return nil, errPropertyNotFound
			}
		}
		return p, nil
	}
	return nil, unauthenticated("no credential: send an API key in the user-api-key header, or a session token as authorization: Bearer <token>")
}

func (i *Interceptor) checkAdmin(authz []string) error {
	if i.adminDigest == nil {
		return unauthenticated("AdminService is disabled: the server has no admin token")
	}
	token, ok := bearer(authz)
	if !ok {
		return unauthenticated("AdminService needs authorization: Bearer <admin token>")
	}
	d := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(d[:], i.adminDigest) != 1 {
		return unauthenticated("wrong admin token")
	}
	return nil
}

// apiKeyPrincipal verifies an API key and decides, with checkKey, whether
// it may make this request.
func (i *Interceptor) apiKeyPrincipal(ctx context.Context, r *rule, req proto.Message, key string) (*Principal, error) {
	// The format check needs no store, so made-up keys cost nothing.
	if CheckSecret(APIKeyPrefix, key) != nil {
		return nil, unauthenticated("malformed API key")
	}
	k, u, err := i.lookupKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthenticated("unknown API key")
	}
	if err != nil {
		return nil, err
	}
	f := facts{now: i.now(), addr: i.clientAddr(ctx), rule: r}
	// A dead key is refused whatever the property: no lookup for it.
	if r.propertyField != nil && k.Active(f.now) {
		f.propertyID = r.propertyID(req.ProtoReflect())
		if f.role, err = i.propertyRole(ctx, u.ID, f.propertyID); err != nil {
			return nil, err
		}
	}
	if err := checkKey(k, u, &f); err != nil {
		return nil, err
	}
	if i.usage != nil {
		i.usage.record(k.ID, f.now, f.addr)
	}
	return newKeyPrincipal(k, u), nil
}

// lookupKey finds a well-formed key in the cache, or else in the store
// (caching the answer, found or not). Sources whose lookups keep failing
// are refused before they reach the store. A cached key and user are
// returned as they are cached: the caller must not modify them.
func (i *Interceptor) lookupKey(ctx context.Context, secret string) (*store.APIKey, *store.User, error) {
	d := digest(secret)
	if e, hit := i.keys.entry(d); hit {
		if e == nil {
			return nil, nil, store.ErrNotFound
		}
		return &e.key, &e.user, nil
	}
	src := i.source(ctx)
	if !i.failures.take(src) {
		return nil, nil, tooManyFailures
	}
	epoch := i.keys.currentEpoch()
	// A copy, so that d itself stays on the stack on the cache-hit path.
	k, u, err := i.store.AuthenticateAPIKey(ctx, slices.Clone(d[:]))
	switch {
	case err == nil:
		i.keys.put(d, epoch, k, u)
		i.failures.refund(src)
	case errors.Is(err, store.ErrNotFound):
		i.keys.putNegative(d, epoch)
	default:
		i.failures.refund(src) // the store failed, not the caller
	}
	return &k, &u, err
}

var tooManyFailures = status.Error(codes.ResourceExhausted, "too many failed authentications from this address; slow down")

func (i *Interceptor) sessionPrincipal(ctx context.Context, r *rule, authz string) (*Principal, error) {
	token, ok := bearer([]string{authz})
	if !ok || CheckSecret(SessionPrefix, token) != nil {
		return nil, unauthenticated("malformed session token: expected authorization: Bearer <token from sign_in>")
	}
	src := i.source(ctx)
	if !i.failures.take(src) {
		return nil, tooManyFailures
	}
	digest := Digest(token)
	s, err := i.store.GetSession(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthenticated("unknown or ended session")
	}
	i.failures.refund(src)
	if err != nil {
		return nil, err
	}
	if !i.now().Before(s.ExpiresAt) {
		return nil, unauthenticated("session expired: sign in again")
	}
	if !r.allow[keygatev1.Credential_CREDENTIAL_SESSION] {
		return nil, status.Error(codes.PermissionDenied, "sessions cannot call this method")
	}
	u, err := i.store.GetUser(ctx, s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthenticated("unknown or ended session")
	}
	if err != nil {
		return nil, err
	}
	return &Principal{User: u, SessionDigest: digest}, nil
}

// propertyRole finds a user's role on a property in the cache, or else in
// the store (caching the answer, access or none). An id keygate never
// issues is no property: no access.
func (i *Interceptor) propertyRole(ctx context.Context, userID, propertyID string) (store.Role, error) {
	if !store.ValidID(propertyID) {
		return "", nil
	}
	if role, ok := i.keys.role(userID, propertyID); ok {
		return role, nil
	}
	epoch := i.keys.currentEpoch()
	role, err := i.store.PropertyRole(ctx, userID, propertyID)
	if err == nil {
		i.keys.putRole(userID, propertyID, epoch, role)
	}
	return role, err
}

// bearer extracts the token of a single "Bearer <token>" value.
func bearer(authz []string) (string, bool) {
	if len(authz) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(authz[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
		return "", false
	}
	return token, true
}

func unauthenticated(msg string) error { return status.Error(codes.Unauthenticated, msg) }
