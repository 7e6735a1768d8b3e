package auth

import (
	"net/netip"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/service/store"
)

// facts are what key policy needs to know about a request besides the key
// and its user. The interceptor gathers them; checkKey only decides.
type facts struct {
	now  time.Time
	addr netip.Addr // the client address; the zero Addr when unknown
	rule *rule      // the called method's declaration
	// propertyID is the property the request names ("" if the method
	// names none), and role the user's role on it ("" for no access).
	propertyID string
	role       store.Role
}

// checkKey is the whole policy of API keys: whether key, used by user,
// may make a request with these facts. It returns nil or the gRPC status
// error to answer with. It is a pure function: everything it decides on
// is in its arguments, so the same key gives the same answer whether it
// came from the cache or the store, and the table tests cover every rule.
//
// The order matters: a dead key (withdrawn, expired) is refused as such,
// whatever else is wrong; a call from outside the key's networks learns
// nothing more about the key; then the method's declaration, the user's
// subscription, the key's access and its scope.
func checkKey(k *store.APIKey, u *store.User, f *facts) error {
	switch {
	case k.Revoked():
		return errRevoked
	case k.Expired(f.now):
		return status.Error(codes.Unauthenticated, "this API key expired at "+k.ExpiresAt.UTC().Format(time.RFC3339))
	case !addressAllowed(k.AllowedIPs, f.addr):
		// The key stays valid: it is merely used from the wrong place.
		return errAddress
	case !f.rule.apiKeys:
		return errKeysNotAllowed
	case !u.SubscriptionActive:
		return errSubscription
	case k.ReadOnly && !f.rule.read:
		return errReadOnly
	case f.rule.needsAllProperties && !k.AllProperties:
		return errNeedsAllProperties
	}
	if f.rule.propertyField == nil {
		return nil
	}
	// A property the user cannot access is NOT_FOUND, exactly like a
	// missing one, so that ids of other users' properties cannot be
	// probed; one the user can access but the key does not reach is
	// PERMISSION_DENIED.
	if f.role == "" {
		return errPropertyNotFound
	}
	if !k.AllProperties && !slices.Contains(k.PropertyIDs, f.propertyID) {
		return errNotScoped
	}
	return nil
}

// addressAllowed reports whether addr is in one of the networks; no
// networks means anywhere. An unknown address is in none.
func addressAllowed(networks []netip.Prefix, addr netip.Addr) bool {
	if len(networks) == 0 {
		return true
	}
	for _, n := range networks {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// The refusals of checkKey that carry no detail of their own, made once.
var (
	errRevoked            = status.Error(codes.Unauthenticated, "this API key has been revoked")
	errAddress            = status.Error(codes.PermissionDenied, "this API key is not allowed from this address")
	errKeysNotAllowed     = status.Error(codes.PermissionDenied, "API keys cannot call this method: sign in to manage API keys")
	errSubscription       = status.Error(codes.PermissionDenied, "the subscription of this key's user is not active")
	errReadOnly           = status.Error(codes.PermissionDenied, "this API key is read-only")
	errNeedsAllProperties = status.Error(codes.PermissionDenied, "this API key is limited to chosen properties and cannot do this")
	errPropertyNotFound   = status.Error(codes.NotFound, "property not found")
	errNotScoped          = status.Error(codes.PermissionDenied, "this API key is not scoped to this property")
)
