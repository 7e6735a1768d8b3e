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
	"net/netip"
	"strings"
	"time"

	"golang.org/x/time/rate"
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
	addrs       *ClientAddrs
	// Failure limits (limiter.go): failed lookups and admin attempts per
	// address group, failed sign-ins per address group and per account.
	failures        *failureLimiter[netip.Prefix]
	signInFailures  *failureLimiter[netip.Prefix]
	accountFailures *failureLimiter[[32]byte]
	known           *knownCredentials
	now             func() time.Time
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
	// lookups and admin attempts of one address group, and separately its
	// failed sign-ins (defaults: 10 per second, bursts of 50).
	FailuresPerSecond float64
	FailureBurst      int
	// AccountFailures bounds the failed sign-ins of one account, from any
	// address (default: bursts of 10, then one every 10 seconds).
	AccountFailures Limit
	// Addrs says where calls come from; nil: their TCP peers.
	Addrs *ClientAddrs
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
	if o.AccountFailures.PerSecond <= 0 {
		o.AccountFailures.PerSecond = 0.1
	}
	if o.AccountFailures.Burst <= 0 {
		o.AccountFailures.Burst = 10
	}
	if o.Keys == nil {
		o.Keys = NewKeyCache(CacheConfig{}, false) // never trusted: always bypassed
	}
	if o.Addrs == nil {
		o.Addrs = &ClientAddrs{}
	}
	perAddress := Limit{PerSecond: o.FailuresPerSecond, Burst: o.FailureBurst}
	i := &Interceptor{
		store: st, rules: rules, now: time.Now,
		keys: o.Keys, usage: o.Usage, addrs: o.Addrs,
		failures:        newFailureLimiter[netip.Prefix](perAddress),
		signInFailures:  newFailureLimiter[netip.Prefix](perAddress),
		accountFailures: newFailureLimiter[[32]byte](o.AccountFailures),
		known:           newKnownCredentials(),
	}
	if o.AdminToken != "" {
		d := sha256.Sum256([]byte(o.AdminToken))
		i.adminDigest = d[:]
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
	if !r.read {
		ctx = i.withRequest(ctx) // for the audit trail
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
	resp, err := handler(ctx, req)
	if err == nil {
		i.rememberIssued(resp)
	}
	return resp, err
}

// clientAddr returns the address a call comes from (see ClientAddrs):
// the one function that failure limits, allowed_ips and last_used_ip use.
func (i *Interceptor) clientAddr(ctx context.Context) netip.Addr { return i.addrs.ClientAddr(ctx) }

// Stream is the stream server interceptor. keygate has no streaming RPCs
// of its own; only health watches and reflection stream.
func (i *Interceptor) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if openMethod(info.FullMethod) {
		return handler(srv, ss)
	}
	return status.Error(codes.PermissionDenied, "method declares no auth rule")
}

// public runs a public RPC (SignIn): it needs no credential, but its
// failures are charged to the account and the address (see limiter.go),
// which bounds password guessing.
func (i *Interceptor) public(ctx context.Context, req any, handler grpc.UnaryHandler) (any, error) {
	now := i.now()
	account := accountOf(req.(interface {
		GetUser() *keygatev1.SignInRequest_Credentials
	}).GetUser().GetEmail())
	group := addrGroup(i.clientAddr(ctx))
	byAccount, ok := i.accountFailures.reserve(account, now)
	if !ok {
		return nil, tooManyAccountFailure
	}
	pair := knownSignIn(account, group)
	var byAddr *rate.Reservation
	if !i.known.has(pair, now) {
		if byAddr, ok = i.signInFailures.reserve(group, now); !ok {
			refund(byAccount, now)
			return nil, tooManySignInFailures
		}
	}
	resp, err := handler(ctx, req)
	if status.Code(err) == codes.Unauthenticated {
		return resp, err // a wrong password: both stay charged
	}
	refund(byAccount, now)
	refund(byAddr, now)
	if err == nil {
		i.known.add(pair, now)
		i.rememberIssued(resp)
	}
	return resp, err
}

// rememberIssued makes the credentials a response hands out (a new
// session or API key) known, so that their first use is not refused for
// their address's failures.
func (i *Interceptor) rememberIssued(resp any) {
	if m, ok := resp.(proto.Message); ok {
		for _, s := range Secrets(m) {
			i.known.add(knownSecret(digest(s)), i.now())
		}
	}
}

// authorize returns the principal of a request that carries at most one
// credential (keys or authz), nil for an admin call, or a gRPC status
// error.
func (i *Interceptor) authorize(ctx context.Context, r *rule, req proto.Message, keys, authz []string) (*Principal, error) {
	if r.allow[keygatev1.Credential_CREDENTIAL_ADMIN] {
		return nil, i.checkAdmin(ctx, authz)
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

// checkAdmin checks the admin token. Every attempt takes from its
// address's budget first, and the right token gives it back: a spent
// budget stops guesses before they are compared.
func (i *Interceptor) checkAdmin(ctx context.Context, authz []string) error {
	now := i.now()
	group := addrGroup(i.clientAddr(ctx))
	r, ok := i.failures.reserve(group, now)
	if !ok {
		return tooManyFailures
	}
	err := i.adminToken(authz)
	if err == nil {
		refund(r, now)
	}
	return err
}

func (i *Interceptor) adminToken(authz []string) error {
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
// (caching the answer, found or not), under the failure limit of its
// address (limiter.go). A cached key and user are returned as they are
// cached: the caller must not modify them.
func (i *Interceptor) lookupKey(ctx context.Context, secret string) (*store.APIKey, *store.User, error) {
	d := digest(secret)
	if e, hit := i.keys.entry(d); hit {
		if e == nil {
			return nil, nil, store.ErrNotFound
		}
		return &e.key, &e.user, nil
	}
	return i.lookupKeyInStore(ctx, d)
}

// lookupKeyInStore looks a key up in the store under the failure limit of
// its address (limiter.go), and caches the answer, found or not.
func (i *Interceptor) lookupKeyInStore(ctx context.Context, d [32]byte) (*store.APIKey, *store.User, error) {
	t, err := i.admitLookup(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	epoch := i.keys.currentEpoch()
	k, u, err := i.store.AuthenticateAPIKey(ctx, d[:])
	switch {
	case err == nil:
		i.keys.put(d, epoch, k, u)
	case errors.Is(err, store.ErrNotFound):
		i.keys.putNegative(d, epoch)
	}
	i.settleLookup(t, err)
	return &k, &u, err
}

// lookupTicket is a store lookup admitted by the failure limit.
type lookupTicket struct {
	d     [32]byte
	group netip.Prefix
	known bool
	r     *rate.Reservation
	now   time.Time
}

// admitLookup admits the store lookup of the credential with digest d: a
// known credential whatever its address's budget, any other only while
// there is budget (taking one unit of it until settleLookup).
func (i *Interceptor) admitLookup(ctx context.Context, d [32]byte) (lookupTicket, error) {
	t := lookupTicket{d: d, group: addrGroup(i.clientAddr(ctx)), now: i.now()}
	t.known = i.known.has(knownSecret(d), t.now)
	if !t.known {
		var ok bool
		if t.r, ok = i.failures.reserve(t.group, t.now); !ok {
			return t, tooManyFailures
		}
	}
	return t, nil
}

// settleLookup charges a lookup that found nothing (ErrNotFound) and no
// other: a found credential, or a store that failed, costs nothing.
func (i *Interceptor) settleLookup(t lookupTicket, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		if t.known {
			i.failures.charge(t.group, t.now)
		}
	case err == nil:
		refund(t.r, t.now)
		i.known.add(knownSecret(t.d), t.now)
	default:
		refund(t.r, t.now)
	}
}

func (i *Interceptor) sessionPrincipal(ctx context.Context, r *rule, authz string) (*Principal, error) {
	token, ok := bearer([]string{authz})
	if !ok || CheckSecret(SessionPrefix, token) != nil {
		return nil, unauthenticated("malformed session token: expected authorization: Bearer <token from sign_in>")
	}
	d := digest(token)
	t, err := i.admitLookup(ctx, d)
	if err != nil {
		return nil, err
	}
	s, err := i.store.GetSession(ctx, d[:])
	i.settleLookup(t, err)
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthenticated("unknown or ended session")
	}
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
	return &Principal{User: u, SessionDigest: d[:], SessionID: s.ID}, nil
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
